//! The bad-input corpus (`tests/corpus/invalid`) and the examples through both gatekeepers: the
//! real API server (the generated CRD: schema and CEL rules, strict field validation) and the
//! offline `validate` (`sg_provisioner::cli::validate`). They must agree on every case: both
//! refuse each corpus case naming the expected field, both accept each example.

use std::path::PathBuf;

use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use sg_provisioner::api::{AwsAccount, SecurityGroupSet};
use sg_provisioner::cli::validate::{FindingKind, check_text};
use sg_provisioner::model::Limits;

use crate::support::k8s;

struct Case {
    file: String,
    text: String,
    /// The field as the API server names it (tiers by index), or `(yaml)` for a document the
    /// YAML parsers refuse as a whole.
    path: String,
    fragment: String,
}

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn manifests(dir: &str) -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(repo(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

fn corpus() -> Vec<Case> {
    let mut cases: Vec<Case> = manifests("tests/corpus/invalid")
        .into_iter()
        .map(|(file, text)| {
            let expect = text
                .lines()
                .find_map(|l| l.strip_prefix("# expect: "))
                .unwrap_or_else(|| panic!("{file}: no `# expect:` line"))
                .to_string();
            let (path, fragment) = expect.split_once(": ").unwrap();
            Case {
                path: path.into(),
                fragment: fragment.into(),
                file,
                text,
            }
        })
        .collect();
    // Generated, not checked in: a 1 MB object (a 1 MB description).
    cases.push(Case {
        file: "generated-1mb-object".into(),
        text: format!(
            "apiVersion: sgprovisioner.io/v1alpha1\nkind: SecurityGroupSet\nmetadata:\n  name: generated-1mb\n\
             spec:\n  vpc: {{id: vpc-0abc1234}}\n  tiers:\n    - name: web\n      description: {}\n",
            "x".repeat(1 << 20)
        ),
        path: "spec.tiers[0].description".into(),
        fragment: "may not be more than 255".into(),
    });
    cases
}

/// What the API server says to a create (dry run, strict field validation) of this YAML, sent
/// as it is: the server parses it, as it does `kubectl create -f`'s body. `Ok` when accepted.
async fn server_verdict(client: &Client, ns: &str, yaml: &str) -> Result<(), String> {
    let path = format!("/apis/sgprovisioner.io/v1alpha1/namespaces/{ns}/securitygroupsets");
    let pp = PostParams {
        dry_run: true,
        field_manager: Some("sg-e2e-corpus".into()),
    };
    let mut req = kube::core::Request::new(path)
        .create(&pp, yaml.as_bytes().to_vec())
        .unwrap();
    let uri = format!("{}&fieldValidation=Strict", req.uri());
    *req.uri_mut() = uri.parse().unwrap();
    req.headers_mut()
        .insert("content-type", "application/yaml".parse().unwrap());
    match client.request_text(req).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) => Err(status.message.clone()),
        Err(other) => Err(other.to_string()),
    }
}

/// `validate`'s verdict: `Ok` when it finds no problem, else every problem as
/// `api path: message`.
fn validate_verdict(file: &str, text: &str) -> Result<(), Vec<String>> {
    let checked = check_text(file, text, &Limits::default());
    let problems: Vec<String> = checked
        .findings
        .iter()
        .filter(|f| f.severity != FindingKind::Warning)
        .map(|f| format!("{}: {}", f.api_path, f.message))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[tokio::test]
async fn corpus_is_refused_by_the_api_server_and_validate_alike() {
    let client = k8s::client().await;
    k8s::install_crd(&client).await;
    let ns = k8s::namespace(&client, "corpus").await;
    let cases = corpus();
    assert!(cases.len() > 40, "{} cases", cases.len());

    let names = |path: &str, message: &str| path == "(yaml)" || message.contains(path);
    let mut disagreements = Vec::new();
    for case in &cases {
        let server = server_verdict(&client, &ns, &case.text).await;
        let local = validate_verdict(&case.file, &case.text);
        let server_ok = matches!(&server, Err(m) if m.contains(&case.fragment) && names(&case.path, m));
        let local_ok = matches!(&local, Err(ms) if ms.iter().any(|m| m.contains(&case.fragment) && names(&case.path, m)));
        if !(server_ok && local_ok) {
            disagreements.push(format!(
                "{}: want {}: {}\n  API server: {server:?}\n  validate:   {local:?}",
                case.file, case.path, case.fragment
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} cases:\n{}",
        disagreements.len(),
        cases.len(),
        disagreements.join("\n")
    );
}

#[tokio::test]
async fn examples_are_accepted_by_the_api_server_and_validate_alike() {
    let client = k8s::client().await;
    k8s::install_crd(&client).await;
    let ns = k8s::namespace(&client, "examples").await;
    let examples = manifests("examples");
    assert!(examples.len() >= 4, "{examples:?}");
    let mut failures = Vec::new();
    for (file, text) in &examples {
        // Into this test's namespace: the examples name their own.
        let mut set: SecurityGroupSet = serde_saphyr::from_str(text).unwrap();
        set.metadata.namespace = None;
        let yaml = serde_saphyr::to_string(&set).unwrap();
        let server = server_verdict(&client, &ns, &yaml).await;
        let local = validate_verdict(file, text);
        if server.is_err() || local.is_err() {
            failures.push(format!("{file}: API server {server:?}, validate {local:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `region`, `vpc` and `aws.roleArn` cannot change: the message says how to move a set instead.
#[tokio::test]
async fn placement_and_descriptions_are_immutable() {
    let client = k8s::client().await;
    k8s::install_crd(&client).await;
    let ns = k8s::namespace(&client, "immutable").await;
    let sets: Api<SecurityGroupSet> = Api::namespaced(client, &ns);
    let set = |region: &str, vpc: &str| {
        serde_json::from_value::<SecurityGroupSet>(json!({
            "apiVersion": "sgprovisioner.io/v1alpha1",
            "kind": "SecurityGroupSet",
            "metadata": {"name": "placed", "namespace": ns},
            "spec": {"region": region, "vpc": {"id": vpc}, "tiers": [{"name": "web"}]},
        }))
        .unwrap()
    };
    let apply = |s: SecurityGroupSet| {
        let sets = sets.clone();
        async move {
            sets.patch("placed", &PatchParams::apply("sg-e2e").force(), &Patch::Apply(&s))
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    };
    apply(set("us-west-2", "vpc-0abc1234")).await.expect("created");

    let moved = apply(set("eu-west-1", "vpc-0abc1234")).await.unwrap_err();
    assert!(
        moved.contains("spec.region")
            && moved.contains("region is immutable")
            && moved.contains("to move a set"),
        "{moved}"
    );
    let moved = apply(set("us-west-2", "vpc-0def5678")).await.unwrap_err();
    assert!(
        moved.contains("spec.vpc")
            && moved.contains("vpc is immutable")
            && moved.contains("deletionPolicy: Retain"),
        "{moved}"
    );
    // Nor the account: a role named (or another one) would leave the groups in the old one.
    let role = |arn: &str, external_id: Option<&str>| {
        let mut s = set("us-west-2", "vpc-0abc1234");
        s.spec.aws = Some(AwsAccount {
            role_arn: arn.into(),
            external_id: external_id.map(Into::into),
        });
        s
    };
    let (role_a, role_b) = (
        "arn:aws:iam::111111111111:role/a",
        "arn:aws:iam::111111111111:role/b",
    );
    let moved = apply(role(role_a, None)).await.unwrap_err();
    assert!(
        moved.contains("spec.aws") && moved.contains("aws.roleArn is immutable"),
        "{moved}"
    );
    // AWS cannot change a group's description: adding one (the default was used) or changing
    // it is refused, naming the tier's field. (No controller runs: the set has no finalizer.)
    let described = |d: &str| {
        let mut s = set("us-west-2", "vpc-0abc1234");
        s.spec.tiers[0].description = Some(d.into());
        s
    };
    let err = apply(described("Web tier")).await.unwrap_err();
    assert!(
        err.contains("spec.tiers[0].description") && err.contains("description is immutable"),
        "{err}"
    );
    sets.delete("placed", &DeleteParams::default()).await.unwrap();
    apply(described("Public web tier"))
        .await
        .expect("created with a description");
    let err = apply(described("Web tier")).await.unwrap_err();
    assert!(
        err.contains("spec.tiers[0].description") && err.contains("rename the tier"),
        "{err}"
    );
    // Other fields still change.
    let mut retagged = described("Public web tier");
    retagged.spec.tags.insert("Team".into(), "web".into());
    apply(retagged).await.expect("a tag change is accepted");
    sets.delete("placed", &DeleteParams::default()).await.unwrap();
    // A set in another account keeps its role; its ExternalId may change (rotated).
    apply(role(role_a, Some("ext-1")))
        .await
        .expect("created with a role");
    apply(role(role_a, Some("ext-2")))
        .await
        .expect("a new ExternalId is accepted");
    for moved in [role(role_b, Some("ext-2")), set("us-west-2", "vpc-0abc1234")] {
        let err = apply(moved).await.unwrap_err();
        assert!(err.contains("aws.roleArn is immutable"), "{err}");
    }
    sets.delete("placed", &DeleteParams::default()).await.unwrap();
}
