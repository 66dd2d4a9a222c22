//! The pipeline commands (`plan`, `apply`, `destroy`, `audit`) as a CI job runs them: the
//! binary, a YAML file, the emulator.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{IpPermission, IpRange, Ipv6Range};
use serde_json::{Value, json};

use crate::support::aws::{attach_interface, tcp_from_world};
use crate::support::fixture::Fixture;
use crate::support::run_cli;

/// Runs `sg-provisioner ARGS` signing with the fixture's key; (exit code, stdout, stderr).
fn cli(f: &Fixture, args: &[&str]) -> (i32, String, String) {
    run_cli(&f.key, args)
}

fn write_file(dir: &tempfile::TempDir, f: &Fixture, name: &str) -> String {
    let set = f.set(
        name,
        json!({"tiers": [
            {"name": "web", "ingress": [{"description": "https", "protocol": "tcp", "ports": 443, "from": [{"cidr": "0.0.0.0/0"}]}],
             "egress": [{"protocol": "tcp", "ports": 8080, "to": [{"tier": "app"}]}]},
            {"name": "app", "ingress": [{"protocol": "tcp", "ports": 8080, "from": [{"tier": "web"}]}]},
        ]}),
    );
    let path = dir.path().join(format!("{name}.yaml"));
    std::fs::write(&path, serde_saphyr::to_string(&set).unwrap()).unwrap();
    path.to_string_lossy().into_owned()
}

fn changes(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with(['+', '-', '~']))
        .collect()
}

#[tokio::test]
async fn plan_shows_creation_then_nothing_then_exactly_the_drift_with_zero_writes() {
    let f = Fixture::new("plan").await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(&dir, &f, "piped");

    let (code, out, err) = cli(&f, &["plan", "-f", &file]);
    assert_eq!(code, 2, "changes pending → exit 2\n{out}\n{err}");
    let planned = changes(&out);
    assert!(planned.contains(&"+ create group piped-web (tier web)"), "{out}");
    assert!(
        planned.contains(&"+ parameter /sg/piped/app/SecurityGroupId = (new app group)"),
        "{out}"
    );
    assert_eq!(f.writes().await, 0, "plan only reads");

    let (code, out, err) = cli(&f, &["apply", "-f", &file]);
    assert_eq!(code, 1, "no --yes and no terminal: refused\n{out}\n{err}");
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(f.writes().await, 0);
    let (code, out, err) = cli(&f, &["apply", "-f", &file, "--yes"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let writes_after_apply = f.writes().await;

    let (code, out, _) = cli(&f, &["plan", "-f", &file]);
    assert_eq!((code, changes(&out).len()), (0, 0), "{out}");
    assert!(out.contains("No changes"), "{out}");

    // Out of band: SSH from the internet on the web group.
    let web = f.groups("piped").await.remove("web").unwrap().group_id.unwrap();
    let ssh = tcp_from_world(22);
    f.ec2
        .authorize_security_group_ingress()
        .group_id(&web)
        .ip_permissions(ssh)
        .send()
        .await
        .unwrap();
    let (code, out, _) = cli(&f, &["plan", "-f", &file]);
    assert_eq!(code, 2, "{out}");
    assert_eq!(
        changes(&out),
        ["- revoke ingress web: tcp/22 from 0.0.0.0/0"],
        "{out}"
    );
    let (code, out, _) = cli(&f, &["plan", "-f", &file, "--output", "json"]);
    assert_eq!(code, 2);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["changes"], 1, "{doc}");
    assert_eq!(doc["sets"][0]["changes"][0]["kind"], "revoke", "{doc}");
    assert_eq!(f.writes().await, writes_after_apply, "no plan wrote anything");
}

#[tokio::test]
async fn apply_then_destroy_leaves_the_account_as_it_was() {
    let f = Fixture::new("destroy").await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(&dir, &f, "transient");
    let snapshot = || async {
        let groups = f
            .ec2
            .describe_security_groups()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("vpc-id")
                    .values(&f.vpc_id)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let ids: BTreeSet<String> = groups
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id.clone())
            .collect();
        let params = f
            .ssm
            .get_parameters_by_path()
            .path("/sg/transient/")
            .recursive(true)
            .send()
            .await
            .unwrap();
        (ids, params.parameters().len())
    };
    let before = snapshot().await;
    let (code, out, err) = cli(&f, &["apply", "-f", &file, "--yes"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let during = snapshot().await;
    assert_eq!(
        (during.0.len(), during.1),
        (before.0.len() + 2, 2),
        "two groups and two parameters made"
    );
    let (code, out, err) = cli(&f, &["destroy", "-f", &file, "--yes"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(snapshot().await, before);
}

#[tokio::test]
async fn audit_reports_exactly_the_expected_findings_in_every_format() {
    let f = Fixture::new("audit").await;
    let group = |name: &'static str, perms: Vec<IpPermission>| {
        let f = &f;
        async move {
            let id = f
                .ec2
                .create_security_group()
                .vpc_id(&f.vpc_id)
                .group_name(name)
                .description("audit")
                .send()
                .await
                .unwrap()
                .group_id
                .unwrap();
            if !perms.is_empty() {
                f.ec2
                    .authorize_security_group_ingress()
                    .group_id(&id)
                    .set_ip_permissions(Some(perms))
                    .send()
                    .await
                    .unwrap();
            }
            id
        }
    };
    let v4 = |proto: &str, from: i32, to: i32| {
        IpPermission::builder()
            .ip_protocol(proto)
            .from_port(from)
            .to_port(to)
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build()
    };
    let all = IpPermission::builder()
        .ip_protocol("-1")
        .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
        .build();
    let rdp6 = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(3389)
        .to_port(3389)
        .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
        .build();
    group("open-ssh", vec![v4("tcp", 22, 22)]).await;
    group("open-range", vec![v4("tcp", 0, 65535)]).await;
    group("open-all", vec![all]).await;
    group("open-rdp6", vec![rdp6]).await;
    group("open-8080", vec![v4("tcp", 8080, 8080)]).await;
    let web = group("web-in-use", vec![v4("tcp", 443, 443)]).await;
    attach_interface(&f.ec2, &f.vpc_id, "10.0.2.0/24", &web).await;

    let (code, out, err) = cli(&f, &["audit", "--vpc-id", &f.vpc_id, "--output", "json"]);
    assert_eq!(code, 1, "high findings fail by default\n{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let found: BTreeSet<(String, String)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["ruleId"].as_str().unwrap().to_string(),
                x["groupName"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut want: BTreeSet<(String, String)> = BTreeSet::new();
    for g in ["open-ssh", "open-range", "open-all", "open-rdp6"] {
        want.insert(("risky-port-public".into(), g.into()));
    }
    want.insert(("port-public".into(), "open-8080".into()));
    for g in ["open-ssh", "open-range", "open-all", "open-rdp6", "open-8080"] {
        want.insert(("unused-group".into(), g.into()));
    }
    assert_eq!(found, want, "{out}");
    assert_eq!(
        doc["findings"].as_array().unwrap().len(),
        want.len(),
        "no duplicates: {out}"
    );

    let (code, table, _) = cli(&f, &["audit", "--vpc-id", &f.vpc_id]);
    assert_eq!(code, 1);
    assert!(
        table.contains(&format!("{} finding(s) in 7 security group(s)", want.len())),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("HIGH") && l.contains("open-all")),
        "{table}"
    );
    let (code, _, _) = cli(&f, &["audit", "--vpc-id", &f.vpc_id, "--fail-on", "critical"]);
    assert_eq!(code, 0, "nothing critical");

    let (_, sarif, _) = cli(&f, &["audit", "--vpc-id", &f.vpc_id, "--output", "sarif"]);
    let sarif: Value = serde_json::from_str(&sarif).unwrap();
    let schema: Value = serde_json::from_str(include_str!("../fixtures/sarif-2.1.0-rtm.5.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the SARIF schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "SARIF output violates the 2.1.0 schema: {errors:#?}"
    );
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), want.len());
}
