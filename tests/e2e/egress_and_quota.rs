//! AWS's own rules, as AWS applies them: the default egress of new groups (IPv4 and, in a
//! dual-stack VPC, IPv6) is revoked, and a group at its rules quota can still be edited.

use serde_json::{Value, json};

use crate::support::controller::Controller;
use crate::support::fixture::Fixture;
use crate::support::sg::{r, rules};

#[tokio::test]
async fn a_dual_stack_vpcs_groups_end_with_exactly_the_declared_egress() {
    let f = Fixture::new("dualstack").await;
    let vpc = crate::support::aws::new_vpc(&f.ec2, "10.20.0.0/16", true).await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    let mut set = f.set(
        "dual",
        json!({"tiers": [
            {"name": "web", "egress": [{"description": "https out", "protocol": "tcp", "ports": 443, "to": [{"cidr": "0.0.0.0/0"}]}]},
            {"name": "db"},
        ]}),
    );
    set.spec.vpc.id = Some(vpc);
    f.apply(&set).await;
    f.wait_ready("dual").await;
    let groups = f.groups("dual").await;
    assert_eq!(
        rules(groups["web"].ip_permissions_egress()),
        vec![r("tcp", 443, "0.0.0.0/0", "https out")],
        "no ::/0 or 0.0.0.0/0 allow-all left"
    );
    assert_eq!(
        rules(groups["db"].ip_permissions_egress()),
        vec![],
        "db declares none"
    );
}

/// `n` ingress rules, HTTPS from 10.{offset + i}.0.0/16.
fn many_rules(n: usize, offset: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"protocol": "tcp", "ports": 443, "from": [{"cidr": format!("10.{}.0.0/16", offset + i)}]}))
        .collect()
}

#[tokio::test]
async fn a_group_at_its_rules_quota_can_be_edited_and_converges() {
    let f = Fixture::new("fullgroup").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    f.apply(&f.set(
        "full",
        json!({"tiers": [{"name": "edge", "ingress": many_rules(60, 0)}]}),
    ))
    .await;
    f.wait_ready("full").await;
    assert_eq!(
        f.groups("full").await["edge"].ip_permissions()[0]
            .ip_ranges()
            .len(),
        60
    );

    // Swap two of the 60: authorize-before-revoke alone would need 62.
    let mut edited = many_rules(58, 0);
    edited.extend(many_rules(2, 100));
    f.apply(&f.set("full", json!({"tiers": [{"name": "edge", "ingress": edited}]})))
        .await;
    f.wait_ready("full").await;
    let cidrs: Vec<String> = f.groups("full").await["edge"].ip_permissions()[0]
        .ip_ranges()
        .iter()
        .map(|r| r.cidr_ip().unwrap().to_string())
        .collect();
    assert_eq!(cidrs.len(), 60, "{cidrs:?}");
    let counts = f.emulator.counts().await;
    assert_eq!(
        counts["errors"],
        json!({}),
        "AWS never refused a call (no quota error): {counts}"
    );
    assert!(
        counts["by_operation"]["ec2"]["RevokeSecurityGroupIngress"].as_u64() >= Some(1),
        "{counts}"
    );
    assert!(cidrs.contains(&"10.100.0.0/16".to_string()) && !cidrs.contains(&"10.59.0.0/16".to_string()));
}

#[tokio::test]
async fn a_new_group_never_keeps_allow_all_egress_when_a_later_step_fails() {
    let f = Fixture::new("egress-first").await;
    // Every authorization fails: the set cannot converge, but its groups must not stay open.
    f.emulator
        .configure(json!({"faults": {"rate": 1.0, "kinds": ["500"], "operations": ["AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress"]}}))
        .await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    f.apply(&f.set(
        "stuck",
        json!({"tiers": [
            {"name": "web", "egress": [{"protocol": "tcp", "ports": 443, "to": [{"cidr": "0.0.0.0/0"}]}]},
            {"name": "app", "ingress": [{"protocol": "tcp", "ports": 8080, "from": [{"tier": "web"}]}]},
        ]}),
    ))
    .await;
    crate::support::poll_async(
        crate::support::fixture::TIMEOUT,
        "both groups created",
        || async {
            let groups = f.groups("stuck").await;
            let closed = groups.len() == 2 && groups.values().all(|g| g.ip_permissions_egress().is_empty());
            closed.then_some(())
        },
    )
    .await;
    let counts = f.emulator.counts().await;
    assert!(
        counts["faults_injected"].as_u64() >= Some(1),
        "the authorizations failed: {counts}"
    );
    f.emulator.clear().await;
}
