//! What the controller exposes about itself: metrics and health under AWS throttling, JSON logs,
//! and an Event per change that says what it wrote.

use std::time::Duration;

use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams};
use serde_json::{Value, json};

use crate::support::controller::Controller;
use crate::support::fixture::Fixture;
use crate::support::poll_async;
use crate::support::sg::solo_spec;

#[tokio::test]
async fn converges_under_throttling_and_exposes_metrics() {
    let f = Fixture::new("throttle").await;
    f.emulator
        .configure(json!({"throttle": {"enabled": true, "scope": "category", "overrides": {"*": {"capacity": 3, "refill_per_sec": 3}}}}))
        .await;
    let controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    f.apply(&f.set("slowly", json!({"tiers": [
        {"name": "a", "ingress": [{"protocol": "tcp", "ports": 443, "from": [{"tier": "b"}]}], "egress": [{"protocol": "tcp", "ports": 443, "to": [{"tier": "b"}]}]},
        {"name": "b", "ingress": [{"protocol": "tcp", "ports": 443, "from": [{"tier": "a"}]}], "egress": [{"protocol": "tcp", "ports": 443, "to": [{"tier": "a"}]}]},
    ]}))).await;
    f.wait_ready("slowly").await;
    let counts = f.emulator.counts().await;
    assert!(
        counts["throttled"].as_u64().unwrap_or(0) > 0,
        "the emulator did throttle: {counts}"
    );
    assert_eq!(f.group_count("slowly").await, 2);

    // /metrics counts AWS requests by service, operation and outcome.
    let addr = controller.metrics_addr();
    let body = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains(r#"sgprovisioner_aws_requests_total{service="ec2",operation="CreateSecurityGroup",outcome="ok"} 2"#), "{body}");
    assert!(
        body.contains("outcome=\"throttled\"") || body.contains("sgprovisioner_reconciles_total"),
        "{body}"
    );
    assert_eq!(
        reqwest::get(format!("http://{addr}/healthz"))
            .await
            .unwrap()
            .status(),
        200
    );
}

/// The controller's own token buckets, set below the account's, keep it from being throttled:
/// it waits instead of meeting `RequestLimitExceeded` (and says so in /metrics).
#[tokio::test]
async fn client_side_buckets_keep_the_controller_under_the_accounts() {
    let f = Fixture::new("buckets").await;
    // The account: 2 tokens per EC2 action, refilled at 2 per second (SSM roomier).
    f.emulator
        .configure(
            json!({"throttle": {"enabled": true, "scope": "action", "overrides": {
            "*": {"capacity": 2, "refill_per_sec": 2}, "ssm": {"capacity": 20, "refill_per_sec": 20}}}}),
        )
        .await;
    let mut args = vec!["--resync-period", "300s"];
    for limit in ["non_mutating", "mutating", "resource_intensive", "tags"] {
        args.extend(["--aws-rate-limit", leak(format!("{limit}=1.5/2"))]);
    }
    args.extend(["--aws-rate-limit", "ssm=4/4"]);
    let controller = Controller::start(&f.ns, &f.key, &args);
    f.apply(&f.set(
        "paced",
        json!({"tiers": [
            {"name": "a", "ingress": [{"protocol": "tcp", "ports": 443, "from": [{"tier": "b"}]}]},
            {"name": "b", "ingress": [{"protocol": "tcp", "ports": 443, "from": [{"tier": "a"}]}]},
            {"name": "c", "ingress": [{"protocol": "tcp", "ports": 443, "from": [{"tier": "a"}]}]},
        ]}),
    ))
    .await;
    f.wait_ready("paced").await;
    let counts = f.emulator.counts().await;
    assert_eq!(counts["throttled"], 0, "never throttled: {counts}");
    let body = reqwest::get(format!("http://{}/metrics", controller.metrics_addr()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("sgprovisioner_aws_rate_limited_total{operation="),
        "the waits are counted: {body}"
    );
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

#[tokio::test]
async fn json_logs_name_the_set_on_every_reconcile_line() {
    let f = Fixture::new("logs").await;
    let controller = Controller::start(
        &f.ns,
        &f.key,
        &["--resync-period", "300s", "--log-format", "json"],
    );
    f.apply(&f.set("logged", solo_spec())).await;
    f.wait_ready("logged").await;
    let logs = controller.logs();
    let lines: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        !lines.is_empty() && lines.len() == logs.lines().count(),
        "every line is JSON:\n{logs}"
    );
    let ours: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["target"]
                .as_str()
                .is_some_and(|t| t.starts_with("sg_provisioner::reconcile"))
        })
        .collect();
    assert!(!ours.is_empty(), "the reconcile logged something:\n{logs}");
    let set = format!("{}/logged", f.ns);
    for line in &ours {
        assert_eq!(line["span"]["set"], set.as_str(), "{line}");
    }
}

/// Two changes of one set a moment apart: each has its own `Applied` Event naming what it wrote
/// (kube's recorder would fold the second into the first's series, keeping the first's note).
#[tokio::test]
async fn each_applied_change_has_its_own_event_with_its_own_writes() {
    let f = Fixture::new("notes").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    f.apply(&f.set("notes", solo_spec())).await;
    f.wait_ready("notes").await;
    let mut spec = solo_spec();
    spec["tiers"][0]["ingress"][0]["ports"] = json!(8443);
    f.apply(&f.set("notes", spec)).await;
    f.wait_ready("notes").await;

    let events: Api<Event> = Api::namespaced(f.client.clone(), &f.ns);
    let notes = poll_async(Duration::from_secs(20), "two Applied Events", || async {
        let listed = events.list(&ListParams::default()).await.unwrap().items;
        let notes: Vec<String> = listed
            .into_iter()
            .filter(|e| e.involved_object.name.as_deref() == Some("notes"))
            .filter(|e| e.reason.as_deref() == Some("Applied"))
            .map(|e| e.message.unwrap_or_default())
            .collect();
        (notes.len() >= 2).then_some(notes)
    })
    .await;
    assert!(
        notes.iter().any(|n| n.contains("443") && !n.contains("8443")),
        "the first Event names the first write: {notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.contains("8443")),
        "the second Event names the second write: {notes:?}"
    );
}
