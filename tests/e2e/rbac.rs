//! The chart's RBAC, enforced by the real API server: the controller runs as a process with a
//! TokenRequest token of the chart's ServiceAccount (not as admin). With the chart's rules it
//! converges the seed's 3-tier example; with one rule removed it stalls with Forbidden.

use std::process::Command;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde_json::Value;
use sg_provisioner::api::{ConfigMapOutput, Outputs, SecurityGroupSet};

use crate::support::controller::Controller;
use crate::support::fixture::{Fixture, TIMEOUT, condition, current};
use crate::support::tools::{
    argocd_health, documents, helm_template, kubectl, run, run_ok, service_account_kubeconfig,
};
use crate::support::{poll_async, repo_root, unique};

/// The chart, rendered with default values into the fixture's namespace, and applied.
/// Deletes what it applied on drop (cluster-scoped RBAC included).
struct Installed {
    yaml: String,
    release: String,
}

impl Installed {
    fn apply(f: &Fixture, edit: impl FnOnce(&mut Vec<Value>)) -> Self {
        let release = unique("sgp-rbac");
        let mut docs = documents(&helm_template(&release, &f.ns, &[]));
        edit(&mut docs);
        let yaml = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": docs}).to_string();
        run_ok(
            &mut kubectl(&["apply", "--server-side", "--field-manager=sg-e2e", "-f", "-"]),
            Some(yaml.as_bytes()),
        );
        Installed { yaml, release }
    }

    fn service_account(&self) -> String {
        // Default values: the ServiceAccount is named after the release's full name.
        format!("{}-sg-provisioner", self.release)
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = run(
            &mut kubectl(&["delete", "--ignore-not-found", "--wait=false", "-f", "-"]),
            Some(self.yaml.as_bytes()),
        );
    }
}

/// The seed's example, renamed (set names are global in SSM), reading its VPC from a
/// parameter of its own (so parallel tests do not overwrite each other's), and publishing its
/// ids in a ConfigMap too (so the chart's ConfigMap rules are exercised).
async fn seed_example(f: &Fixture) -> SecurityGroupSet {
    let mut set: SecurityGroupSet = serde_saphyr::from_str(include_str!(
        "../../examples/globalbank-prod-c001-us-west-2-sg.yaml"
    ))
    .unwrap();
    let name = unique("globalbank-rbac");
    let vpc_param = format!("/vpc/{name}-vpc/VPCId");
    f.ssm
        .put_parameter()
        .name(&vpc_param)
        .value(&f.vpc_id)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .unwrap();
    set.metadata.name = Some(name);
    set.metadata.namespace = Some(f.ns.clone());
    set.spec.vpc.parameter_path = Some(vpc_param);
    set.spec.outputs = Some(Outputs {
        config_map: Some(ConfigMapOutput {
            name: "seed-ids".into(),
        }),
    });
    set
}

fn start_as_service_account(f: &Fixture, kubeconfig: &std::path::Path) -> Controller {
    let kubeconfig = kubeconfig.to_str().unwrap();
    Controller::start_with_env(
        &f.ns,
        &f.key,
        &["--leader-elect", "--leader-election-namespace", &f.ns],
        &[("KUBECONFIG", kubeconfig)],
    )
}

fn health(set: &SecurityGroupSet) -> (String, String) {
    let lua = std::fs::read_to_string(repo_root().join("deploy/argocd/health.lua")).unwrap();
    argocd_health(&lua, &[serde_json::to_value(set).unwrap()]).remove(0)
}

#[tokio::test]
async fn chart_rbac_converges_the_seed_example_as_the_service_account() {
    let f = Fixture::new("rbac").await;
    let installed = Installed::apply(&f, |_| {});
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig =
        service_account_kubeconfig(&f.client, &f.ns, &installed.service_account(), dir.path()).await;
    // The token is the ServiceAccount's, and RBAC applies to it: it cannot list namespaces.
    let denied = run(
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["get", "namespaces"]),
        None,
    );
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("forbidden"),
        "the ServiceAccount must not be admin: {denied:?}"
    );

    let controller = start_as_service_account(&f, &kubeconfig);
    let set = seed_example(&f).await;
    let name = set.metadata.name.clone().unwrap();
    f.apply(&set).await;
    let ready = f.wait_ready(&name).await;
    assert_eq!(ready.status.as_ref().unwrap().tiers_ready.as_deref(), Some("3/3"));
    let groups = f.groups(&name).await;
    assert_eq!(groups.keys().collect::<Vec<_>>(), ["app", "db", "web"]);
    for tier in ["web", "app", "db"] {
        let param = format!("/sg/{name}/{tier}/SecurityGroupId");
        assert_eq!(
            f.parameter(&param).await.as_deref(),
            groups[tier].group_id(),
            "{param}"
        );
    }
    assert_eq!(health(&ready).0, "Healthy");
    let config_maps: Api<ConfigMap> = Api::namespaced(f.client.clone(), &f.ns);
    let ids = poll_async(TIMEOUT, "the seed-ids ConfigMap", || async {
        config_maps.get_opt("seed-ids").await.ok().flatten()?.data
    })
    .await;
    assert_eq!(ids.len(), 3, "{ids:?}");

    // Deletion needs the finalizer patch too, and the ConfigMap goes with the set.
    f.delete_and_wait_gone(&name).await;
    assert_eq!(f.group_count(&name).await, 0);
    assert_eq!(config_maps.get_opt("seed-ids").await.unwrap(), None);
    let logs = controller.logs();
    assert!(logs.contains("became the leader"), "{logs}");
    assert!(
        !logs.to_lowercase().contains("forbidden"),
        "no RBAC denial with the chart's rules:\n{logs}"
    );
}

#[tokio::test]
async fn without_the_finalizer_patch_rule_the_set_stalls_with_forbidden() {
    let f = Fixture::new("rbac-deny").await;
    // Remove exactly one rule: patch on securitygroupsets (adding the finalizer).
    let installed = Installed::apply(&f, |docs| {
        let role = docs.iter_mut().find(|d| d["kind"] == "ClusterRole").unwrap();
        let rules = role["rules"].as_array_mut().unwrap();
        let before = rules.len();
        rules.retain(|r| {
            !(r["resources"] == serde_json::json!(["securitygroupsets"])
                && r["verbs"] == serde_json::json!(["patch"]))
        });
        assert_eq!(rules.len(), before - 1);
    });
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig =
        service_account_kubeconfig(&f.client, &f.ns, &installed.service_account(), dir.path()).await;
    let controller = start_as_service_account(&f, &kubeconfig);
    let set = seed_example(&f).await;
    let name = set.metadata.name.clone().unwrap();
    f.apply(&set).await;

    let stalled = f
        .wait_for(&name, "Stalled=True with reason Forbidden", |s| {
            current(s) && condition(s, "Stalled").is_some_and(|c| c.0 == "True" && c.1 == "Forbidden")
        })
        .await;
    let (_, _, message) = condition(&stalled, "Stalled").unwrap();
    let sa = format!("system:serviceaccount:{}:{}", f.ns, installed.service_account());
    assert!(
        message.contains("forbidden")
            && message.contains(&sa)
            && message.contains("cannot patch resource \"securitygroupsets\""),
        "status names who may not do what: {message}"
    );
    assert_eq!(condition(&stalled, "Ready").unwrap().0, "False");
    assert_eq!(health(&stalled).0, "Degraded");
    let logs = controller.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("reconcile failed") && l.contains("Forbidden"))
        .unwrap_or_else(|| panic!("a reconcile failed ... Forbidden log line:\n{logs}"));
    assert!(
        line.contains(&sa) && line.contains("cannot patch resource") && line.contains("securitygroupsets"),
        "the log says who may not do what: {line}"
    );
    eprintln!("controller log: {line}");
    assert_eq!(
        f.writes().await,
        0,
        "nothing is written to AWS before the finalizer is on"
    );
    // No finalizer was added, so the set goes at once.
    f.delete_and_wait_gone(&name).await;
}
