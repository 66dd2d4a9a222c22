//! `cargo bench --bench scale -- [--sets N] [--resync SECONDS] [--throttle on|off] [-- ARGS]`:
//! N copies of the seed's 3-tier set applied at once against the real API server and the AWS
//! emulator (EC2's documented token buckets on by default); the controller is the release
//! binary, ARGS are passed to it. Calls are counted at the emulator, for the controller's
//! access key. Prints one table and a JSON line. A benchmark: it asserts only that every set
//! becomes Ready and that deletion leaves nothing (CI runs it at 5 sets).

#[path = "../tests/e2e/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sg_provisioner::api::SecurityGroupSet;

use support::controller::Controller;
use support::fixture::{Fixture, applied, condition};

struct Args {
    sets: usize,
    resync: u64,
    throttle: bool,
    controller: Vec<String>,
}

fn args() -> Args {
    let all: Vec<String> = std::env::args().skip(1).collect();
    let split = all.iter().position(|a| a == "--").unwrap_or(all.len());
    let (ours, theirs) = all.split_at(split);
    let get = |name: &str| ours.iter().position(|a| a == name).and_then(|i| ours.get(i + 1));
    Args {
        sets: get("--sets").and_then(|v| v.parse().ok()).unwrap_or(10),
        resync: get("--resync").and_then(|v| v.parse().ok()).unwrap_or(60),
        throttle: get("--throttle").is_none_or(|v| v != "off"),
        controller: theirs.iter().skip(1).cloned().collect(),
    }
}

/// The seed's three tiers, in the fixture's VPC.
fn seed_spec() -> Value {
    let mut set: Value =
        serde_saphyr::from_str(include_str!("../examples/globalbank-prod-c001-us-west-2-sg.yaml")).unwrap();
    let spec = set["spec"].as_object_mut().unwrap();
    spec.remove("vpc");
    spec.remove("region");
    set["spec"].take()
}

/// EC2's buckets as the emulator has them (tests/emulator/sg_emulator.py): capacity, refill/s.
fn bucket(service: &str, op: &str) -> (&'static str, f64, f64) {
    match (service, op) {
        ("ssm", _) => ("ssm", 40.0, 40.0),
        (_, "AuthorizeSecurityGroupIngress" | "RevokeSecurityGroupIngress") => ("op", 50.0, 5.0),
        (_, "CreateTags" | "DeleteTags") => ("op", 100.0, 10.0),
        (_, op) if op.starts_with("Describe") => ("op", 100.0, 20.0),
        _ => ("op", 50.0, 5.0),
    }
}

/// The shortest time EC2's buckets allow for the calls that got through (`outcomes`: a
/// throttled call takes no token): per bucket, what exceeds its capacity at its refill rate
/// (per action; SSM's one bucket is shared).
fn throttle_bound(outcomes: &Value) -> f64 {
    let mut buckets: BTreeMap<String, (f64, f64, f64)> = BTreeMap::new();
    for (service, ops) in outcomes.as_object().into_iter().flatten() {
        for (op, by_code) in ops.as_object().into_iter().flatten() {
            let (scope, capacity, refill) = bucket(service, op);
            let key = if scope == "ssm" {
                "ssm".to_string()
            } else {
                op.clone()
            };
            let entry = buckets.entry(key).or_insert((0.0, capacity, refill));
            entry.0 += by_code["ok"].as_f64().unwrap_or(0.0);
        }
    }
    buckets
        .values()
        .map(|(calls, capacity, refill)| ((calls - capacity) / refill).max(0.0))
        .fold(0.0, f64::max)
}

fn proc_field(pid: u32, file: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User + system CPU of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let num = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    num(11) + num(12)
}

/// The largest anonymous (heap, stacks) and file-backed (the binary's pages) resident sizes seen,
/// in KiB, sampled each second while the benchmark runs: VmHWM says only their peak sum.
fn sample_rss(pid: u32) -> std::sync::Arc<std::sync::Mutex<(u64, u64)>> {
    let peaks = std::sync::Arc::new(std::sync::Mutex::new((0, 0)));
    let shared = peaks.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let anon = proc_field(pid, "status", "RssAnon:").unwrap_or(0);
            let file = proc_field(pid, "status", "RssFile:").unwrap_or(0);
            let mut p = shared.lock().unwrap();
            *p = (p.0.max(anon), p.1.max(file));
        }
    });
    peaks
}

/// Wall-clock seconds (Unix time): the emulator's `first_create_at` clock.
fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Applies every set; returns when the first apply was sent (Unix seconds).
async fn apply_all(f: &Fixture, names: &[String]) -> f64 {
    let spec = seed_spec();
    let started = unix_now();
    for chunk in names.chunks(25) {
        let sets: Vec<SecurityGroupSet> = chunk.iter().map(|n| f.set(n, spec.clone())).collect();
        futures::future::join_all(sets.iter().map(|s| f.apply(s))).await;
    }
    started
}

/// When each set became Ready at its generation (Unix seconds), from a watch: no polling of
/// 1,000 sets competing with the controller for the machine.
async fn ready_times(sets: kube::Api<SecurityGroupSet>, n: usize) -> BTreeMap<String, f64> {
    use kube::runtime::{WatchStreamExt, watcher};
    let mut times = BTreeMap::new();
    let events = watcher(sets, watcher::Config::default()).applied_objects();
    let mut events = std::pin::pin!(events);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3600);
    while times.len() < n {
        let next = tokio::time::timeout_at(deadline, futures::StreamExt::next(&mut events)).await;
        let Ok(Some(Ok(s))) = next else {
            panic!(
                "{} of {n} sets Ready when the watch ended or the hour passed",
                times.len()
            );
        };
        if condition(&s, "Ready").is_some_and(|c| c.0 == "True") && applied(&s) {
            times
                .entry(s.metadata.name.clone().unwrap())
                .or_insert_with(unix_now);
        }
    }
    times
}

/// Seconds from each set's first CreateSecurityGroup request (at the emulator) to its Ready.
fn per_set_times(ready: &BTreeMap<String, f64>, counts: &Value) -> Vec<f64> {
    let created = &counts["first_create_at"];
    let tiers: Vec<String> = seed_spec()["tiers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str().map(String::from))
        .collect();
    let mut times: Vec<f64> = ready
        .iter()
        .filter_map(|(set, at)| {
            let first = tiers
                .iter()
                .filter_map(|t| created[sg_provisioner::model::group_name(set, t)].as_f64())
                .fold(f64::INFINITY, f64::min);
            first.is_finite().then(|| at - first)
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times
}

/// The `q` quantile of sorted `values` (0 when empty).
fn quantile(values: &[f64], q: f64) -> f64 {
    values
        .get(((values.len().max(1) - 1) as f64 * q) as usize)
        .copied()
        .unwrap_or(0.0)
}

/// The writes a fresh set needs: its plan against an empty account.
fn minimum_writes(f: &Fixture) -> usize {
    use sg_provisioner::{diff, model};
    let set = f.set("minimum", seed_spec());
    let validated = model::validate(&set, &model::Limits::default()).expect("the seed is valid");
    let desired = model::plan(&validated, "default");
    let inputs = diff::Inputs {
        vpc_id: f.vpc_id.clone(),
        ..Default::default()
    };
    diff::diff(&desired, &diff::Observed::default(), &inputs)
        .actions
        .len()
}

async fn reset_counts(f: &Fixture) {
    let base = support::env().emulator_control.clone().unwrap();
    reqwest::Client::new()
        .post(format!("{base}/counts/reset"))
        .query(&[("access_key", &f.key)])
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("reset the counts");
}

/// Two resync periods with nothing to change: AWS reads and writes per set per period (counted
/// at the emulator), reconciles per set per period (the controller's /metrics: each set should
/// be observed once a period) and the controller's CPU, in % of a core.
async fn idle_window(f: &Fixture, controller: &Controller, resync: u64, sets: usize) -> Value {
    let pid = controller.pid().expect("the controller runs");
    let metrics = format!("http://{}/metrics", controller.metrics_addr());
    reset_counts(f).await;
    let reconciles = reconciles_total(&metrics).await;
    let (ticks, from) = (cpu_ticks(pid), Instant::now());
    tokio::time::sleep(Duration::from_secs(2 * resync)).await;
    let counts = f.emulator.counts().await;
    let cpu = (cpu_ticks(pid) - ticks) as f64 / 100.0 / from.elapsed().as_secs_f64();
    let reconciled = reconciles_total(&metrics).await - reconciles;
    let per_resync = |n: f64| n / sets as f64 / 2.0;
    json!({
        "reads": per_resync(counts["reads"].as_f64().unwrap_or(0.0)),
        "writes": per_resync(counts["writes"].as_f64().unwrap_or(0.0)),
        "reconciles": per_resync(reconciled),
        "cpu_pct": cpu * 100.0,
    })
}

/// `sgprovisioner_reconciles_total`, as the controller counts it.
async fn reconciles_total(url: &str) -> f64 {
    let body = reqwest::get(url).await.unwrap().text().await.unwrap();
    body.lines()
        .find_map(|l| l.strip_prefix("sgprovisioner_reconciles_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("sgprovisioner_reconciles_total in /metrics")
}

/// Deletes every set; (seconds until all are gone, groups and parameters left).
async fn delete_all(f: &Fixture, names: &[String]) -> (f64, usize) {
    let started = Instant::now();
    let params = kube::api::DeleteParams::default();
    for chunk in names.chunks(25) {
        futures::future::join_all(chunk.iter().map(|n| f.sets.delete(n, &params))).await;
    }
    for n in names {
        f.wait_gone(n, Duration::from_secs(3600)).await;
    }
    let took = started.elapsed().as_secs_f64();
    let mut left = 0;
    for n in names {
        left += f.group_count(n).await;
        let path = format!("/sg/{n}/");
        let out = f
            .ssm
            .get_parameters_by_path()
            .path(path)
            .recursive(true)
            .send()
            .await
            .unwrap();
        left += out.parameters().len();
    }
    (took, left)
}

#[tokio::main]
async fn main() {
    let a = args();
    let f = Fixture::new("scale").await;
    if a.throttle {
        f.emulator.configure(json!({"throttle": {"enabled": true}})).await;
    }
    let resync = format!("{}s", a.resync);
    let mut cargs = vec!["--resync-period", resync.as_str()];
    cargs.extend(a.controller.iter().map(String::as_str));
    // The log level a deployment has (the tests' debug logging costs CPU at 1,000 sets).
    let log = [("RUST_LOG", "info,aws_config=warn,aws_smithy_runtime=warn")];
    let controller = Controller::start_with_env(&f.ns, &f.key, &cargs, &log);
    let pid = controller.pid().expect("the controller runs");
    let rss_parts = sample_rss(pid);
    let names: Vec<String> = (0..a.sets)
        .map(|i| support::unique(&format!("scale{i}")))
        .collect();

    let watch = tokio::spawn(ready_times(f.sets.clone(), a.sets));
    let started = apply_all(&f, &names).await;
    let ready_at = watch.await.expect("the Ready watch");
    let counts = f.emulator.counts().await;
    let mut ready: Vec<f64> = ready_at.values().map(|at| at - started).collect();
    ready.sort_by(f64::total_cmp);
    let total = ready.last().copied().unwrap_or(0.0);
    let per_set = per_set_times(&ready_at, &counts);
    let bound = throttle_bound(&counts["outcomes"]);
    let writes = counts["writes"].as_f64().unwrap_or(0.0) / a.sets as f64;
    let minimum = minimum_writes(&f);

    eprintln!(
        "scale: {} sets Ready in {total:.1} s; no-op resyncs for {} s",
        a.sets,
        2 * a.resync
    );
    let idle = idle_window(&f, &controller, a.resync, a.sets).await;
    let rss_mib = proc_field(pid, "status", "VmHWM:").unwrap_or(0) as f64 / 1024.0;
    let (anon_kib, file_kib) = *rss_parts.lock().unwrap();

    let (delete_s, left) = delete_all(&f, &names).await;
    let report = json!({
        "sets": a.sets, "resync_s": a.resync, "throttle": a.throttle,
        "all_ready_s": total, "first_ready_s": quantile(&ready, 0.0),
        "p50_from_apply_s": quantile(&ready, 0.5), "p99_from_apply_s": quantile(&ready, 0.99),
        "p50_per_set_s": quantile(&per_set, 0.5), "p99_per_set_s": quantile(&per_set, 0.99),
        "throttle_bound_s": bound, "ratio": if bound > 0.0 { total / bound } else { 0.0 },
        "writes_per_set": writes, "minimum_writes_per_set": minimum, "throttled": counts["throttled"],
        "noop_reads_per_set_per_resync": idle["reads"],
        "noop_writes_per_set_per_resync": idle["writes"],
        "noop_reconciles_per_set_per_resync": idle["reconciles"],
        "peak_rss_mib": rss_mib, "peak_rss_anon_mib": anon_kib as f64 / 1024.0,
        "peak_rss_file_mib": file_kib as f64 / 1024.0, "idle_cpu_pct_of_core": idle["cpu_pct"],
        "delete_all_s": delete_s, "left_after_delete": left,
    });
    println!("\n| metric | value |\n|---|---|");
    for (k, v) in report.as_object().unwrap() {
        println!("| {k} | {v} |");
    }
    println!("{report}");
    assert_eq!(left, 0, "deletion left groups or parameters");
}
