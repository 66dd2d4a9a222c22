//! What the controller exposes about itself: metrics and health under AWS throttling, JSON logs.

use serde_json::{Value, json};

use crate::support::controller::Controller;
use crate::support::fixture::Fixture;
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
    let logs = controller.logs();
    let addr = logs
        .lines()
        .find_map(|l| l.split("addr=").nth(1))
        .map(|a| a.split_whitespace().next().unwrap().trim_matches('"').to_string())
        .expect("the metrics address in the log");
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
