//! deploy/iam-policy.json: exactly the EC2, SSM and STS actions the code calls, mutations scoped
//! by the owner tag, SSM by parameter path, AssumeRole by role name; and parliament (IAM policy
//! lint) finds nothing.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::repo_root;
use crate::support::tools::{run, venv_tool};

const OWNER: &str = "sgprovisioner.io/owner";

fn policy() -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo_root().join("deploy/iam-policy.json")).unwrap())
        .expect("deploy/iam-policy.json is JSON")
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `snake_case` SDK method → `CamelCase` API operation.
fn camel(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Every `service:Operation` the controller's code calls, two ways: the `track("svc", "Op", ...)`
/// metric labels, and the SDK client calls themselves (`.ec2.create_tags()`); both must agree.
fn actions_in_code() -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(&repo_root().join("src"), &mut files);
    let (mut tracked, mut called) = (BTreeSet::new(), BTreeSet::new());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let squashed: String = text.split_whitespace().collect::<Vec<_>>().join("");
        for service in ["ec2", "ssm"] {
            // track("ec2","DescribeSecurityGroups", ...
            let needle = format!("track(\"{service}\",\"");
            for (i, _) in squashed.match_indices(&needle) {
                let rest = &squashed[i + needle.len()..];
                let op: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
                tracked.insert(format!("{service}:{op}"));
            }
            // permission_call!(self, authorize_security_group_ingress, "AuthorizeSecurityGroupIngress", ..):
            // the EC2 rule calls, sent and tracked by one macro in src/aws.
            if service == "ec2" {
                for (i, _) in squashed.match_indices("permission_call!(self,") {
                    let rest = &squashed[i + "permission_call!(self,".len()..];
                    let (method, rest) = rest.split_once(",\"").unwrap();
                    let op: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
                    assert_eq!(
                        camel(method),
                        op,
                        "permission_call! names its method and operation alike"
                    );
                    tracked.insert(format!("ec2:{op}"));
                    called.insert(format!("ec2:{op}"));
                }
            }
            // self.ec2.describe_security_groups() / ssm.get_parameter()
            let needle = format!(".{service}.");
            for (i, _) in squashed.match_indices(&needle) {
                let rest = &squashed[i + needle.len()..];
                let method: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if rest[method.len()..].starts_with("()") && !method.is_empty() {
                    called.insert(format!("{service}:{}", camel(&method)));
                }
            }
        }
    }
    // spec.aws.roleArn: aws-config's AssumeRoleProvider makes the one STS call (src/aws/assume.rs).
    let assume = std::fs::read_to_string(repo_root().join("src/aws/assume.rs")).unwrap();
    if assume.contains("AssumeRoleProvider::builder(") {
        tracked.insert("sts:AssumeRole".to_string());
        called.insert("sts:AssumeRole".to_string());
    }
    assert!(tracked.len() > 10, "found the tracked AWS calls: {tracked:?}");
    assert_eq!(
        tracked, called,
        "every SDK call goes through track() with its operation name (src/aws)"
    );
    tracked
}

fn list(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
        _ => vec![],
    }
}

#[test]
fn iam_policy_grants_exactly_the_actions_the_code_calls() {
    let used = actions_in_code();
    let policy = policy();
    let statements = policy["Statement"].as_array().unwrap();
    let mut granted = BTreeSet::new();
    for s in statements {
        assert!(
            s.get("NotAction").is_none() && s.get("NotResource").is_none(),
            "{s}"
        );
        for a in list(&s["Action"]) {
            assert!(!a.contains('*'), "no wildcard actions: {a}");
            if s["Effect"] == "Allow" {
                granted.insert(a);
            } else {
                assert!(used.contains(&a), "a Deny of an unused action is noise: {a}");
            }
        }
    }
    let missing: Vec<_> = used.difference(&granted).collect();
    let unused: Vec<_> = granted.difference(&used).collect();
    assert!(
        missing.is_empty() && unused.is_empty(),
        "deploy/iam-policy.json must grant exactly what src/ calls.\n  missing: {missing:?}\n  granted but never called: {unused:?}"
    );
}

#[test]
fn iam_policy_scopes_every_mutation() {
    let policy = policy();
    let statements = policy["Statement"].as_array().unwrap();
    let sg = "arn:aws:ec2:*:*:security-group/*";
    for s in statements.iter().filter(|s| s["Effect"] == "Allow") {
        let actions = list(&s["Action"]);
        let resources = list(&s["Resource"]);
        let condition = s["Condition"].to_string();
        for a in &actions {
            let op = a.split(':').nth(1).unwrap();
            if a.starts_with("ec2:Describe") {
                assert_eq!(resources, ["*"], "Describe has no resource-level permissions");
            } else if a.starts_with("ec2:") {
                assert!(
                    resources
                        .iter()
                        .all(|r| r == sg || (op == "CreateSecurityGroup" && r == "arn:aws:ec2:*:*:vpc/*")),
                    "{a}: security groups only: {resources:?}"
                );
                let scoped = condition.contains(&format!("aws:ResourceTag/{OWNER}"))
                    || condition.contains("ec2:CreateAction")
                    || op == "CreateSecurityGroup";
                assert!(scoped, "{a} must be conditioned on the owner tag: {s}");
            } else if a == "sts:AssumeRole" {
                // The roles sets name: scoped by name, never every role of every account.
                assert!(
                    resources.iter().all(|r| r.starts_with("arn:aws:iam::")
                        && r.contains(":role/")
                        && !r.ends_with(":role/*")),
                    "{a}: named roles only: {resources:?}"
                );
            } else {
                assert!(a.starts_with("ssm:"), "{a}");
                let ok = resources.iter().all(|r| {
                    r == "arn:aws:ssm:*:*:parameter/sg/*"
                        || (a == "ssm:GetParameter" && r == "arn:aws:ssm:*:*:parameter/vpc/*")
                });
                assert!(
                    ok,
                    "{a}: /sg/* parameters (and reading the VPC id parameters) only: {resources:?}"
                );
            }
        }
    }
    // Creating a group needs the owner tag (and ManagedBy) in the request: enforced by Deny.
    let denies_untagged_create = statements.iter().any(|s| {
        s["Effect"] == "Deny"
            && list(&s["Action"]) == ["ec2:CreateSecurityGroup"]
            && s["Condition"]["Null"][format!("aws:RequestTag/{OWNER}")] == "true"
    });
    assert!(
        denies_untagged_create,
        "CreateSecurityGroup is refused without aws:RequestTag/{OWNER}"
    );
    // Tags can be added to an unowned group only to adopt it (the request sets the owner).
    let adopt = statements
        .iter()
        .find(|s| s["Condition"]["Null"][format!("aws:ResourceTag/{OWNER}")] == "true")
        .expect("an adoption statement");
    assert_eq!(list(&adopt["Action"]), ["ec2:CreateTags"]);
    assert_eq!(
        adopt["Condition"]["Null"][format!("aws:RequestTag/{OWNER}")],
        "false"
    );
}

#[test]
fn parliament_finds_nothing_in_the_iam_policy() {
    let text = std::fs::read_to_string(repo_root().join("deploy/iam-policy.json")).unwrap();
    let parliament = |config: bool| {
        let mut cmd = Command::new(venv_tool("parliament"));
        cmd.args(["--minimum_severity", "INFO", "--include-community-auditors"]);
        if config {
            cmd.arg("--config")
                .arg(repo_root().join("deploy/iam-policy.parliament.yaml"));
        }
        run(cmd.arg("--string").arg(&text), None)
    };
    let out = parliament(true);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim().is_empty(),
        "parliament findings ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // Its config mutes one finding, which is the only one: AssumeRole returns credentials.
    let unconfigured = parliament(false);
    let findings: Vec<String> = String::from_utf8_lossy(&unconfigured.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert!(
        findings.len() == 1
            && findings[0].contains("Credentials exposure")
            && findings[0].contains("['sts:assumerole']"),
        "without deploy/iam-policy.parliament.yaml: {findings:?}"
    );
    // And it does find things: a policy with a typo'd action is reported.
    let bad = run(
        Command::new(venv_tool("parliament")).args([
            "--string",
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:CreateSecurityGroups","Resource":"*"}}"#,
        ]),
        None,
    );
    assert!(!bad.status.success(), "parliament must flag an unknown action");
}
