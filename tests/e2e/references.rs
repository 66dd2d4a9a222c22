//! References to another set's tiers (`setRef`).

use serde_json::json;

use crate::support::controller::Controller;
use crate::support::fixture::{Fixture, condition, group_id};
use crate::support::sg::{r, rules};

#[tokio::test]
async fn set_ref_waits_for_the_other_set_then_resolves() {
    let f = Fixture::new("setref").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    f.apply(&f.set("consumer", json!({"tiers": [{"name": "app", "ingress": [{"protocol": "tcp", "ports": 9000, "from": [{"setRef": {"name": "shared", "tier": "lb"}}]}]}]}))).await;
    let waiting = f
        .wait_for("consumer", "waiting", |s| {
            condition(s, "Reconciling").is_some_and(|c| c.0 == "True" && c.1 == "WaitingForSetRef")
        })
        .await;
    assert!(
        condition(&waiting, "Reconciling").unwrap().2.contains("shared"),
        "the reason names the other set"
    );

    f.apply(&f.set("shared", json!({"tiers": [{"name": "lb", "ingress": [{"protocol": "tcp", "ports": 443, "from": [{"cidr": "10.0.0.0/8"}]}]}]}))).await;
    let shared = f.wait_ready("shared").await;
    f.wait_ready("consumer").await;
    let app = f.groups("consumer").await.remove("app").unwrap();
    assert_eq!(
        rules(app.ip_permissions()),
        vec![r("tcp", 9000, &group_id(&shared, "lb"), "")]
    );
}

#[tokio::test]
async fn a_reference_that_stops_resolving_keeps_the_rule_already_there() {
    let f = Fixture::new("setref-gone").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "2s"]);
    let shared = json!({"deletionPolicy": "Retain", "tiers": [{"name": "lb", "ingress": [{"protocol": "tcp", "ports": 443, "from": [{"cidr": "10.0.0.0/8"}]}]}]});
    f.apply(&f.set("provider", shared)).await;
    let lb = group_id(&f.wait_ready("provider").await, "lb");
    f.apply(&f.set("downstream", json!({"tiers": [{"name": "app", "ingress": [{"protocol": "tcp", "ports": 9000, "from": [{"setRef": {"name": "provider", "tier": "lb"}}]}]}]}))).await;
    f.wait_ready("downstream").await;
    let want = vec![r("tcp", 9000, &lb, "")];

    // The other set goes away (to be recreated, say): its group stays, its status is gone.
    f.delete_and_wait_gone("provider").await;
    f.wait_for("downstream", "waiting", |s| {
        condition(s, "Reconciling").is_some_and(|c| c.0 == "True" && c.1 == "WaitingForSetRef")
    })
    .await;
    let app = f.groups("downstream").await.remove("app").unwrap();
    assert_eq!(
        rules(app.ip_permissions()),
        want,
        "the rule that allowed the traffic stays"
    );
}
