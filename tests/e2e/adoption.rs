//! A group the controller does not own is left alone until the user adopts it.

use kube::api::{Patch, PatchParams};
use serde_json::json;

use crate::support::controller::Controller;
use crate::support::fixture::{Fixture, condition, group_id};
use crate::support::sg::{r, rules, solo_spec, tags};

#[tokio::test]
async fn a_foreign_group_with_the_same_name_is_untouched_until_adopted() {
    let f = Fixture::new("foreign").await;
    let foreign = f
        .ec2
        .create_security_group()
        .vpc_id(&f.vpc_id)
        .group_name("mine-solo")
        .description("somebody else")
        .send()
        .await
        .unwrap()
        .group_id
        .unwrap();
    let before = f
        .ec2
        .describe_security_groups()
        .group_ids(&foreign)
        .send()
        .await
        .unwrap()
        .security_groups()[0]
        .clone();
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    f.apply(&f.set("mine", solo_spec())).await;
    let stalled = f
        .wait_for("mine", "Stalled", |s| {
            condition(s, "Stalled").is_some_and(|c| c.0 == "True")
        })
        .await;
    let (_, reason, message) = condition(&stalled, "Stalled").unwrap();
    assert_eq!(reason, "GroupNotOwned");
    assert!(
        message.contains(&foreign) && message.contains("sgprovisioner.io/adopt-solo"),
        "{message}"
    );
    let after = f
        .ec2
        .describe_security_groups()
        .group_ids(&foreign)
        .send()
        .await
        .unwrap()
        .security_groups()[0]
        .clone();
    assert_eq!(after, before, "the foreign group is not modified");

    // The user adopts it explicitly.
    let patch = json!({"metadata": {"annotations": {"sgprovisioner.io/adopt-solo": foreign}}});
    f.sets
        .patch("mine", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    // The controller watches every change, annotations included: no spec change is needed.
    let ready = f.wait_ready("mine").await;
    assert_eq!(group_id(&ready, "solo"), foreign);
    let adopted = f.groups("mine").await.remove("solo").unwrap();
    assert_eq!(tags(&adopted)["sgprovisioner.io/owner"], format!("{}/mine", f.ns));
    assert_eq!(
        rules(adopted.ip_permissions()),
        vec![r("tcp", 443, "10.1.0.0/16", "https")]
    );
}
