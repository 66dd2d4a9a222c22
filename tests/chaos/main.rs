//! The reliability campaign (`cargo test --test chaos -- [--trials N] [--seed S]`; not part of
//! the default test run). Against the real API server and the AWS emulator, as the e2e tests:
//!
//! 1. **kill -9**: N trials, each one change to one of a few sets (create, rules changed, tier
//!    added or removed, delete) with the controller killed at a random moment after it, then
//!    restarted, then checked.
//! 2. **faults**: 20 % of AWS calls fail (500, 503, throttle, dropped connection, dropped answer
//!    after the write), with the emulator eventually consistent (a new group hidden for 2 s,
//!    rule changes and parameters visible after 1 s), while sets are created, changed and
//!    deleted; then checked.
//! 3. **AWS down**: the endpoint refuses every connection for `--outage-seconds` (default 10).
//! 4. **HA** (`ha.rs`): two replicas with leader election; the leader frozen past its lease and
//!    resumed (it must write nothing more), then the API server restarted mid-change (both
//!    replicas must ride it out without exiting).
//!
//! Checked after each, at the emulator: every live set has exactly one group per tier and AWS
//! matches its spec (a fresh plan of the set is empty), its parameters hold its group ids, and a
//! deleted set left no group and no parameter. Prints one table.

#[path = "../e2e/support/mod.rs"]
mod support;

mod ha;

use std::time::{Duration, Instant};

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use sg_provisioner::api::SecurityGroupSet;
use sg_provisioner::reconcile::{Error, Known, Mode, References, SetRefKey, driver};

use support::controller::Controller;
use support::fixture::Fixture;

/// A small deterministic generator (xorshift): the same seed replays the same campaign.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// The spec of variant `v` (0..4): the rules and tiers a trial moves between.
fn spec(v: u64) -> Value {
    let web = json!({"name": "web", "ingress": [{"protocol": "tcp", "ports": 443 + v as i64, "from": [{"cidr": "10.0.0.0/8"}]}],
                     "egress": [{"protocol": "tcp", "ports": 8080, "to": [{"tier": "app"}]}]});
    let app =
        json!({"name": "app", "ingress": [{"protocol": "tcp", "ports": 8080, "from": [{"tier": "web"}]}]});
    let db =
        json!({"name": "db", "ingress": [{"protocol": "tcp", "ports": 5432, "from": [{"tier": "app"}]}]});
    match v % 4 {
        0 => json!({"tiers": [web, app]}),
        1 => json!({"tiers": [web, app, db]}),
        2 => json!({"tiers": [web, app, db], "tags": {"Team": "chaos"}}),
        _ => json!({"tiers": [web, app]}),
    }
}

struct NoRefs;

impl References for NoRefs {
    async fn group_ids(&self, _: &BTreeSet<SetRefKey>) -> Result<BTreeMap<SetRefKey, String>, Error> {
        Ok(BTreeMap::new())
    }
}

/// AWS matches the set's spec: a fresh plan of it (read calls only, another access key) is empty.
async fn plan_is_empty(f: &Fixture, set: &SecurityGroupSet) -> bool {
    let limits = sg_provisioner::model::Limits::default();
    let validated = sg_provisioner::model::validate(set, &limits).expect("a valid set");
    let config = support::aws::sdk_config(&format!("{}CHECK", f.key)).await;
    let aws = sg_provisioner::aws::Aws::new(&config, sg_provisioner::metrics::Metrics::default());
    let known = Known {
        vpc_id: set.status.as_ref().and_then(|s| s.vpc_id.clone()),
        spec_changed: true,
        ..Known::default()
    };
    let done = driver::converge(&aws, &NoRefs, &validated, "default", &known, Mode::PlanOnly)
        .await
        .expect("a plan");
    if !done.plan.actions.is_empty() {
        eprintln!("chaos: pending: {:?}", done.plan.actions);
    }
    done.plan.actions.is_empty()
}

async fn parameters_of(f: &Fixture, set: &str) -> usize {
    let out = f
        .ssm
        .get_parameters_by_path()
        .path(format!("/sg/{set}/"))
        .recursive(true)
        .send()
        .await
        .expect("GetParametersByPath");
    out.parameters().len()
}

#[derive(Default)]
struct Tally {
    /// Changes made (each kill -9 trial is one).
    trials: u32,
    /// Sets that reached their final state (Ready as specified, or gone).
    converged: u32,
    duplicates: u32,
    leaks: u32,
    drift: u32,
    /// AWS writes by a replica after it stopped being the leader.
    stale_writes: u32,
    /// Controller processes that exited when they should have ridden a fault out.
    exits: u32,
    seconds: Vec<f64>,
}

impl Tally {
    fn row(&self, name: &str) -> String {
        let mut s = self.seconds.clone();
        s.sort_by(f64::total_cmp);
        let p = |q: f64| {
            s.get(((s.len() as f64 - 1.0) * q) as usize)
                .copied()
                .unwrap_or(0.0)
        };
        format!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.1} |",
            self.trials,
            self.converged,
            self.duplicates,
            self.leaks,
            self.drift,
            self.stale_writes,
            self.exits,
            p(0.5),
            p(1.0)
        )
    }
}

/// Sets alive now, by name, with their spec variant.
type Live = std::collections::BTreeMap<String, u64>;

async fn check(f: &Fixture, live: &Live, gone: &[String], tally: &mut Tally) {
    for (name, variant) in live {
        let set = f.wait_ready(name).await;
        tally.converged += 1;
        let tiers = spec(*variant)["tiers"].as_array().unwrap().len();
        let groups = f.group_count(name).await;
        if groups != tiers {
            eprintln!("chaos: {name}: {groups} groups for {tiers} tiers");
            tally.duplicates += 1;
        }
        if !plan_is_empty(f, &set).await {
            eprintln!("chaos: {name}: AWS differs from the spec");
            tally.drift += 1;
        }
    }
    for name in gone {
        f.wait_gone(name, Duration::from_secs(60)).await;
        tally.converged += 1;
        let groups = f.group_count(name).await;
        let parameters = parameters_of(f, name).await;
        if groups + parameters > 0 {
            eprintln!("chaos: {name} deleted, left {groups} groups and {parameters} parameters");
            tally.leaks += 1;
        }
    }
}

/// One change: create a set, move it to another variant, or delete it.
async fn change(f: &Fixture, dice: &mut Dice, live: &mut Live, gone: &mut Vec<String>, n: u32) {
    let names: Vec<String> = live.keys().cloned().collect();
    match (names.is_empty(), dice.below(4)) {
        (true, _) | (_, 0) if live.len() < 3 => {
            let name = support::unique(&format!("chaos{n}"));
            f.apply(&f.set(&name, spec(0))).await;
            live.insert(name, 0);
        }
        (false, 3) => {
            let name = names[dice.below(names.len() as u64) as usize].clone();
            let _ = f.sets.delete(&name, &Default::default()).await;
            live.remove(&name);
            gone.push(name);
        }
        _ => {
            let name = names[dice.below(names.len() as u64) as usize].clone();
            let variant = live[&name] + 1 + dice.below(3);
            f.apply(&f.set(&name, spec(variant))).await;
            live.insert(name, variant);
        }
    }
}

async fn kill_trials(trials: u32, dice: &mut Dice) -> Tally {
    let f = Fixture::new("chaos-kill").await;
    let mut controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    let (mut live, mut tally) = (Live::new(), Tally::default());
    for n in 0..trials {
        let mut gone = Vec::new();
        change(&f, dice, &mut live, &mut gone, n).await;
        // The experiment itself: a random moment within the reconcile the change started.
        tokio::time::sleep(Duration::from_millis(dice.below(800))).await;
        controller.kill9();
        controller.restart();
        let started = Instant::now();
        check(&f, &live, &gone, &mut tally).await;
        tally.seconds.push(started.elapsed().as_secs_f64());
        tally.trials += 1;
    }
    finish(&f, live, &mut tally).await;
    tally
}

async fn fault_run(changes: u32, dice: &mut Dice) -> Tally {
    let f = Fixture::new("chaos-faults").await;
    f.emulator
        .configure(json!({"faults": {"rate": 0.2, "seed": dice.below(1 << 31),
            "kinds": ["500", "503", "throttle", "drop", "drop_after_commit"]},
            "consistency": {"group_visible_after_s": 2.0, "rules_visible_after_s": 1.0,
                "parameters_visible_after_s": 1.0}}))
        .await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    let (mut live, mut gone, mut tally) = (Live::new(), Vec::new(), Tally::default());
    let started = Instant::now();
    for n in 0..changes {
        change(&f, dice, &mut live, &mut gone, n).await;
    }
    check(&f, &live, &gone, &mut tally).await;
    tally.seconds.push(started.elapsed().as_secs_f64());
    tally.trials = changes;
    let counts = f.emulator.counts().await;
    eprintln!(
        "chaos: faults injected: {}; answers changed by eventual consistency: {} {}",
        counts["faults_injected"], counts["consistency_hidden"], counts["consistency_by_kind"]
    );
    finish(&f, live, &mut tally).await;
    tally
}

/// The AWS endpoint down (every connection refused) for `seconds` while sets change: the
/// controller keeps running, says `Reconciling` with the reason meanwhile, and converges after.
async fn outage_run(seconds: u64, dice: &mut Dice) -> Tally {
    let f = Fixture::new("chaos-outage").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    let (mut live, mut gone, mut tally) = (Live::new(), Vec::new(), Tally::default());
    for n in 0..2 {
        change(&f, dice, &mut live, &mut gone, n).await;
    }
    check(&f, &live, &gone, &mut tally).await;
    f.emulator.configure(json!({"outage": "refuse"})).await;
    let down = Instant::now();
    for n in 2..5 {
        change(&f, dice, &mut live, &mut gone, n).await;
    }
    // One set created during the outage: it cannot be Ready, and must say why.
    let name = support::unique("outage");
    f.apply(&f.set(&name, spec(1))).await;
    live.insert(name.clone(), 1);
    let reason = f
        .wait_for(&name, "Reconciling while AWS is down", |s| {
            support::fixture::current(s)
                && support::fixture::condition(s, "Reconciling").is_some_and(|c| c.0 == "True")
        })
        .await;
    let (_, why, _) = support::fixture::condition(&reason, "Reconciling").unwrap();
    eprintln!("chaos: during the outage {name} says Reconciling ({why})");
    // The experiment itself: how long the endpoint stays down.
    tokio::time::sleep(Duration::from_secs(seconds).saturating_sub(down.elapsed())).await;
    f.emulator.configure(json!({"outage": null})).await;
    let up = Instant::now();
    check(&f, &live, &gone, &mut tally).await;
    tally.seconds.push(up.elapsed().as_secs_f64());
    tally.trials = 5;
    finish(&f, live, &mut tally).await;
    tally
}

/// Deletes what is left and checks nothing stays behind.
async fn finish(f: &Fixture, live: Live, tally: &mut Tally) {
    let names: Vec<String> = live.into_keys().collect();
    for name in &names {
        let _ = f.sets.delete(name, &Default::default()).await;
    }
    check(f, &Live::new(), &names, tally).await;
}

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let trials = arg(&args, "--trials", 5) as u32;
    let seed = arg(&args, "--seed", 0x5eed);
    let mut dice = Dice(seed.max(1));
    // `--only kill|faults|outage|ha`: one run of the campaign.
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let runs = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let outage_seconds = arg(&args, "--outage-seconds", 10);
    let mut rows = Vec::new();
    if runs("kill") {
        rows.push(("kill -9".to_string(), kill_trials(trials, &mut dice).await));
    }
    if runs("faults") {
        let faults = fault_run(trials.max(5), &mut dice).await;
        rows.push(("20 % faults + eventual consistency".into(), faults));
    }
    if runs("outage") {
        let outage = outage_run(outage_seconds, &mut dice).await;
        rows.push((format!("AWS down {outage_seconds} s"), outage));
    }
    if runs("ha") {
        rows.push((
            "HA: leader frozen, API server restarted".into(),
            ha::ha_run(&mut dice).await,
        ));
    }
    println!("\nchaos campaign, seed {seed}");
    println!(
        "| run | changes | set checks passed | duplicates | leaks | drift | writes by a non-leader | controller exits | p50 s to converge | max s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (name, tally) in &rows {
        println!("{}", tally.row(name));
    }
    let bad: u32 = rows
        .iter()
        .map(|(_, t)| t.duplicates + t.leaks + t.drift + t.stale_writes + t.exits)
        .sum();
    assert_eq!(bad, 0, "the campaign found duplicates, leaks or drift");
}
