//! Deleting a set: waiting for network interfaces, and the Retain policy.

use std::time::Duration;

use serde_json::json;

use crate::support::aws::attach_interface;
use crate::support::controller::Controller;
use crate::support::fixture::{Fixture, condition, group_id};
use crate::support::poll_async;
use crate::support::sg::solo_spec;

#[tokio::test]
async fn deletion_waits_for_network_interfaces_then_completes() {
    let f = Fixture::new("delete").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    f.apply(&f.set("busy", solo_spec())).await;
    let ready = f.wait_ready("busy").await;
    let id = group_id(&ready, "solo");
    let eni = attach_interface(&f.ec2, &f.vpc_id, "10.0.1.0/24", &id).await;

    f.sets.delete("busy", &Default::default()).await.unwrap();
    let blocked = f
        .wait_for("busy", "deletion blocked", |s| {
            condition(s, "Ready").is_some_and(|c| c.1 == "DeletionBlocked")
        })
        .await;
    let (_, _, message) = condition(&blocked, "Ready").unwrap();
    assert!(
        message.contains(&format!("{eni} (\"e2e workload\"")),
        "status names the interface and its description: {message}"
    );
    assert!(
        f.parameter("/sg/busy/solo/SecurityGroupId").await.is_some(),
        "parameters stay while the group does"
    );

    f.ec2
        .delete_network_interface()
        .network_interface_id(&eni)
        .send()
        .await
        .unwrap();
    poll_async(Duration::from_secs(90), "the set to be gone", || async {
        matches!(f.sets.get_opt("busy").await, Ok(None)).then_some(())
    })
    .await;
    assert_eq!(f.group_count("busy").await, 0);
    assert_eq!(f.parameter("/sg/busy/solo/SecurityGroupId").await, None);
}

#[tokio::test]
async fn retain_leaves_aws_as_it_is() {
    let f = Fixture::new("retain").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    let mut spec = solo_spec();
    spec["deletionPolicy"] = json!("Retain");
    f.apply(&f.set("kept", spec)).await;
    let ready = f.wait_ready("kept").await;
    f.delete_and_wait_gone("kept").await;
    assert_eq!(f.group_count("kept").await, 1);
    assert_eq!(
        f.parameter("/sg/kept/solo/SecurityGroupId").await,
        Some(group_id(&ready, "solo"))
    );
}
