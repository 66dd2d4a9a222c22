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

#[tokio::test]
async fn responses_lost_after_the_write_leave_no_duplicate_group_rule_or_parameter() {
    let f = Fixture::new("dropped").await;
    // Every 5th write is made, then its response is lost: the client sees a broken connection.
    f.emulator
        .configure(json!({"faults": {"every": 5, "kinds": ["drop_after_commit"], "operations": ["writes"]}}))
        .await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    f.apply(&f.set(
        "lossy",
        json!({"tiers": [
            {"name": "web", "ingress": [{"description": "https", "protocol": "tcp", "ports": 443, "from": [{"cidr": "0.0.0.0/0"}]}],
             "egress": [{"protocol": "tcp", "ports": 8080, "to": [{"tier": "app"}]}]},
            {"name": "app", "ingress": [{"protocol": "tcp", "ports": 8080, "from": [{"tier": "web"}]}],
             "egress": [{"protocol": "tcp", "ports": 5432, "to": [{"tier": "db"}]}]},
            {"name": "db", "ingress": [{"protocol": "tcp", "ports": 5432, "from": [{"tier": "app"}]}]},
        ]}),
    ))
    .await;
    let ready = f.wait_ready("lossy").await;
    let counts = f.emulator.counts().await;
    assert!(
        counts["faults_injected"].as_u64() >= Some(2),
        "the fault fired: {counts}"
    );

    assert_eq!(f.owned_groups("lossy").await.len(), 3, "one group per tier");
    let groups = f.groups("lossy").await;
    let rule_count = |t: &str| groups[t].ip_permissions().len() + groups[t].ip_permissions_egress().len();
    assert_eq!(
        (rule_count("web"), rule_count("app"), rule_count("db")),
        (2, 2, 1),
        "no duplicate or leftover rule"
    );
    for tier in ["web", "app", "db"] {
        let name = format!("/sg/lossy/{tier}/SecurityGroupId");
        assert_eq!(f.parameter(&name).await, Some(group_id(&ready, tier)), "{name}");
    }
}
