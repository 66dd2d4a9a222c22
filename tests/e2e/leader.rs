//! HA: two controller processes with leader election on a coordination.k8s.io Lease. Each signs
//! AWS calls with its own access key, so the emulator's counters tell who called AWS.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::aws::Emulator;
use crate::support::controller::Controller;
use crate::support::fixture::{Fixture, current};
use crate::support::poll_async;

async fn calls(emulator: &Emulator) -> u64 {
    let c = emulator.counts().await;
    c["reads"].as_u64().unwrap_or(0) + c["writes"].as_u64().unwrap_or(0)
}

fn replica(f: &Fixture, key: &str, name: &str, extra: &[&str]) -> Controller {
    let mut args = vec![
        "--leader-elect",
        "--leader-election-namespace",
        &f.ns,
        "--instance",
        name,
    ];
    args.extend_from_slice(extra);
    Controller::start(&f.ns, key, &args)
}

fn one_tier(port: u16) -> serde_json::Value {
    json!({"tiers": [{"name": "api", "ingress": [
        {"description": "https", "protocol": "tcp", "ports": 443, "from": [{"cidr": "10.1.0.0/16"}]},
        {"description": "extra", "protocol": "tcp", "ports": port, "from": [{"cidr": "10.2.0.0/16"}]},
    ]}]})
}

#[tokio::test]
async fn one_of_two_replicas_reconciles_and_a_killed_leader_is_replaced_within_30s() {
    let f = Fixture::new("leader").await;
    let keys = [f.key.clone(), format!("{}B", f.key)];
    let emulators = [Emulator::for_key(&keys[0]), Emulator::for_key(&keys[1])];
    let mut replicas = [
        replica(&f, &keys[0], "replica-a", &[]),
        replica(&f, &keys[1], "replica-b", &[]),
    ];

    f.apply(&f.set("ha", one_tier(8443))).await;
    f.wait_ready("ha").await;
    let holder_before = f.lease_holder().await.expect("the Lease has a holder");
    let leader = if holder_before.starts_with("replica-a_") {
        0
    } else {
        1
    };
    let standby = 1 - leader;
    assert!(
        holder_before.starts_with(["replica-a_", "replica-b_"][leader]),
        "{holder_before}"
    );

    // Exactly one wrote to AWS; the standby made no AWS call at all.
    assert!(emulators[leader].counts().await["writes"].as_u64().unwrap_or(0) > 0);
    assert_eq!(calls(&emulators[standby]).await, 0, "the standby never calls AWS");
    let standby_log = replicas[standby].logs();
    assert!(
        standby_log.contains("waiting to become the leader"),
        "{standby_log}"
    );
    assert!(!standby_log.contains("became the leader"), "{standby_log}");

    // kill -9 the leader, then make a change it will never see.
    replicas[leader].kill9();
    let killed = Instant::now();
    f.apply(&f.set("ha", one_tier(9443))).await;
    let generation = f.sets.get("ha").await.unwrap().metadata.generation;

    let converged = poll_async(
        Duration::from_secs(30),
        "the standby to take over and apply the change",
        || async {
            f.sets
                .get_opt("ha")
                .await
                .ok()
                .flatten()
                .filter(|s| s.metadata.generation == generation && current(s))
                .filter(|s| crate::support::fixture::condition(s, "Ready").is_some_and(|c| c.0 == "True"))
        },
    )
    .await;
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(30), "took {took:?}");
    eprintln!("leader killed -> change converged by the standby in {took:.1?}");

    let group = &f.groups("ha").await["api"];
    let ports: Vec<i32> = group
        .ip_permissions()
        .iter()
        .filter_map(|p| p.from_port())
        .collect();
    assert!(
        ports.contains(&9443) && !ports.contains(&8443),
        "the pending change is in AWS: {ports:?}"
    );
    assert!(
        f.lease_holder()
            .await
            .unwrap()
            .starts_with(["replica-a_", "replica-b_"][standby])
    );
    assert!(emulators[standby].counts().await["writes"].as_u64().unwrap_or(0) > 0);
    assert!(replicas[standby].logs().contains("became the leader"));
    assert!(converged.status.is_some());

    f.delete_and_wait_gone("ha").await;
}

#[tokio::test]
async fn a_leader_stopped_with_sigterm_hands_over_at_once() {
    let f = Fixture::new("handover").await;
    let keys = [f.key.clone(), format!("{}B", f.key)];
    let emulators = [Emulator::for_key(&keys[0]), Emulator::for_key(&keys[1])];
    // A long lease: only a release (not expiry) can explain a quick handover.
    let long = ["--leader-election-lease-duration", "120s"];
    let first = replica(&f, &keys[0], "first", &long);
    poll_async(Duration::from_secs(30), "the first replica to lead", || async {
        f.lease_holder().await.filter(|h| h.starts_with("first_"))
    })
    .await;
    let second = replica(&f, &keys[1], "second", &long);
    poll_async(Duration::from_secs(30), "the second replica to wait", || async {
        second
            .logs()
            .contains("waiting to become the leader")
            .then_some(())
    })
    .await;

    let pid = first.pid().expect("running") as i32;
    // SAFETY: signalling a child process this test started and has not reaped.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let stopped = Instant::now();
    poll_async(Duration::from_secs(20), "the second replica to lead", || async {
        f.lease_holder().await.filter(|h| h.starts_with("second_"))
    })
    .await;
    assert!(stopped.elapsed() < Duration::from_secs(20));
    poll_async(
        Duration::from_secs(10),
        "the first replica's release in its log",
        || async { first.logs().contains("released the leader Lease").then_some(()) },
    )
    .await;

    f.apply(&f.set("handover", one_tier(8443))).await;
    f.wait_ready("handover").await;
    assert!(emulators[1].counts().await["writes"].as_u64().unwrap_or(0) > 0);
    assert_eq!(
        calls(&emulators[0]).await,
        0,
        "the first replica led while there was nothing to do"
    );
    f.delete_and_wait_gone("handover").await;
    drop(first);
    drop(second);
}
