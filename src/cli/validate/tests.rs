use std::path::PathBuf;

use super::*;

const SEED: &str = include_str!("../../../examples/globalbank-prod-c001-us-west-2-sg.yaml");

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `api path: message` of every error and unreadable finding.
fn problems(text: &str) -> Vec<String> {
    check_text("t.yaml", text, &Limits::default())
        .findings
        .iter()
        .filter(|f| f.severity != FindingKind::Warning)
        .map(|f| format!("{}: {}", f.api_path, f.message))
        .collect()
}

fn set(spec: &str) -> String {
    format!(
        "apiVersion: sgprovisioner.io/v1alpha1\nkind: SecurityGroupSet\nmetadata: {{name: s}}\nspec:\n  vpc: {{id: vpc-0abc1234}}\n{spec}"
    )
}

#[test]
fn seed_example_is_clean() {
    let checked = check_text("seed.yaml", SEED, &Limits::default());
    assert_eq!(checked.documents, 1);
    assert_eq!(checked.findings, vec![]);
    assert_eq!(exit_code(&checked.findings), 0);
}

#[test]
fn every_example_is_valid() {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(repo("examples")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let checked = check_text(&path.display().to_string(), &text, &Limits::default());
        assert!(checked.documents >= 1, "{}: no SecurityGroupSet", path.display());
        let bad: Vec<_> = checked
            .findings
            .iter()
            .filter(|f| f.severity != FindingKind::Warning)
            .collect();
        assert!(bad.is_empty(), "{bad:#?}");
        names.push(path);
    }
    assert!(names.len() >= 3, "{names:?}");
}

/// The Rust half of the corpus parity test (the e2e test adds the API server).
#[test]
fn every_corpus_case_is_refused_naming_its_field() {
    let cases = corpus();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let mut failures = Vec::new();
    for (file, text, path, fragment) in &cases {
        let checked = check_text(file, text, &Limits::default());
        let code = exit_code(&checked.findings);
        let found = checked.findings.iter().any(|f| {
            f.severity != FindingKind::Warning
                && f.message.contains(fragment.as_str())
                && (path == "(yaml)" || format!("{}: {}", f.api_path, f.message).contains(path.as_str()))
        });
        if code == 0 || !found {
            failures.push(format!(
                "{file}: want {path}: {fragment}; got {:#?}",
                checked.findings
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// (file, text, path, fragment) of every `tests/corpus/invalid` case.
fn corpus() -> Vec<(String, String, String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(repo("tests/corpus/invalid"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let expect = text
                .lines()
                .find_map(|l| l.strip_prefix("# expect: "))
                .unwrap_or_else(|| panic!("{}: no `# expect:` line", p.display()));
            let (path, fragment) = expect.split_once(": ").unwrap();
            (
                p.display().to_string(),
                text.clone(),
                path.to_string(),
                fragment.to_string(),
            )
        })
        .collect()
}

#[test]
fn api_path_turns_tier_names_into_indexes() {
    let doc: Value = serde_json::json!({"spec": {"tiers": [{"name": "web"}, {"name": "db"}]}});
    let cases = [
        (
            "spec.tiers[name=db].ingress[0].from[1].cidr",
            "spec.tiers[1].ingress[0].from[1].cidr",
        ),
        ("spec.tiers[name=web]", "spec.tiers[0]"),
        ("spec.tiers[name=gone].name", "spec.tiers[name=gone].name"),
        ("spec.vpc.id", "spec.vpc.id"),
        ("spec.tiers[1].name", "spec.tiers[1].name"),
    ];
    for (path, want) in cases {
        assert_eq!(api_path(path, &doc), want, "{path}");
    }
}

#[test]
fn findings_are_printed_as_file_document_path_message() {
    let text = format!(
        "{SEED}---\n{}",
        set(
            "  tiers:\n    - name: web\n      ingress:\n        - {protocol: tcp, ports: 443, from: [{cidr: 10.0.0.1/16}]}\n"
        )
    );
    let checked = check_text("sets.yaml", &text, &Limits::default());
    assert_eq!(checked.documents, 2);
    let lines: Vec<String> = checked.findings.iter().map(|f| f.to_string()).collect();
    assert_eq!(
        lines,
        [
            "sets.yaml:2: spec.tiers[name=web].ingress[0].from[0].cidr: 10.0.0.1/16 has host bits set: did you mean 10.0.0.0/16?"
        ]
    );
    assert_eq!(exit_code(&checked.findings), 1);
}

#[test]
fn every_problem_of_a_document_is_reported() {
    // A peer with two keys (a schema error) does not hide the rest.
    let got = problems(&set(
        "  region: mars\n  tiers:\n    - name: web\n      ingress:\n        - {protocol: tcp, ports: 99999, from: [{cidr: 10.0.0.0/8, tier: web}]}\n        - {protocol: sctp, from: [{cidr: 10.0.0.1/8}]}\n",
    ));
    let want = [
        "spec.tiers[0].ingress[0].from[0]: must validate one and only one schema",
        "spec.region: mars is not an AWS region name",
        "spec.tiers[0].ingress[0].ports: ports out of range",
        "spec.tiers[0].ingress[1].protocol: unknown protocol sctp",
        "spec.tiers[0].ingress[1].from[0].cidr: 10.0.0.1/8 has host bits set",
    ];
    for w in want {
        assert!(got.iter().any(|g| g.starts_with(w)), "want {w}, got {got:#?}");
    }
}

#[test]
fn a_field_refused_by_the_schema_is_not_reported_again() {
    let got = problems(&set(&format!(
        "  tiers:\n    - name: web\n      description: {}\n",
        "x".repeat(300)
    )));
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(
        got[0].starts_with("spec.tiers[0].description: Too long"),
        "{got:?}"
    );
}

#[test]
fn other_kinds_are_skipped_and_wrong_versions_reported() {
    let checked = check_text(
        "mixed.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\nreplicas: 3\n",
        &Limits::default(),
    );
    assert_eq!((checked.documents, checked.findings.len()), (0, 0));
    let got = problems(&set("  tiers: [{name: web}]\n").replace("v1alpha1", "v1"));
    assert!(
        got.iter()
            .any(|g| g.starts_with("apiVersion: must be sgprovisioner.io/v1alpha1")),
        "{got:?}"
    );
}

#[test]
fn unreadable_yaml_exits_2() {
    for text in ["spec: {", "a: 1\na: 2\n"] {
        let checked = check_text("bad.yaml", text, &Limits::default());
        assert_eq!(checked.findings.len(), 1, "{text}");
        assert_eq!(checked.findings[0].severity, FindingKind::Unreadable);
        assert!(
            checked.findings[0].message.starts_with("YAML: "),
            "{:?}",
            checked.findings
        );
        assert_eq!(exit_code(&checked.findings), 2);
    }
}

#[test]
fn the_audit_warns_about_ports_other_than_80_and_443_open_to_the_world() {
    let text = set(
        "  tiers:\n    - name: web\n      ingress:\n        - {protocol: tcp, ports: 443, from: [{cidr: 0.0.0.0/0}]}\n        - {protocol: tcp, ports: 8080, from: [{cidr: 10.0.0.0/8}, {ipv6Cidr: \"::/0\"}]}\n        - {protocol: icmp, from: [{cidr: 0.0.0.0/0}]}\n        - {protocol: tcp, ports: 22, from: [{cidr: 0.0.0.0/0}]}\n",
    );
    let checked = check_text("w.yaml", &text, &Limits::default());
    let lines: Vec<String> = checked
        .findings
        .iter()
        .map(|f| format!("{:?} {}", f.severity, f.api_path))
        .collect();
    assert_eq!(
        lines,
        [
            "Error spec.tiers[0].ingress[3].from[0]",
            "Warning spec.tiers[0].ingress[1].from[1]",
            "Warning spec.tiers[0].ingress[2].from[0]",
        ],
        "{:#?}",
        checked.findings
    );
    // Allowed risky ports are still worth a warning.
    let allowed = text.replace("  tiers:", "  allowPublicRiskyPorts: true\n  tiers:");
    let checked = check_text("w.yaml", &allowed, &Limits::default());
    assert_eq!(exit_code(&checked.findings), 0);
    assert_eq!(checked.findings.len(), 3, "{:#?}", checked.findings);
}

#[test]
fn quota_follows_the_controller_settings() {
    let peers: Vec<String> = (0..61).map(|i| format!("{{cidr: 10.{i}.0.0/16}}")).collect();
    let rules: String = peers
        .chunks(20)
        .enumerate()
        .map(|(i, c)| {
            format!(
                "        - {{protocol: tcp, ports: {}, from: [{}]}}\n",
                1000 + i,
                c.join(", ")
            )
        })
        .collect();
    let text = set(&format!("  tiers:\n    - name: web\n      ingress:\n{rules}"));
    assert_eq!(
        exit_code(&check_text("q.yaml", &text, &Limits::default()).findings),
        1
    );
    let raised = Limits {
        max_ingress_rules: 100,
        ..Limits::default()
    };
    // The CRD still enforces AWS's default (its CEL rule), but `validate` follows the setting.
    assert_eq!(exit_code(&check_text("q.yaml", &text, &raised).findings), 0);
}

/// What `jsonschema` is given: the CRD's schema with the API server's structural rules written
/// out (every declared object closed, int-or-string as two types) and no CEL rules.
#[test]
fn the_validation_schema_is_the_crd_schema_made_strict() {
    let root = schema::validation_schema();
    let tiers = &root["properties"]["spec"]["properties"]["tiers"];
    assert_eq!(tiers["items"]["additionalProperties"], false);
    assert_eq!(tiers["x-kubernetes-list-map-keys"], serde_json::json!(["name"]));
    let rule = &tiers["items"]["properties"]["ingress"]["items"];
    assert_eq!(
        rule["properties"]["ports"]["type"],
        serde_json::json!(["integer", "string"])
    );
    assert_eq!(rule["properties"]["from"]["items"]["additionalProperties"], false);
    let tags = &root["properties"]["spec"]["properties"]["tags"];
    assert_eq!(tags["additionalProperties"]["type"], "string");
    assert_eq!(root["properties"]["metadata"], serde_json::json!({}));
    assert!(!root.to_string().contains("x-kubernetes-validations"));
}

#[test]
fn a_null_field_is_absent_but_an_unknown_one_is_refused_even_when_null() {
    let got = problems(&set(
        "  region: null\n  tiers:\n    - name: web\n      ingres: null\n      ingress:\n        - {protocol: tcp, ports: 1, from: [{cidr: null, tier: web}, null]}\n    - {name: web}\n",
    ));
    let want = [
        "spec.tiers[0].ingres: unknown field",
        "spec.tiers[0].ingress[0].from[1]: Invalid value: \"null\": must be of type object",
        "spec.tiers[1]: Duplicate value: {\"name\":\"web\"}",
    ];
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for w in want {
        assert!(got.iter().any(|g| g.starts_with(w)), "want {w}, got {got:#?}");
    }
}
