//! Kubernetes helpers for the end-to-end tests.

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, Config};

pub const CRD_NAME: &str = "securitygroupsets.sgprovisioner.io";

pub async fn client() -> Client {
    let env = super::env();
    let config = match &env.kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path).expect("read kubeconfig");
            Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .expect("kubeconfig")
        }
        None => Config::infer().await.expect("infer kube config"),
    };
    Client::try_from(config).expect("kube client")
}

/// The checked-in CRD file, parsed.
pub fn checked_in_crd() -> CustomResourceDefinition {
    let text = include_str!("../../../crds/securitygroupsets.sgprovisioner.io.yaml");
    serde_saphyr::from_str(text).expect("crds/ parses as a CustomResourceDefinition")
}

/// Server-side applies the checked-in CRD and waits until it is Established.
pub async fn install_crd(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        CRD_NAME,
        &PatchParams::apply("sg-e2e").force(),
        &Patch::Apply(checked_in_crd()),
    )
    .await
    .expect("apply the CRD");
    tokio::time::timeout(
        Duration::from_secs(30),
        await_condition(crds, CRD_NAME, conditions::is_crd_established()),
    )
    .await
    .expect("CRD Established within 30 s")
    .expect("watch the CRD");
}

/// Creates a fresh namespace for one test. (A bare API server has no namespace controller, so
/// namespaces are not deleted afterwards: the objects in them are.)
pub async fn namespace(client: &Client, prefix: &str) -> String {
    let name = super::unique(prefix);
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
    name
}
