//! The end-to-end test environment: a real kube-apiserver and the AWS emulator.
//!
//! Which servers the tests use, in order:
//! 1. `SG_E2E_ENV_FILE=<file>`: the env file written by `tests/env/up` (servers already running).
//! 2. `SG_E2E_EXTERNAL=1`: the current `KUBECONFIG` and AWS environment as they are: a real
//!    cluster and a real AWS account. Tests that need the emulator's control API then fail
//!    loudly unless `SG_EMULATOR_CONTROL_URL` is set.
//! 3. Otherwise the servers are built if needed (`tests/env/build`) and started here, as children
//!    of this test process; they stop when it exits (atexit handler, and a parent-death watch in
//!    each server covers a killed test process).

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub mod apiserver;
pub mod aws;
pub mod controller;
pub mod fixture;
pub mod k8s;
pub mod sg;
pub mod tools;

pub struct TestEnv {
    pub kubeconfig: Option<PathBuf>,
    pub aws_endpoint: Option<String>,
    pub emulator_control: Option<String>,
    pub region: String,
}

static ENV: OnceLock<TestEnv> = OnceLock::new();
static STARTED: Mutex<Option<Started>> = Mutex::new(None);

struct Started {
    children: Vec<Child>,
    dir: tempfile::TempDir,
}

/// The shared environment, started on first use.
pub fn env() -> &'static TestEnv {
    ENV.get_or_init(|| {
        let env = if let Ok(file) = std::env::var("SG_E2E_ENV_FILE") {
            from_env_file(Path::new(&file))
        } else if std::env::var("SG_E2E_EXTERNAL").is_ok_and(|v| v == "1") {
            external()
        } else {
            start_local()
        };
        // Straight to stderr, past libtest's capture, so every test log says what it ran against.
        let _ = writeln!(
            std::io::stderr().lock(),
            "e2e: kube-apiserver {} at {}; AWS at {}; emulator control {}",
            server_version(&env),
            env.kubeconfig
                .as_ref()
                .map_or("(default kubeconfig)".into(), |p| p.display().to_string()),
            env.aws_endpoint.as_deref().unwrap_or("(real AWS)"),
            env.emulator_control.as_deref().unwrap_or("(none)"),
        );
        env
    })
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn from_env_file(path: &Path) -> TestEnv {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("SG_E2E_ENV_FILE={}: {e}", path.display()));
    let get = |key: &str| {
        text.lines()
            .filter_map(|l| l.trim().strip_prefix("export "))
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(str::to_string)
    };
    TestEnv {
        kubeconfig: get("KUBECONFIG").map(PathBuf::from),
        aws_endpoint: get("AWS_ENDPOINT_URL"),
        emulator_control: get("SG_EMULATOR_CONTROL_URL"),
        region: get("AWS_REGION").unwrap_or_else(|| "us-west-2".into()),
    }
}

fn external() -> TestEnv {
    TestEnv {
        kubeconfig: std::env::var("KUBECONFIG").ok().map(PathBuf::from),
        aws_endpoint: std::env::var("AWS_ENDPOINT_URL").ok(),
        emulator_control: std::env::var("SG_EMULATOR_CONTROL_URL").ok(),
        region: std::env::var("AWS_REGION").unwrap_or_else(|_| "us-west-2".into()),
    }
}

/// What `tests/env/build` printed (`KEY=value` lines), run once per test process.
fn build_output() -> &'static str {
    static BUILT: OnceLock<String> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = Command::new("bash")
            .arg(repo_root().join("tests/env/build"))
            .stderr(Stdio::inherit())
            .output()
            .expect("run tests/env/build");
        assert!(
            out.status.success(),
            "tests/env/build failed (see its output above)"
        );
        String::from_utf8(out.stdout).unwrap()
    })
}

/// A path `tests/env/build` printed, e.g. `SG_HELM_BIN` (built on first use, in any mode).
pub fn built(key: &str) -> String {
    build_output()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("tests/env/build printed no {key}"))
        .to_string()
}

fn start_local() -> TestEnv {
    let var = built;

    let dir = tempfile::Builder::new().prefix("sg-e2e-").tempdir().unwrap();
    let log = |name: &str| std::fs::File::create(dir.path().join(name)).unwrap();
    let apiserver = Command::new(var("SG_APISERVER_BIN"))
        .arg("--data-dir")
        .arg(dir.path().join("apiserver"))
        .stdout(log("apiserver.out"))
        .stderr(log("apiserver.err"))
        .stdin(Stdio::null())
        .spawn()
        .expect("start the kube-apiserver test program");
    let port_file = dir.path().join("emulator.port");
    let emulator = Command::new(var("SG_EMULATOR_PYTHON"))
        .arg(var("SG_EMULATOR_SCRIPT"))
        .args(["--port", "0", "--ready-file"])
        .arg(&port_file)
        .stdout(log("emulator.out"))
        .stderr(log("emulator.err"))
        .stdin(Stdio::null())
        .spawn()
        .expect("start the AWS emulator");
    let dir_path = dir.path().to_path_buf();
    *STARTED.lock().unwrap() = Some(Started {
        children: vec![apiserver, emulator],
        dir,
    });
    // SAFETY: registering a plain extern "C" function with no captured state.
    unsafe { libc::atexit(stop_started) };

    let apiserver_out = dir_path.join("apiserver.out");
    let (kubeconfig, port) = poll(Duration::from_secs(120), "servers ready", || {
        check_children_alive(&dir_path);
        let out = std::fs::read_to_string(&apiserver_out).ok()?;
        let kubeconfig = out
            .lines()
            .find_map(|l| l.strip_prefix("KUBECONFIG="))?
            .to_string();
        let port = std::fs::read_to_string(&port_file)
            .ok()?
            .trim()
            .parse::<u16>()
            .ok()?;
        Some((kubeconfig, port))
    });
    TestEnv {
        kubeconfig: Some(PathBuf::from(kubeconfig)),
        aws_endpoint: Some(format!("http://127.0.0.1:{port}")),
        emulator_control: Some(format!("http://127.0.0.1:{port}/_emulator")),
        region: "us-west-2".into(),
    }
}

fn check_children_alive(dir: &Path) {
    let mut guard = STARTED.lock().unwrap();
    let Some(started) = guard.as_mut() else { return };
    for (child, name) in started.children.iter_mut().zip(["apiserver", "emulator"]) {
        if let Ok(Some(status)) = child.try_wait() {
            let err = std::fs::read_to_string(dir.join(format!("{name}.err"))).unwrap_or_default();
            let tail: Vec<_> = err.lines().rev().take(30).collect();
            panic!(
                "{name} exited during start-up ({status}):\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }
}

extern "C" fn stop_started() {
    let Some(mut started) = STARTED.lock().ok().and_then(|mut g| g.take()) else {
        return;
    };
    terminate(&mut started.children, Duration::from_secs(15));
    drop(started.dir);
}

/// SIGTERM to each child, then waits up to `grace` for all of them; SIGKILL for the rest.
pub fn terminate(children: &mut [Child], grace: Duration) {
    for child in children.iter() {
        // SAFETY: signalling a child process we spawned and have not yet reaped.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    }
    let deadline = Instant::now() + grace;
    for child in children.iter_mut() {
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Polls `f` until it returns `Some`, panicking with `what` after `timeout`.
pub fn poll<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Async twin of [`poll`].
pub async fn poll_async<T, F, Fut>(timeout: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn server_version(env: &TestEnv) -> String {
    let mut cmd = Command::new("kubectl");
    if let Some(k) = &env.kubeconfig {
        cmd.arg("--kubeconfig").arg(k);
    }
    cmd.args(["version", "-o", "json"]);
    match cmd.output() {
        Ok(out) if out.status.success() => serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .ok()
            .and_then(|v| v["serverVersion"]["gitVersion"].as_str().map(str::to_string))
            .unwrap_or_else(|| "(unknown version)".into()),
        _ => "(version not readable)".into(),
    }
}

/// A name unique to this test run, for namespaces, VPC tags and access keys.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `sg-provisioner ARGS` against the test servers, signing with `access_key`; (exit code,
/// stdout, stderr).
pub fn run_cli(access_key: &str, args: &[&str]) -> (i32, String, String) {
    let env = env();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sg-provisioner"));
    cmd.args(args)
        .env("AWS_ACCESS_KEY_ID", access_key)
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", &env.region)
        .env_remove("AWS_PROFILE");
    if let Some(endpoint) = &env.aws_endpoint {
        cmd.env("AWS_ENDPOINT_URL", endpoint);
    }
    let out = cmd.output().expect("run sg-provisioner");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}
