//! The packaging tests' tools: Helm (built from the Go module proxy), kubectl, the dev-tools
//! virtualenv (hadolint, parliament, lupa), and ServiceAccount kubeconfigs (TokenRequest).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};
use kube::config::Kubeconfig;
use serde_json::Value;

use super::{built, env, repo_root};

pub fn helm() -> PathBuf {
    PathBuf::from(built("SG_HELM_BIN"))
}

/// A program of the dev-tools virtualenv (`hadolint`, `parliament`, `python`).
pub fn venv_tool(name: &str) -> PathBuf {
    Path::new(&built("SG_TOOLS_VENV")).join("bin").join(name)
}

/// Runs `cmd` with `stdin` (if any) and returns its output; never panics on a non-zero exit.
pub fn run(cmd: &mut Command, stdin: Option<&[u8]>) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("start {:?}: {e}", cmd.get_program()));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_vec();
        // Written from a thread, so a large input cannot deadlock against a full stdout pipe.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    child.wait_with_output().expect("wait for the command")
}

/// Like [`run`], panicking with both streams unless the command succeeds; returns stdout.
pub fn run_ok(cmd: &mut Command, stdin: Option<&[u8]>) -> String {
    let what = format!("{cmd:?}");
    let out = run(cmd, stdin);
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `helm` in the repository root.
pub fn helm_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(helm());
    cmd.current_dir(repo_root())
        .args(args)
        // Helm keeps its caches and config under these: never the user's.
        .env("HELM_CACHE_HOME", std::env::temp_dir().join("sg-e2e-helm/cache"))
        .env(
            "HELM_CONFIG_HOME",
            std::env::temp_dir().join("sg-e2e-helm/config"),
        )
        .env("HELM_DATA_HOME", std::env::temp_dir().join("sg-e2e-helm/data"));
    cmd
}

/// `helm template RELEASE charts/sg-provisioner -n NS ARGS...`, the rendered YAML.
pub fn helm_template(release: &str, namespace: &str, args: &[&str]) -> String {
    let mut all = vec![
        "template",
        release,
        "charts/sg-provisioner",
        "--namespace",
        namespace,
    ];
    all.extend_from_slice(args);
    run_ok(&mut helm_cmd(&all), None)
}

/// `kubectl` against the test API server (`$SG_KUBECTL`, default the one on PATH).
pub fn kubectl(args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::var("SG_KUBECTL").unwrap_or_else(|_| "kubectl".into()));
    if let Some(k) = &env().kubeconfig {
        cmd.arg("--kubeconfig").arg(k);
    }
    cmd.args(args);
    cmd
}

/// The YAML documents of a multi-document stream, as JSON values (empty documents skipped).
pub fn documents(yaml: &str) -> Vec<Value> {
    yaml.split("\n---")
        .filter_map(|doc| {
            let v: Value = serde_saphyr::from_str(doc).unwrap_or_else(|e| panic!("YAML: {e}\n{doc}"));
            (!v.is_null()).then_some(v)
        })
        .collect()
}

/// A kubeconfig for `namespace/service_account`, with a token from TokenRequest, in `dir`.
pub async fn service_account_kubeconfig(
    client: &kube::Client,
    namespace: &str,
    service_account: &str,
    dir: &Path,
) -> PathBuf {
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![],
            expiration_seconds: Some(3600),
            ..Default::default()
        },
        ..Default::default()
    };
    let token = api
        .create_token_request(service_account, &PostParams::default(), &request)
        .await
        .expect("TokenRequest for the chart's ServiceAccount")
        .status
        .expect("TokenRequest status")
        .token;
    let admin = Kubeconfig::read_from(env().kubeconfig.as_ref().expect("a kubeconfig file"))
        .expect("read the admin kubeconfig");
    let cluster = admin.clusters[0].cluster.clone().expect("a cluster entry");
    let kubeconfig = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": {
            "server": cluster.server,
            "certificate-authority-data": cluster.certificate_authority_data,
        }}],
        "users": [{"name": service_account, "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": "test", "user": service_account, "namespace": namespace}}],
        "current-context": "sa",
    });
    let path = dir.join(format!("{service_account}.kubeconfig"));
    std::fs::write(&path, serde_json::to_vec_pretty(&kubeconfig).unwrap()).unwrap();
    path
}

/// Runs the Argo CD health check (`health_lua`, a script's text) on each object, as Argo CD
/// does (Lua 5.1); returns (status, message) per object.
pub fn argocd_health(health_lua: &str, objects: &[Value]) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("health.lua");
    std::fs::write(&script, health_lua).unwrap();
    let input = serde_json::to_vec(objects).unwrap();
    let out = run_ok(
        Command::new(venv_tool("python"))
            .arg(repo_root().join("tests/tools/lua_health.py"))
            .arg(&script),
        Some(&input),
    );
    let results: Vec<Value> = serde_json::from_str(&out).expect("lua_health.py prints JSON");
    results
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap_or("(none)").to_string(),
                r["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}
