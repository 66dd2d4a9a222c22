//! `diagram`, offline: the binary on examples/ prints the golden renderings; SVG through
//! Graphviz when `dot` is installed, and a clear error when it is not.

use std::io::Write;

use crate::explain_cli::offline;
use crate::support::repo_root;

const SEED: &str = "examples/globalbank-prod-c001-us-west-2-sg.yaml";

fn golden(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("tests/fixtures/golden").join(name)).unwrap()
}

#[test]
fn mermaid_and_dot_are_the_golden_files() {
    let (code, out, err) = offline(&["diagram", SEED]);
    assert_eq!(
        (code, out.as_str()),
        (0, golden("globalbank-prod-c001-us-west-2-sg.mmd").as_str()),
        "{err}"
    );
    let (code, out, err) = offline(&["diagram", SEED, "--format", "dot"]);
    assert_eq!(
        (code, out.as_str()),
        (0, golden("globalbank-prod-c001-us-west-2-sg.dot").as_str()),
        "{err}"
    );
}

fn dot_installed() -> bool {
    std::process::Command::new("dot").arg("-V").output().is_ok()
}

#[test]
fn svg_through_graphviz() {
    if !dot_installed() {
        // Past libtest's capture: a skipped check must be seen, in CI above all.
        let ci = if std::env::var("CI").is_ok_and(|v| v == "true") {
            " (CI=true)"
        } else {
            ""
        };
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIPPED diagram_cli::svg_through_graphviz{ci}: Graphviz's `dot` is not installed, \
             so `diagram --format svg` was not rendered (install graphviz to run it)"
        );
        return;
    }
    let (code, out, err) = offline(&["diagram", SEED, "--format", "svg"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("<svg") && out.trim_end().ends_with("</svg>"),
        "{out}"
    );
    for text in ["web", "app", "db", "tcp/8080", "tcp/5432", "#cc0000"] {
        assert!(out.contains(text), "{text} missing from the SVG");
    }
}

#[test]
fn svg_without_dot_says_to_install_graphviz() {
    let empty = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sg-provisioner"))
        .args(["diagram", SEED, "--format", "svg"])
        .current_dir(repo_root())
        .env("PATH", empty.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("install graphviz"), "{err}");
    assert!(out.stdout.is_empty());
}
