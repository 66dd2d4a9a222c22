//! A private kube-apiserver for one test: for what must not touch the shared server, such as a
//! CustomResourceDefinition other than the checked-in one (the CRD is cluster-wide, and the
//! other tests run in parallel against the shared server). Started from the same test program
//! as the shared server (`tests/env/build`'s `SG_APISERVER_BIN`, ready in about 3 s); stopped
//! (SIGTERM, then SIGKILL) and its data removed on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, Config};
use serde_json::Value;

use super::{built, k8s, poll_async};

pub struct PrivateApiServer {
    child: Option<Child>,
    dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

impl PrivateApiServer {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// A server that [`Self::restart`] brings back as the same cluster (same port, CA, etcd data).
    pub async fn start_persistent() -> Self {
        Self::start_with(&["--persist"]).await
    }

    async fn start_with(args: &[&str]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("sg-private-apiserver-")
            .tempdir()
            .unwrap();
        let (child, kubeconfig) = spawn(dir.path(), args).await;
        PrivateApiServer {
            child: Some(child),
            dir,
            kubeconfig,
        }
    }

    /// Stops the server (SIGTERM) and starts it again on the same port with the same data,
    /// as a control-plane restart: clients keep their kubeconfig.
    pub async fn restart(&mut self) {
        let mut child = self.child.take().expect("running");
        super::terminate(std::slice::from_mut(&mut child), Duration::from_secs(10));
        let port = self.port().to_string();
        let (child, _) = spawn(self.dir.path(), &["--persist", "--port", &port]).await;
        self.child = Some(child);
    }

    /// The secure port, from the kubeconfig's server URL.
    fn port(&self) -> u16 {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig).expect("read kubeconfig");
        let server = kubeconfig.clusters[0]
            .cluster
            .as_ref()
            .unwrap()
            .server
            .clone()
            .unwrap();
        server
            .rsplit(':')
            .next()
            .unwrap()
            .trim_end_matches('/')
            .parse()
            .expect("a port")
    }

    pub async fn client(&self) -> Client {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig).expect("read kubeconfig");
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .expect("kubeconfig");
        Client::try_from(config).expect("kube client")
    }

    /// Installs the checked-in CRD without its CEL rules (`x-kubernetes-validations`), as an
    /// older CRD or one installed with validation off would be, and waits until Established.
    pub async fn install_crd_without_rules(&self, client: &Client) {
        self.install_loosened_crd(client, false).await;
    }

    /// As [`Self::install_crd_without_rules`], and without enums either: the server then
    /// stores values the controller's types cannot decode (an object from an older schema).
    pub async fn install_crd_without_rules_or_enums(&self, client: &Client) {
        self.install_loosened_crd(client, true).await;
    }

    async fn install_loosened_crd(&self, client: &Client, without_enums: bool) {
        let mut crd = serde_json::to_value(k8s::checked_in_crd()).unwrap();
        strip(&mut crd, "x-kubernetes-validations");
        if without_enums {
            strip(&mut crd, "enum");
        }
        let crd: CustomResourceDefinition = serde_json::from_value(crd).unwrap();
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        crds.patch(
            k8s::CRD_NAME,
            &PatchParams::apply("sg-e2e").force(),
            &Patch::Apply(crd),
        )
        .await
        .expect("apply the CRD without rules");
        tokio::time::timeout(
            Duration::from_secs(30),
            await_condition(crds, k8s::CRD_NAME, conditions::is_crd_established()),
        )
        .await
        .expect("CRD Established within 30 s")
        .expect("watch the CRD");
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("data/apiserver.log")).unwrap_or_default()
    }
}

/// Starts the test program on `dir` and waits for its KUBECONFIG line.
async fn spawn(dir: &std::path::Path, args: &[&str]) -> (Child, PathBuf) {
    let out = dir.join("apiserver.out");
    let err = dir.join("apiserver.err");
    let mut child = Command::new(built("SG_APISERVER_BIN"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(args)
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .expect("start a private kube-apiserver");
    let kubeconfig = poll_async(Duration::from_secs(60), "the private API server", || {
        let exited = child.try_wait().ok().flatten();
        let (out, err) = (out.clone(), err.clone());
        async move {
            if let Some(status) = exited {
                panic!(
                    "the private API server exited ({status}): {}",
                    std::fs::read_to_string(err).unwrap_or_default()
                );
            }
            std::fs::read_to_string(out)
                .ok()?
                .lines()
                .find_map(|l| l.strip_prefix("KUBECONFIG="))
                .map(PathBuf::from)
        }
    })
    .await;
    (child, kubeconfig)
}

/// Removes every `key` (a schema keyword) from a schema.
fn strip(v: &mut Value, key: &str) {
    match v {
        Value::Object(map) => {
            map.remove(key);
            map.values_mut().for_each(|v| strip(v, key));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| strip(v, key)),
        _ => {}
    }
}

impl Drop for PrivateApiServer {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        super::terminate(std::slice::from_mut(&mut child), Duration::from_secs(10));
    }
}
