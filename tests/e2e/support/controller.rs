//! The controller as a real process (`sg-provisioner run`), watching one test's namespace and
//! signing AWS calls with that test's access key. Killed (and reaped) on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub struct Controller {
    child: Option<Child>,
    log: PathBuf,
    _dir: tempfile::TempDir,
    namespace: String,
    access_key: String,
    args: Vec<String>,
    /// Extra environment, set last (e.g. another KUBECONFIG).
    env: Vec<(String, String)>,
    starts: u32,
}

/// The controller's command, behind `SG_CONTROLLER_WRAPPER` when that is set (a profiler,
/// e.g. `heaptrack -o /tmp/sg`: words split on whitespace). A wrapper runs in a process group
/// of its own, so that killing it also kills the controller it started (heaptrack's script
/// would otherwise leave the controller running).
fn wrapped(binary: &str) -> Command {
    use std::os::unix::process::CommandExt;
    let wrapper = wrapper();
    let mut words = wrapper.split_whitespace();
    match words.next() {
        None => Command::new(binary),
        Some(program) => {
            let mut cmd = Command::new(program);
            cmd.args(words).arg(binary).process_group(0);
            cmd
        }
    }
}

fn wrapper() -> String {
    std::env::var("SG_CONTROLLER_WRAPPER").unwrap_or_default()
}

impl Controller {
    /// Starts `sg-provisioner run --namespace NS` with a 3 s resync unless `args` say otherwise.
    pub fn start(namespace: &str, access_key: &str, args: &[&str]) -> Self {
        Self::start_with_env(namespace, access_key, args, &[])
    }

    /// As [`Controller::start`], with extra environment variables (set after the defaults).
    pub fn start_with_env(namespace: &str, access_key: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("sg-controller-")
            .tempdir()
            .unwrap();
        let mut c = Controller {
            child: None,
            log: dir.path().join("controller-0.log"),
            _dir: dir,
            namespace: namespace.into(),
            access_key: access_key.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            starts: 0,
        };
        c.spawn();
        c
    }

    fn spawn(&mut self) {
        let env = super::env();
        self.log = self._dir.path().join(format!("controller-{}.log", self.starts));
        self.starts += 1;
        let log = std::fs::File::create(&self.log).unwrap();
        let mut cmd = wrapped(env!("CARGO_BIN_EXE_sg-provisioner"));
        cmd.arg("run")
            .args(["--namespace", &self.namespace, "--metrics-addr", "127.0.0.1:0"])
            .args(if self.args.iter().any(|a| a == "--resync-period") {
                vec![]
            } else {
                vec!["--resync-period", "3s"]
            })
            .args(&self.args)
            .env("AWS_ACCESS_KEY_ID", &self.access_key)
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", &env.region)
            .env(
                "RUST_LOG",
                "info,sg_provisioner=debug,aws_config=warn,aws_smithy_runtime=warn",
            )
            .env_remove("AWS_PROFILE")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if let Some(k) = &env.kubeconfig {
            cmd.env("KUBECONFIG", k);
        }
        if let Some(endpoint) = &env.aws_endpoint {
            cmd.env("AWS_ENDPOINT_URL", endpoint);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        self.child = Some(cmd.spawn().expect("start sg-provisioner run"));
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            if !wrapper().trim().is_empty() {
                // The whole group: the wrapper and the controller it started (the leader is not
                // reaped yet, so the group id is still ours).
                let group = format!("-{}", child.id());
                let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// Every log line of every run so far.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for i in 0..self.starts {
            out += &std::fs::read_to_string(self._dir.path().join(format!("controller-{i}.log")))
                .unwrap_or_default();
        }
        out
    }

    /// The running process's id.
    /// The metrics server's address (host:port), as the controller's log announces it.
    pub fn metrics_addr(&self) -> String {
        let logs = self.logs();
        logs.lines()
            .find_map(|l| l.split("addr=").nth(1))
            .and_then(|a| a.split_whitespace().next())
            .expect("the metrics address in the controller's log")
            .trim_matches('"')
            .to_string()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends `signal` (e.g. SIGSTOP, SIGCONT) to the running process.
    pub fn signal(&self, signal: i32) {
        let pid = self.pid().expect("running") as i32;
        // SAFETY: a child this value started and has not reaped (its pid cannot be reused).
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill({pid}, {signal})");
    }

    /// The exit status, once the process has ended by itself (reaped here).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok().flatten()?;
        self.child = None;
        Some(status)
    }

    pub fn log_path(&self) -> PathBuf {
        self.log.clone()
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let logs = self.logs();
            let tail: Vec<&str> = logs.lines().rev().take(40).collect();
            eprintln!(
                "--- controller log (last 40 lines) ---\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        self.kill9();
    }
}
