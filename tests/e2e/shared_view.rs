//! Resyncs at scale: the sets of a region share one DescribeSecurityGroups per resync window
//! (the cluster's groups), each set reading only its own parameters.

use std::time::Duration;

use serde_json::Value;

use crate::support::controller::Controller;
use crate::support::fixture::Fixture;
use crate::support::poll_async;
use crate::support::sg::solo_spec;

fn op(counts: &Value, service: &str, operation: &str) -> u64 {
    counts["by_operation"][service][operation].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn resyncing_sets_share_one_describe_per_window() {
    let f = Fixture::new("shared").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "2s"]);
    let names: Vec<String> = (0..6)
        .map(|i| crate::support::unique(&format!("shared{i}")))
        .collect();
    for name in &names {
        f.apply(&f.set(name, solo_spec())).await;
    }
    for name in &names {
        f.wait_ready(name).await;
    }
    let start = f.emulator.counts().await;
    // Two resyncs of every set: each reads its parameters once per resync.
    let end = poll_async(Duration::from_secs(30), "two resyncs of every set", || async {
        let c = f.emulator.counts().await;
        let resynced = op(&c, "ssm", "GetParametersByPath") - op(&start, "ssm", "GetParametersByPath");
        (resynced >= 2 * names.len() as u64).then_some(c)
    })
    .await;
    let set_resyncs = op(&end, "ssm", "GetParametersByPath") - op(&start, "ssm", "GetParametersByPath");
    let describes = op(&end, "ec2", "DescribeSecurityGroups") - op(&start, "ec2", "DescribeSecurityGroups");
    assert_eq!(end["writes"], start["writes"], "no-op resyncs write nothing");
    assert!(
        describes * 3 <= set_resyncs,
        "{describes} DescribeSecurityGroups for {set_resyncs} set resyncs: {start} -> {end}"
    );
}
