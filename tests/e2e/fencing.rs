//! The leader's fence: a leader frozen (SIGSTOP) in the middle of converging a set, past its
//! lease, then resumed, sends no AWS call after its renew deadline; the standby takes over and
//! converges; the stale leader exits. Each replica signs with its own access key, so the
//! emulator attributes every write.

use std::time::Duration;

use serde_json::json;

use crate::support::aws::Emulator;
use crate::support::controller::Controller;
use crate::support::fixture::Fixture;
use crate::support::{poll, poll_async};

/// Short timings keep the test short; the invariant holds (6 > 4 > 1.2 × 1).
const TIMINGS: [&str; 6] = [
    "--leader-election-lease-duration",
    "6s",
    "--leader-election-renew-deadline",
    "4s",
    "--leader-election-retry-period",
    "1s",
];

fn replica(f: &Fixture, key: &str, name: &str, extra: &[&str]) -> Controller {
    let mut args = vec![
        "--leader-elect",
        "--leader-election-namespace",
        &f.ns,
        "--instance",
        name,
    ];
    args.extend_from_slice(&TIMINGS);
    args.extend_from_slice(extra);
    Controller::start(&f.ns, key, &args)
}

fn three_tiers() -> serde_json::Value {
    let rule = |d: &str, port: u16, from: serde_json::Value| json!({"description": d, "protocol": "tcp", "ports": port, "from": [from]});
    json!({"tiers": [
        {"name": "web", "ingress": [
            rule("https", 443, json!({"cidr": "0.0.0.0/0"})),
            rule("http", 80, json!({"cidr": "0.0.0.0/0"})),
        ]},
        {"name": "app", "ingress": [rule("from web", 8080, json!({"tier": "web"}))]},
        {"name": "db", "ingress": [rule("from app", 5432, json!({"tier": "app"}))]},
    ]})
}

#[tokio::test]
async fn a_frozen_leader_sends_nothing_after_its_renew_deadline_and_the_standby_converges() {
    let f = Fixture::new("fencing").await;
    let keys = [f.key.clone(), format!("{}B", f.key)];
    let emulators = [Emulator::for_key(&keys[0]), Emulator::for_key(&keys[1])];
    // The first leader is slowed (one write a second) so that it is frozen mid-converge.
    let slow = [
        "--aws-rate-limit",
        "mutating=1/1,resource_intensive=1/1,tags=1/1,ssm=1/1",
    ];
    let mut stale = replica(&f, &keys[0], "first", &slow);
    poll_async(Duration::from_secs(30), "the first replica to lead", || async {
        f.lease_holder().await.filter(|h| h.starts_with("first_"))
    })
    .await;
    let standby = replica(&f, &keys[1], "second", &[]);

    f.apply(&f.set("fenced", three_tiers())).await;
    poll_async(Duration::from_secs(30), "the leader to start writing", || async {
        (emulators[0].writes().await >= 2).then_some(())
    })
    .await;
    stale.signal(libc::SIGSTOP);

    // The standby takes the Lease once the record stayed unchanged for 6 s, and converges.
    f.wait_ready("fenced").await;
    assert!(f.lease_holder().await.unwrap().starts_with("second_"));
    let frozen_writes = emulators[0].writes().await;
    assert!(
        emulators[1].writes().await > 0,
        "the new leader converged the set"
    );

    stale.signal(libc::SIGCONT);
    poll(Duration::from_secs(20), "the stale leader to exit", || {
        stale.exited()
    });
    let log = stale.logs();
    assert!(log.contains("lost leadership"), "{log}");
    assert_eq!(
        emulators[0].writes().await,
        frozen_writes,
        "the stale leader wrote to AWS after its renew deadline"
    );

    // Exactly one group per tier: the two leaders did not both create.
    assert_eq!(f.group_count("fenced").await, 3);
    f.delete_and_wait_gone("fenced").await;
    drop(standby);
}
