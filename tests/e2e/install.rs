//! The Helm chart with real Helm (built from the Go module proxy), offline: lint, render
//! (default and non-default values), schema refusals, and the raw manifests in deploy/ being the
//! chart's current rendering. The rendering applied to the real API server: `install_dry_run`.

use std::process::Command;

use serde_json::{Value, json};

use crate::support::repo_root;
use crate::support::tools::{documents, helm, helm_cmd, helm_template, run, run_ok};

pub(crate) const CUSTOM: &str = "charts/sg-provisioner/ci/custom-values.yaml";

fn find<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

pub(crate) fn one<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found = find(docs, kind);
    assert_eq!(found.len(), 1, "exactly one {kind}: {found:#?}");
    found[0]
}

#[test]
fn helm_lint_passes_with_default_and_non_default_values() {
    for extra in [vec![], vec!["-f", CUSTOM]] {
        let mut args = vec!["lint", "--strict", "charts/sg-provisioner"];
        args.extend(extra);
        let out = run_ok(&mut helm_cmd(&args), None);
        assert!(out.contains("0 chart(s) failed"), "{out}");
    }
}

#[test]
fn invalid_values_are_refused_by_the_schema() {
    let cases: &[(&[&str], &str)] = &[
        (&["--set", "logFormat=xml"], "/logFormat"),
        (&["--set", "replicas=0"], "/replicas"),
        (
            &["--set", "replicas=2", "--set", "leaderElection.enabled=false"],
            "/leaderElection/enabled",
        ),
        (&["--set", "region=Oregon"], "/region"),
        (&["--set", "resyncPeriod=often"], "/resyncPeriod"),
        (
            &["--set", "leaderElection.leaseDuration=15"],
            "/leaderElection/leaseDuration",
        ),
        (&["--set", "watchNamespaces={Team_A}"], "/watchNamespaces/0"),
        (
            &["--set", "serviceAccount.roleArn=my-role"],
            "/serviceAccount/roleArn",
        ),
        (&["--set", "aws.endpoint=ftp://example"], "/aws/endpoint"),
        (&["--set", "allowedRoleArns={sg-*}"], "/allowedRoleArns/0"),
        (&["--set", "metrics.port=80"], "/metrics/port"),
        (&["--set", "image.digest=latest"], "/image/digest"),
        (&["--set", "maxIngressRules=-1"], "/maxIngressRules"),
        (
            &["--set", "replica=1"],
            "additional properties 'replica' not allowed",
        ),
        (
            &["--set", "leaderElection.enable=true"],
            "additional properties 'enable' not allowed",
        ),
    ];
    for (args, needle) in cases {
        let mut all = vec!["template", "x", "charts/sg-provisioner"];
        all.extend_from_slice(args);
        let out = run(&mut helm_cmd(&all), None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{args:?} must be refused, rendered:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            stderr.contains("values don't meet the specifications of the schema") && stderr.contains(needle),
            "{args:?}: expected a schema error naming {needle}, got:\n{stderr}"
        );
    }
}

#[test]
fn default_values_render_a_hardened_least_privilege_install() {
    let docs = documents(&helm_template("sg-provisioner", "sg-provisioner", &[]));
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    for kind in [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
    ] {
        assert!(kinds.contains(&kind), "{kind} rendered: {kinds:?}");
    }
    assert!(
        !kinds.contains(&"ServiceMonitor"),
        "ServiceMonitor is off by default"
    );

    // RBAC: the sets (read, finalizer patch, finalizers, status), the ConfigMap output, Events,
    // the Lease. Nothing else.
    let rules: Vec<(Vec<String>, Vec<String>, Vec<String>)> = one(&docs, "ClusterRole")["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let strings = |k: &str| -> Vec<String> {
                r[k].as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect()
            };
            (strings("apiGroups"), strings("resources"), strings("verbs"))
        })
        .collect();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        rules,
        vec![
            (
                s(&["sgprovisioner.io"]),
                s(&["securitygroupsets"]),
                s(&["get", "list", "watch"])
            ),
            (s(&["sgprovisioner.io"]), s(&["securitygroupsets"]), s(&["patch"])),
            (
                s(&["sgprovisioner.io"]),
                s(&["securitygroupsets/finalizers"]),
                s(&["update"])
            ),
            (
                s(&["sgprovisioner.io"]),
                s(&["securitygroupsets/status"]),
                s(&["patch"])
            ),
            (
                s(&[""]),
                s(&["configmaps"]),
                s(&["get", "list", "create", "patch", "delete"])
            ),
            (s(&["events.k8s.io"]), s(&["events"]), s(&["create", "patch"])),
        ]
    );
    let lease_role = one(&docs, "Role");
    assert_eq!(
        lease_role["rules"],
        json!([
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": ["sg-provisioner"], "verbs": ["get", "update"]},
        ])
    );

    let sa = one(&docs, "ServiceAccount");
    assert_eq!(sa["automountServiceAccountToken"], false);
    assert!(
        sa["metadata"]["annotations"].is_null(),
        "no IRSA annotation unless roleArn is set"
    );

    let deploy = one(&docs, "Deployment");
    assert_eq!(deploy["spec"]["replicas"], 2);
    let pod = &deploy["spec"]["template"]["spec"];
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
    assert!(
        c["resources"]["requests"]["cpu"].is_string() && c["resources"]["requests"]["memory"].is_string()
    );
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for want in [
        "run",
        "--leader-elect=true",
        "--leader-election-id=sg-provisioner",
        "--log-format=json",
        "--resync-period=5m",
        "--cluster-name=default",
    ] {
        assert!(args.contains(&want), "{want} in {args:?}");
    }
    assert!(
        !args.iter().any(|a| a.starts_with("--namespace")),
        "all namespaces by default"
    );
    assert!(
        !args.iter().any(|a| a.starts_with("--allowed-role-arns")),
        "no role by default"
    );
    // The one token: projected, expiring, mounted where the in-cluster config reads it.
    let volumes = pod["volumes"].as_array().unwrap();
    assert_eq!(volumes.len(), 1, "{volumes:#?}");
    let sources = volumes[0]["projected"]["sources"].as_array().unwrap();
    assert_eq!(sources[0]["serviceAccountToken"]["path"], "token");
    assert_eq!(
        c["volumeMounts"][0]["mountPath"],
        "/var/run/secrets/kubernetes.io/serviceaccount"
    );
}

#[test]
fn non_default_values_render_as_asked() {
    let docs = documents(&helm_template("prod", "platform", &["-f", CUSTOM]));
    assert!(
        find(&docs, "ClusterRole").is_empty(),
        "watchNamespaces: no cluster-wide RBAC"
    );
    let roles = find(&docs, "Role");
    let namespaces: Vec<&str> = roles
        .iter()
        .map(|r| r["metadata"]["namespace"].as_str().unwrap())
        .collect();
    assert_eq!(
        namespaces,
        ["team-a", "team-b", "platform"],
        "one Role per watched namespace + the Lease's"
    );
    let sa = one(&docs, "ServiceAccount");
    assert_eq!(sa["metadata"]["name"], "sg-controller");
    assert_eq!(
        sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::123456789012:role/sg-provisioner"
    );
    let deploy = one(&docs, "Deployment");
    assert_eq!(deploy["spec"]["replicas"], 3);
    let c = &deploy["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c["image"],
        "registry.internal/platform/sg-provisioner@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    );
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for want in [
        "--namespace=team-a,team-b",
        "--allowed-role-arns=arn:aws:iam::123456789012:role/sg-*,arn:aws:iam::*:role/shared-sg",
        "--region=eu-central-1",
        "--cluster-name=prod-eks-1",
        "--leader-election-id=sg-provisioner-prod",
        "--leader-election-lease-duration=30s",
        "--metrics-addr=0.0.0.0:9090",
        "--log-format=text",
        "--resync-period=10m",
        "--max-ingress-rules=100",
    ] {
        assert!(args.contains(&want), "{want} in {args:?}");
    }
    let env: Vec<(&str, &str)> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| Some((e["name"].as_str()?, e["value"].as_str()?)))
        .collect();
    assert!(env.contains(&(
        "AWS_ENDPOINT_URL",
        "https://vpce-0abc.ec2.eu-central-1.vpce.amazonaws.com"
    )));
    assert!(env.contains(&("AWS_REGION", "eu-central-1")));
    let monitor = one(&docs, "ServiceMonitor");
    assert_eq!(monitor["spec"]["endpoints"][0]["interval"], "15s");
    assert_eq!(monitor["metadata"]["labels"]["release"], "prometheus");
}

#[test]
fn deploy_manifests_and_chart_crd_are_current() {
    let out = run(
        Command::new("bash")
            .arg(repo_root().join("deploy/render"))
            .arg("--check")
            .env("HELM", helm()),
        None,
    );
    assert!(
        out.status.success(),
        "deploy/ or the chart's crds/ is stale: run deploy/render\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let chart_crd = std::fs::read_to_string(
        repo_root().join("charts/sg-provisioner/crds/securitygroupsets.sgprovisioner.io.yaml"),
    )
    .unwrap();
    let crd =
        std::fs::read_to_string(repo_root().join("crds/securitygroupsets.sgprovisioner.io.yaml")).unwrap();
    assert_eq!(chart_crd, crd, "the chart ships the generated CRD");
}
