//! The Argo CD health check (deploy/argocd/health.lua) on sample objects, in Lua 5.1 as Argo CD
//! runs it, with Argo CD's own test layout (health_test.yaml + testdata/). The script is taken
//! from the argocd-cm snippet, which is what users install.

use serde_json::Value;

use crate::support::repo_root;
use crate::support::tools::argocd_health;

const KEY: &str = "resource.customizations.health.sgprovisioner.io_SecurityGroupSet";

#[test]
fn health_check_maps_every_sample_to_its_expected_status() {
    let dir = repo_root().join("deploy/argocd");
    let read = |p: &str| std::fs::read_to_string(dir.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    let snippet: Value = serde_saphyr::from_str(&read("argocd-cm.yaml")).expect("argocd-cm.yaml is YAML");
    assert_eq!(snippet["kind"], "ConfigMap");
    assert_eq!(snippet["metadata"]["name"], "argocd-cm");
    let lua = snippet["data"][KEY]
        .as_str()
        .expect("the argocd-cm key for SecurityGroupSet");
    assert_eq!(
        lua,
        read("health.lua"),
        "argocd-cm.yaml embeds health.lua (run deploy/render)"
    );

    let tests: Value = serde_saphyr::from_str(&read("health_test.yaml")).unwrap();
    let cases = tests["tests"].as_array().unwrap();
    let objects: Vec<Value> = cases
        .iter()
        .map(|c| serde_saphyr::from_str(&read(c["inputPath"].as_str().unwrap())).unwrap())
        .collect();
    let results = argocd_health(lua, &objects);
    let mut failures = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (case, (status, message)) in cases.iter().zip(&results) {
        let want = &case["healthStatus"];
        seen.insert(status.clone());
        if want["status"] != status.as_str() || want["message"] != message.as_str() {
            failures.push(format!(
                "{}: got {status} {message:?}, want {} {}",
                case["inputPath"], want["status"], want["message"]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["Degraded", "Healthy", "Progressing", "Suspended"],
        "every status is covered"
    );
    // The samples the issue names are all there.
    let inputs: Vec<&str> = cases.iter().map(|c| c["inputPath"].as_str().unwrap()).collect();
    for sample in [
        "ready",
        "reconciling",
        "stalled",
        "deleting",
        "no-status",
        "stale-generation",
        "observe-only",
    ] {
        assert!(
            inputs.contains(&format!("testdata/{sample}.yaml").as_str()),
            "{sample}"
        );
    }
}
