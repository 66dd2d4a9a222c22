//! Golden renderings of the seed's 3-tier example (tests/fixtures/golden/; `UPDATE_GOLDEN=1`
//! rewrites them), and the README's copy of the Mermaid one.

use std::path::PathBuf;

use super::*;
use crate::api::SecurityGroupSet;
use crate::flows::FlowView;
use crate::model::{self, Limits};

fn seed_graph() -> Graph {
    let text = include_str!("../../../examples/globalbank-prod-c001-us-west-2-sg.yaml");
    let set: SecurityGroupSet = serde_saphyr::from_str(text).unwrap();
    let valid = model::validate(&set, &Limits::default()).unwrap();
    graph(&FlowView::from_desired(
        &model::plan(&valid, "default"),
        Some(&set.spec),
    ))
}

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/golden")
        .join(name)
}

/// `actual` must equal the golden file exactly; `UPDATE_GOLDEN=1` writes it instead.
fn golden(name: &str, actual: &str) {
    let path = golden_path(name);
    if std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert!(
        want == actual,
        "{} differs from the rendering (UPDATE_GOLDEN=1 rewrites it):\n--- golden\n{want}\n--- rendered\n{actual}",
        path.display()
    );
}

#[test]
fn seed_mermaid_is_golden() {
    golden("globalbank-prod-c001-us-west-2-sg.mmd", &mermaid(&seed_graph()));
}

#[test]
fn seed_dot_is_golden() {
    golden("globalbank-prod-c001-us-west-2-sg.dot", &dot(&seed_graph()));
}

#[test]
fn renderings_are_deterministic() {
    assert_eq!(mermaid(&seed_graph()), mermaid(&seed_graph()));
    assert_eq!(dot(&seed_graph()), dot(&seed_graph()));
}

#[test]
fn readme_shows_the_golden_mermaid() {
    let readme = include_str!("../../../README.md");
    let golden = std::fs::read_to_string(golden_path("globalbank-prod-c001-us-west-2-sg.mmd")).unwrap();
    assert!(
        readme.contains(&format!("```mermaid\n{golden}```\n")),
        "README.md's ```mermaid block is not tests/fixtures/golden/globalbank-prod-c001-us-west-2-sg.mmd"
    );
}

#[test]
fn labels_are_escaped() {
    assert_eq!(dot_text("a \"b\"\\c\nd"), r#""a \"b\"\\c\nd""#);
    assert_eq!(mermaid_text("say \"hi\""), "say #quot;hi#quot;");
}
