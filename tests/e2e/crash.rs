//! Crash recovery: a controller killed mid-reconcile finds its groups by tag on restart.

use std::time::Duration;

use serde_json::json;

use crate::support::controller::Controller;
use crate::support::fixture::{Fixture, group_id};
use crate::support::poll_async;

#[tokio::test]
async fn kill_9_between_create_and_status_write_leaves_one_group_per_tier() {
    let f = Fixture::new("crash").await;
    // Hold the controller inside its first authorize: after CreateSecurityGroup, before status.
    f.emulator
        .configure(json!({"faults": {"rate": 1.0, "seed": 1, "kinds": ["slow"], "slow_seconds": 30, "operations": ["AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress"]}}))
        .await;
    let mut controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    f.apply(&f.set(
        "crashy",
        json!({"tiers": [
            {"name": "a", "ingress": [{"protocol": "tcp", "ports": 443, "from": [{"tier": "b"}]}]},
            {"name": "b", "ingress": [{"protocol": "tcp", "ports": 80, "from": [{"cidr": "10.0.0.0/8"}]}]},
        ]}),
    ))
    .await;
    poll_async(Duration::from_secs(30), "both groups created", || async {
        (f.count("ec2", "CreateSecurityGroup").await >= 2).then_some(())
    })
    .await;
    controller.kill9();
    let set = f.sets.get("crashy").await.unwrap();
    assert!(
        set.status
            .as_ref()
            .is_none_or(|s| s.tiers.iter().all(|t| t.security_group_id.is_none())),
        "killed before the status write"
    );

    f.emulator.clear().await;
    controller.restart();
    let ready = f.wait_ready("crashy").await;
    assert_eq!(f.group_count("crashy").await, 2, "no duplicate, no leak");
    assert_eq!(
        f.count("ec2", "CreateSecurityGroup").await,
        2,
        "the restart found the groups by tag"
    );
    for tier in ["a", "b"] {
        assert_eq!(
            f.parameter(&format!("/sg/crashy/{tier}/SecurityGroupId")).await,
            Some(group_id(&ready, tier))
        );
    }
}
