//! Permanent AWS errors: the set is `Stalled` within one reconcile, naming the spec field and
//! AWS's code; the refused write is not sent again while the spec stays as it is (the set is
//! still resynced); fixing the spec converges. And a change that fails, then succeeds, is an
//! `Applied` change, not drift.

use std::time::Duration;

use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams};
use serde_json::{Value, json};

use crate::support::controller::Controller;
use crate::support::fixture::{Fixture, applied, condition, current};
use crate::support::poll_async;
use crate::support::sg::solo_spec;

/// One tier with one ingress rule from 10.0.0.0/8 and `peer`.
fn with_peer(peer: Value) -> Value {
    json!({"tiers": [{"name": "app", "ingress": [
        {"protocol": "tcp", "ports": 8080, "from": [{"cidr": "10.0.0.0/8"}, peer]}
    ]}]})
}

struct Case {
    set: &'static str,
    spec: Value,
    reason: &'static str,
    field: &'static str,
    code: &'static str,
}

fn cases() -> Vec<Case> {
    let three_cidrs = json!({"tiers": [{"name": "app", "ingress": [{"protocol": "tcp", "ports": 8080,
        "from": [{"cidr": "10.1.0.0/16"}, {"cidr": "10.2.0.0/16"}, {"cidr": "10.3.0.0/16"}]}]}]});
    vec![
        Case {
            set: "no-peer",
            spec: with_peer(json!({"securityGroupId": "sg-0123456789abcdef0"})),
            reason: "PeerNotFound",
            field: "spec.tiers[0].ingress[0].from[1].securityGroupId",
            code: "InvalidGroup.NotFound",
        },
        Case {
            set: "no-prefix-list",
            spec: with_peer(json!({"prefixListId": "pl-0123456789abcdef0"})),
            reason: "PeerNotFound",
            field: "spec.tiers[0].ingress[0].from[1].prefixListId",
            code: "InvalidPrefixListID.NotFound",
        },
        Case {
            set: "over-quota",
            spec: three_cidrs,
            reason: "QuotaExceeded",
            field: "spec.tiers[0].ingress",
            code: "RulesPerSecurityGroupLimitExceeded",
        },
    ]
}

#[tokio::test]
async fn each_permanent_error_stalls_naming_its_field_and_is_not_sent_again() {
    let f = Fixture::new("stalls").await;
    // The account allows 2 rules per group and direction (the controller assumes 60).
    f.emulator
        .configure(json!({"quotas": {"rules_per_security_group": 2}}))
        .await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "3s"]);
    let cases = cases();
    for c in &cases {
        f.apply(&f.set(c.set, c.spec.clone())).await;
    }
    for c in &cases {
        let stalled = f
            .wait_for(c.set, "Stalled", |s| {
                current(s) && condition(s, "Stalled").is_some_and(|c| c.0 == "True")
            })
            .await;
        let (_, reason, message) = condition(&stalled, "Stalled").unwrap();
        assert_eq!(reason, c.reason, "{}: {message}", c.set);
        assert!(
            message.starts_with(&format!("{}: ", c.field)) && message.contains(c.code),
            "{}: names the field and AWS's code: {message}",
            c.set
        );
        assert!(
            !applied(&stalled),
            "a stalled generation is not observedGeneration"
        );
    }

    // Two resync periods of every set (each reconcile reads the groups at least once): the
    // held writes are not sent again.
    let before = f.count("ec2", "DescribeSecurityGroups").await;
    let writes = f.writes().await;
    let reads_for_two_periods = before + 2 * cases.len() as u64;
    poll_async(Duration::from_secs(30), "two resyncs of every set", || async {
        (f.count("ec2", "DescribeSecurityGroups").await >= reads_for_two_periods).then_some(())
    })
    .await;
    assert_eq!(f.writes().await, writes, "no write while the spec stays as it is");

    f.emulator.configure(json!({"quotas": null})).await;
    for c in &cases {
        f.apply(&f.set(c.set, with_peer(json!({"cidr": "10.9.0.0/16"}))))
            .await;
    }
    for c in &cases {
        f.wait_ready(c.set).await;
    }
}

/// Each Event reason of the set, once per occurrence (the recorder folds repeats into a series).
async fn reasons(f: &Fixture, set: &str) -> Vec<String> {
    let events: Api<Event> = Api::namespaced(f.client.clone(), &f.ns);
    let list = events.list(&ListParams::default()).await.unwrap();
    list.items
        .iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(set))
        .flat_map(|e| {
            let times = e.series.as_ref().and_then(|s| s.count).or(e.count).unwrap_or(1);
            std::iter::repeat_n(e.reason.clone().unwrap_or_default(), times.max(1) as usize)
        })
        .collect()
}

#[tokio::test]
async fn a_change_that_fails_then_succeeds_is_applied_never_drift_corrected() {
    let f = Fixture::new("retried").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    f.apply(&f.set("retried", solo_spec())).await;
    f.wait_ready("retried").await;

    // Every authorize fails (HTTP 500, after the SDK's own retries) until the faults stop.
    f.emulator
        .configure(json!({"faults": {"rate": 1.0, "kinds": ["500"],
            "operations": ["AuthorizeSecurityGroupIngress"]}}))
        .await;
    let mut spec = solo_spec();
    spec["tiers"][0]["ingress"][0]["ports"] = json!(8443);
    f.apply(&f.set("retried", spec)).await;
    let failed = f
        .wait_for("retried", "the change to fail", |s| {
            current(s) && condition(s, "Ready").is_some_and(|c| c.0 == "False")
        })
        .await;
    assert!(!applied(&failed), "the failed generation is not marked applied");
    f.emulator.configure(json!({"faults": null})).await;
    f.wait_ready("retried").await;
    let seen = poll_async(Duration::from_secs(20), "the Applied Event", || async {
        let r = reasons(&f, "retried").await;
        (r.iter().filter(|r| *r == "Applied").count() >= 2).then_some(r)
    })
    .await;
    assert!(
        !seen.iter().any(|r| r == "DriftCorrected"),
        "the retried change is the user's, not drift: {seen:?}"
    );
}
