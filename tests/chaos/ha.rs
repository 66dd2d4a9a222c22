//! Two replicas with leader election, on a private API server that can be restarted: the
//! leader is frozen (SIGSTOP) past its lease while changes are pending, then resumed; then the
//! API server is restarted in the middle of changes. Each replica signs with its own access
//! key, so the emulator tells who wrote.

use std::time::{Duration, Instant};

use super::support::apiserver::PrivateApiServer;
use super::support::aws::Emulator;
use super::support::controller::Controller;
use super::support::fixture::Fixture;
use super::support::poll_async;
use super::{Dice, Live, Tally, change, check, finish};

fn replica(f: &Fixture, key: &str, kubeconfig: &str, name: &str) -> Controller {
    let args = [
        "--leader-elect",
        "--leader-election-namespace",
        &f.ns,
        "--instance",
        name,
        "--resync-period",
        "300s",
    ];
    Controller::start_with_env(&f.ns, key, &args, &[("KUBECONFIG", kubeconfig)])
}

/// Which replica holds the Lease (0: "ha-a", 1: "ha-b").
async fn leader(f: &Fixture) -> usize {
    let holder = poll_async(Duration::from_secs(30), "a leader", || f.lease_holder()).await;
    usize::from(holder.starts_with("ha-b_"))
}

/// The leader frozen past its lease while changes are pending: the standby takes over and
/// converges them; the resumed stale leader writes nothing and exits (and is restarted).
async fn freeze_leader(
    f: &Fixture,
    replicas: &mut [Controller; 2],
    emulators: &[Emulator; 2],
    run: &mut Run<'_>,
) {
    let stale = leader(f).await;
    replicas[stale].signal(libc::SIGSTOP);
    let frozen = Instant::now();
    // One new set at least, so that the run needs a leader whatever the dice chose.
    let name = super::support::unique("frozen");
    f.apply(&f.set(&name, super::spec(1))).await;
    run.live.insert(name, 1);
    change(f, run.dice, &mut run.live, &mut run.gone, 10).await;
    eprintln!(
        "chaos: leader {stale} frozen; sets now {:?}, deleted {:?}",
        run.live, run.gone
    );
    check(f, &run.live, &run.gone, run.tally).await;
    run.tally.seconds.push(frozen.elapsed().as_secs_f64());
    eprintln!(
        "chaos: converged {:.1?} after the freeze, holder {:?}",
        frozen.elapsed(),
        f.lease_holder().await
    );
    assert_eq!(leader(f).await, 1 - stale, "the standby leads");
    let before = emulators[stale].writes().await;
    replicas[stale].signal(libc::SIGCONT);
    super::support::poll(Duration::from_secs(30), "the stale leader to exit", || {
        replicas[stale].exited()
    });
    let after = emulators[stale].writes().await;
    eprintln!(
        "chaos: stale leader frozen {:.1?}; writes after resume: {}",
        frozen.elapsed(),
        after - before
    );
    run.tally.stale_writes += (after - before) as u32;
    // As its Deployment would: back, as a standby.
    replicas[stale].restart();
}

/// What the steps of the run share.
struct Run<'a> {
    dice: &'a mut Dice,
    tally: &'a mut Tally,
    live: Live,
    gone: Vec<String>,
}

pub async fn ha_run(dice: &mut Dice) -> Tally {
    let mut server = PrivateApiServer::start_persistent().await;
    let f = Fixture::on(server.client().await, "chaos-ha").await;
    let kubeconfig = server.kubeconfig.display().to_string();
    let keys = [format!("{}A", f.key), format!("{}B", f.key)];
    let emulators = [Emulator::for_key(&keys[0]), Emulator::for_key(&keys[1])];
    let mut replicas = [
        replica(&f, &keys[0], &kubeconfig, "ha-a"),
        replica(&f, &keys[1], &kubeconfig, "ha-b"),
    ];
    let mut tally = Tally::default();
    let mut run = Run {
        dice,
        tally: &mut tally,
        live: Live::new(),
        gone: Vec::new(),
    };
    for n in 0..2 {
        change(&f, run.dice, &mut run.live, &mut run.gone, n).await;
    }
    check(&f, &run.live, &run.gone, run.tally).await;

    freeze_leader(&f, &mut replicas, &emulators, &mut run).await;

    // The API server restarted in the middle of changes: both replicas ride it out.
    for n in 0..2 {
        change(&f, run.dice, &mut run.live, &mut run.gone, 20 + n).await;
    }
    let restarted = Instant::now();
    server.restart().await;
    check(&f, &run.live, &run.gone, run.tally).await;
    run.tally.seconds.push(restarted.elapsed().as_secs_f64());
    for replica in &mut replicas {
        if let Some(status) = replica.exited() {
            eprintln!("chaos: a replica exited across the API server restart: {status}");
            run.tally.exits += 1;
        }
    }
    run.tally.trials = 6;
    let live = std::mem::take(&mut run.live);
    finish(&f, live, run.tally).await;
    drop(replicas);
    tally
}
