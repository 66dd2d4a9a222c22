//! `explain`, offline, as a pipeline runs it: the binary on examples/, exit codes and output.
//! No server is needed (these tests never call `support::env`).

use std::process::Command;

use serde_json::Value;

use crate::support::repo_root;

const SEED: &str = "examples/globalbank-prod-c001-us-west-2-sg.yaml";

/// `sg-provisioner ARGS` in the repository root, without AWS settings; (exit code, stdout, stderr).
pub fn offline(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sg-provisioner"))
        .args(args)
        .current_dir(repo_root())
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("run sg-provisioner");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[test]
fn seed_questions_exit_0_when_allowed_and_3_when_denied() {
    let cases = [
        (["web", "app", "8080"], 0, "ALLOWED"),
        (["app", "db", "5432/tcp"], 0, "ALLOWED"),
        (["internet", "web", "443"], 0, "ALLOWED (over IPv4 only)"),
        (["internet", "db", "5432"], 3, "DENIED"),
        (["db", "internet", "443"], 3, "DENIED"),
        (["app", "app", "-1/all"], 3, "DENIED"),
    ];
    for (flow, code, verdict) in cases {
        let (got, out, err) = offline(&[&["explain", SEED], &flow[..]].concat());
        assert_eq!(got, code, "{flow:?}\n{out}\n{err}");
        assert!(
            out.lines().nth(1).unwrap_or_default().ends_with(verdict),
            "{flow:?}\n{out}"
        );
        assert!(out.contains("stateful"), "{out}");
    }
}

#[test]
fn text_names_the_rules_on_both_sides() {
    let (_, out, _) = offline(&["explain", SEED, "web", "app", "8080"]);
    for line in [
        "Egress of tier web: allowed by",
        "  + tcp/8080 to tier app \"App tier\"",
        "      at spec.tiers[name=web].egress[1].to[0]",
        "Ingress of tier app: allowed by",
        "  + tcp/8080 from tier web \"From the web tier\"",
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
    }
    let (_, out, _) = offline(&["explain", SEED, "internet", "db", "5432"]);
    assert!(
        out.contains("there is no egress side to check (its own rules are outside this set)"),
        "{out}"
    );
    assert!(out.contains("Nearest:\n  - tcp/5432 from tier app"), "{out}");
    assert!(
        out.contains("peer does not match: members of tier app's group only, not the internet"),
        "{out}"
    );
}

#[test]
fn json_output() {
    let (code, out, err) = offline(&["explain", SEED, "internet", "db", "5432", "--output", "json"]);
    assert_eq!(code, 3, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["allowed"], false);
    assert_eq!(doc["source"], "file");
    assert_eq!(doc["egress"]["checked"], false);
    assert_eq!(
        doc["ingress"]["nearest"][0]["origin"],
        "spec.tiers[name=db].ingress[0].from[0]"
    );
    assert_eq!(doc["ingress"]["nearest"][0]["trafficMatches"], true);
}

#[test]
fn exposed_lists_what_the_internet_reaches() {
    let (code, out, err) = offline(&["explain", SEED, "--exposed"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("2 ingress rule(s) open to the internet (2 IPv4, 0 IPv6); 0 open a risky port."),
        "{out}"
    );
    let (code, out, _) = offline(&["explain", SEED, "--exposed", "--output", "json"]);
    assert_eq!(code, 0);
    let doc: Value = serde_json::from_str(&out).unwrap();
    let traffic: Vec<&str> = doc["exposed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["traffic"].as_str().unwrap())
        .collect();
    assert_eq!(traffic, ["tcp/443", "tcp/80"]);
}

#[test]
fn bad_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let invalid = dir.path().join("invalid.yaml");
    let text = std::fs::read_to_string(repo_root().join(SEED))
        .unwrap()
        .replace("ports: 8080", "ports: 99999");
    std::fs::write(&invalid, text).unwrap();
    let invalid = invalid.to_string_lossy().into_owned();
    let cases: [(&[&str], &str); 6] = [
        (
            &["explain", SEED, "web", "cache", "80"],
            "TO: cache is not a tier",
        ),
        (&["explain", SEED, "web", "app", "http"], "PORT: port \"http\""),
        (&["explain", SEED, "internet", "10.0.0.0/8", "80"], "neither"),
        (
            &["explain", "no-such-file.yaml", "web", "app", "80"],
            "no-such-file.yaml",
        ),
        (&["explain", &invalid, "web", "app", "80"], "invalid spec"),
        (&["explain", SEED, "web", "app"], "required"),
    ];
    for (args, message) in cases {
        let (code, out, err) = offline(args);
        assert_eq!(code, 2, "{args:?}\n{out}\n{err}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
}

#[test]
fn a_file_of_several_sets_needs_set() {
    let dir = tempfile::tempdir().unwrap();
    let seed = std::fs::read_to_string(repo_root().join(SEED)).unwrap();
    let other = seed.replace("name: globalbank-prod-c001-us-west-2-sg", "name: other");
    let path = dir.path().join("two.yaml");
    std::fs::write(&path, format!("{seed}\n---\n{other}")).unwrap();
    let file = path.to_string_lossy().into_owned();
    let (code, _, err) = offline(&["explain", &file, "web", "app", "8080"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("holds 2 sets (globalbank-prod-c001-us-west-2-sg, other): choose one with --set NAME"),
        "{err}"
    );
    let (code, out, err) = offline(&["explain", &file, "web", "app", "8080", "--set", "other"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("platform/other "), "{out}");
    let (code, _, err) = offline(&["diagram", &file, "--set", "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("holds no set nope"), "{err}");
}
