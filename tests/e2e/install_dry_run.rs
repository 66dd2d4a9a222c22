//! The Helm chart's rendering against the real API server: server-side dry run of the default
//! and non-default values (with the CRDs they need), and the Deployment's pod admitted where the
//! `restricted` Pod Security Standard is enforced.

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::install::{CUSTOM, one};
use crate::support::tools::{documents, helm_template, kubectl, run};
use crate::support::{k8s, unique};

/// Applies (server-side) a minimal ServiceMonitor CRD, as the Prometheus Operator would.
async fn install_service_monitor_crd(client: &kube::Client) {
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
        "spec": {
            "group": "monitoring.coreos.com",
            "names": {"kind": "ServiceMonitor", "plural": "servicemonitors", "singular": "servicemonitor", "listKind": "ServiceMonitorList"},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}],
        },
    }))
    .unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        "servicemonitors.monitoring.coreos.com",
        &PatchParams::apply("sg-e2e").force(),
        &Patch::Apply(&crd),
    )
    .await
    .expect("apply the ServiceMonitor CRD");
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        kube::runtime::wait::await_condition(
            crds,
            "servicemonitors.monitoring.coreos.com",
            kube::runtime::wait::conditions::is_crd_established(),
        ),
    )
    .await
    .expect("ServiceMonitor CRD Established")
    .unwrap();
}

/// A namespace that warns about anything the `restricted` Pod Security Standard would refuse.
async fn restricted_namespace(client: &kube::Client, name: &str) {
    let ns: Namespace = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "labels": {
            "pod-security.kubernetes.io/warn": "restricted",
            "pod-security.kubernetes.io/enforce": "restricted",
        }},
    }))
    .unwrap();
    Api::<Namespace>::all(client.clone())
        .patch(name, &PatchParams::apply("sg-e2e").force(), &Patch::Apply(&ns))
        .await
        .expect("apply namespace");
}

#[tokio::test]
async fn rendered_chart_passes_server_side_dry_run() {
    let client = k8s::client().await;
    k8s::install_crd(&client).await;
    install_service_monitor_crd(&client).await;
    let ns = unique("install");
    for name in [ns.as_str(), "team-a", "team-b"] {
        restricted_namespace(&client, name).await;
    }
    for (label, extra) in [
        ("default values", vec!["--include-crds"]),
        ("ci/custom-values.yaml", vec!["-f", CUSTOM]),
    ] {
        let rendered = helm_template(&unique("sgp"), &ns, &extra);
        let out = run(
            &mut kubectl(&["apply", "--dry-run=server", "-f", "-"]),
            Some(rendered.as_bytes()),
        );
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            out.status.success(),
            "{label}: kubectl apply --dry-run=server failed:\n{stdout}\n{stderr}"
        );
        assert!(
            stdout.contains("deployment.apps/") && stdout.contains("(server dry run)"),
            "{label}: {stdout}"
        );
        // The API server's Pod Security admission warns about a workload's pod template.
        assert!(
            !stderr.contains("PodSecurity") && !stderr.contains("would violate"),
            "{label}: the pod template must meet the restricted Pod Security Standard:\n{stderr}"
        );
    }
    // A pod from the Deployment's template is admitted where `restricted` is enforced.
    let docs = documents(&helm_template("psa", &ns, &[]));
    let deploy = one(&docs, "Deployment");
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "sg-provisioner-psa", "namespace": ns},
        "spec": deploy["spec"]["template"]["spec"],
    });
    let out = run(
        &mut kubectl(&["create", "--dry-run=server", "-f", "-"]),
        Some(serde_json::to_string(&pod).unwrap().as_bytes()),
    );
    assert!(
        out.status.success(),
        "pod refused under enforce=restricted:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
