//! The ObserveOnly management policy: a plan in the status, no AWS writes.

use serde_json::json;

use crate::support::controller::Controller;
use crate::support::fixture::{Fixture, condition, current};
use crate::support::sg::solo_spec;

#[tokio::test]
async fn observe_only_writes_nothing_and_reports_the_plan() {
    let f = Fixture::new("observe").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    let mut spec = solo_spec();
    spec["managementPolicy"] = json!("ObserveOnly");
    f.apply(&f.set("watcher", spec)).await;
    let observed = f
        .wait_for("watcher", "a plan", |s| {
            current(s) && s.status.as_ref().is_some_and(|st| !st.plan.is_empty())
        })
        .await;
    let plan = &observed.status.as_ref().unwrap().plan;
    assert!(
        plan.iter().any(|p| p.contains("create group watcher-solo")),
        "{plan:?}"
    );
    assert!(
        plan.iter()
            .any(|p| p.contains("parameter /sg/watcher/solo/SecurityGroupId")),
        "{plan:?}"
    );
    assert_eq!(condition(&observed, "Ready").unwrap().1, "ObserveOnly");
    assert_eq!(f.writes().await, 0);
}

#[tokio::test]
async fn deleting_an_observe_only_set_leaves_aws_as_it_is() {
    let f = Fixture::new("observe-del").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    f.apply(&f.set("handover", solo_spec())).await;
    f.wait_ready("handover").await;
    // Handed over to be watched only, then deleted: like Retain, nothing is torn down.
    let mut spec = solo_spec();
    spec["managementPolicy"] = json!("ObserveOnly");
    f.apply(&f.set("handover", spec)).await;
    f.wait_for("handover", "observed", |s| {
        current(s) && condition(s, "Ready").is_some_and(|c| c.1 == "ObserveOnly")
    })
    .await;
    let writes = f.writes().await;
    f.delete_and_wait_gone("handover").await;
    assert_eq!(f.writes().await, writes, "no write on delete");
    assert_eq!(f.group_count("handover").await, 1);
    assert!(f.parameter("/sg/handover/solo/SecurityGroupId").await.is_some());
}

#[tokio::test]
async fn managing_a_set_again_clears_the_plan_from_status() {
    let f = Fixture::new("observe-clear").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    let mut spec = solo_spec();
    spec["managementPolicy"] = json!("ObserveOnly");
    f.apply(&f.set("planned", spec)).await;
    f.wait_for("planned", "a plan", |s| {
        current(s) && s.status.as_ref().is_some_and(|st| !st.plan.is_empty())
    })
    .await;
    f.apply(&f.set("planned", solo_spec())).await;
    let ready = f.wait_ready("planned").await;
    assert_eq!(
        ready.status.unwrap().plan,
        Vec::<String>::new(),
        "no stale plan survives"
    );
}
