//! Resyncs at scale: the sets of a region share one DescribeSecurityGroups per resync window
//! (the cluster's groups and every parameter under /sg/): a set matching it makes no call.

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
    let since = std::time::Instant::now();
    // Three view windows: every set has resynced at least twice (periods are 2 s ± 10 %).
    let end = poll_async(Duration::from_secs(30), "three shared-view windows", || async {
        let c = f.emulator.counts().await;
        let describes = op(&c, "ec2", "DescribeSecurityGroups") - op(&start, "ec2", "DescribeSecurityGroups");
        (describes >= 3 && since.elapsed() >= Duration::from_secs(5)).then_some(c)
    })
    .await;
    let resyncs = names.len() as u64 * (since.elapsed().as_secs_f64() / 2.2) as u64;
    let describes = op(&end, "ec2", "DescribeSecurityGroups") - op(&start, "ec2", "DescribeSecurityGroups");
    assert_eq!(end["writes"], start["writes"], "no-op resyncs write nothing");
    // GetParametersByPath is not counted: the view reads every parameter under /sg/, 10 a page,
    // so its count follows how many the other tests sharing the emulator hold.
    assert!(
        describes * 3 <= resyncs,
        "{describes} DescribeSecurityGroups for at least {resyncs} set resyncs"
    );
}
