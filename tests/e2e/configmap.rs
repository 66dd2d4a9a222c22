//! `spec.outputs.configMap`: the tiers' group ids in a ConfigMap of the set's namespace, owned
//! by the set. It follows the groups (a replaced group, a removed tier), goes when renamed or
//! removed from the spec and with the set (the test API server runs no garbage collector: the
//! finalizer deletes it), and a ConfigMap of that name that is not the set's is never written.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Event};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::{Value, json};
use sg_provisioner::api::SecurityGroupSet;

use crate::support::controller::Controller;
use crate::support::fixture::{Fixture, TIMEOUT, condition, current, group_id};
use crate::support::{poll_async, run_cli};

const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "sg-provisioner");

/// Two tiers that name no other group, so either can be deleted out of band.
fn spec(tiers: &[&str], config_map: Option<&str>) -> Value {
    let tiers: Vec<Value> = tiers
        .iter()
        .map(|t| json!({"name": t, "ingress": [{"protocol": "tcp", "ports": 443, "from": [{"cidr": "10.1.0.0/16"}]}]}))
        .collect();
    let mut spec = json!({"tiers": tiers});
    if let Some(name) = config_map {
        spec["outputs"] = json!({"configMap": {"name": name}});
    }
    spec
}

fn config_maps(f: &Fixture) -> Api<ConfigMap> {
    Api::namespaced(f.client.clone(), &f.ns)
}

fn data(cm: &ConfigMap) -> BTreeMap<String, String> {
    cm.data.clone().unwrap_or_default()
}

/// Each tier's group id, as the set's status names it.
fn ids(set: &SecurityGroupSet) -> BTreeMap<String, String> {
    let tiers = &set.status.as_ref().unwrap().tiers;
    tiers
        .iter()
        .map(|t| (t.name.clone(), group_id(set, &t.name)))
        .collect()
}

/// Waits until the ConfigMap `name` holds exactly `want`.
async fn wait_data(f: &Fixture, name: &str, want: &BTreeMap<String, String>) -> ConfigMap {
    poll_async(TIMEOUT, &format!("ConfigMap {name} to hold {want:?}"), || async {
        let cm = config_maps(f).get_opt(name).await.ok().flatten()?;
        (data(&cm) == *want).then_some(cm)
    })
    .await
}

async fn wait_absent(f: &Fixture, name: &str) {
    poll_async(TIMEOUT, &format!("ConfigMap {name} to be deleted"), || async {
        matches!(config_maps(f).get_opt(name).await, Ok(None)).then_some(())
    })
    .await;
}

/// A ConfigMap made by hand (not by the controller), with `labels`.
async fn hand_made(f: &Fixture, name: &str, labels: Value) -> ConfigMap {
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "data": {"owner": "another team"},
    }))
    .unwrap();
    config_maps(f).create(&PostParams::default(), &cm).await.unwrap()
}

/// Owned by the set as a garbage collector needs it, labelled and applied by the controller.
fn assert_owned_by(cm: &ConfigMap, set: &SecurityGroupSet) {
    let refs = cm.metadata.owner_references.clone().unwrap_or_default();
    assert_eq!(refs.len(), 1, "{refs:?}");
    let owner = &refs[0];
    assert_eq!(
        (
            owner.api_version.as_str(),
            owner.kind.as_str(),
            owner.name.as_str()
        ),
        (
            "sgprovisioner.io/v1alpha1",
            "SecurityGroupSet",
            set.metadata.name.as_deref().unwrap()
        )
    );
    assert_eq!(Some(&owner.uid), set.metadata.uid.as_ref());
    assert_eq!(
        (owner.controller, owner.block_owner_deletion),
        (Some(true), Some(true))
    );
    let labels = cm.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get(MANAGED_BY.0).map(String::as_str), Some(MANAGED_BY.1));
    let managers: Vec<_> = cm
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .map(|m| m.manager.clone())
        .collect();
    assert_eq!(
        managers,
        [Some("sg-provisioner".to_string())],
        "server-side applied by the controller"
    );
}

#[tokio::test]
async fn the_config_map_holds_the_ids_follows_a_replaced_group_and_goes_with_the_set() {
    let f = Fixture::new("cm-ids").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "1s"]);
    f.apply(&f.set("pub", spec(&["web", "db"], Some("pub-ids"))))
        .await;
    let ready = f.wait_ready("pub").await;
    let cm = wait_data(&f, "pub-ids", &ids(&ready)).await;
    assert_eq!(ids(&ready).len(), 2, "{:?}", ids(&ready));

    assert_owned_by(&cm, &ready);
    let events: Api<Event> = Api::namespaced(f.client.clone(), &f.ns);
    let listed = events.list(&ListParams::default()).await.unwrap().items;
    assert!(
        listed.iter().any(|e| e.reason.as_deref() == Some("Applied")
            && e.message
                .as_deref()
                .is_some_and(|m| m.contains("+ configmap pub-ids: db=sg-"))),
        "the Applied Event lists the ConfigMap write with the groups"
    );

    // The db group deleted out of band: recreated, and the ConfigMap follows.
    let old_db = group_id(&ready, "db");
    f.ec2
        .delete_security_group()
        .group_id(&old_db)
        .send()
        .await
        .unwrap();
    let replaced = f
        .wait_for("pub", "a new db group", |s| {
            s.status.as_ref().is_some_and(|st| {
                st.tiers
                    .iter()
                    .any(|t| t.name == "db" && t.security_group_id.as_ref().is_some_and(|g| *g != old_db))
            })
        })
        .await;
    let cm = wait_data(&f, "pub-ids", &ids(&replaced)).await;
    assert_eq!(
        data(&cm)["web"],
        group_id(&ready, "web"),
        "web's group was not replaced"
    );

    // A removed tier's key goes with its group.
    f.apply(&f.set("pub", spec(&["web"], Some("pub-ids")))).await;
    let one = f.wait_ready("pub").await;
    wait_data(&f, "pub-ids", &ids(&one)).await;
    assert_eq!(ids(&one).keys().collect::<Vec<_>>(), ["web"]);

    // Deleted with the set, by the finalizer (no garbage collector here).
    f.delete_and_wait_gone("pub").await;
    assert_eq!(config_maps(&f).get_opt("pub-ids").await.unwrap(), None);
    assert_eq!(f.group_count("pub").await, 0);
}

#[tokio::test]
async fn renaming_or_removing_the_output_deletes_only_the_sets_old_config_map() {
    let f = Fixture::new("cm-rename").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    // Carries the controller's label but is nobody's: never the set's to delete.
    let bystander = hand_made(&f, "bystander", json!({MANAGED_BY.0: MANAGED_BY.1})).await;
    f.apply(&f.set("moves", spec(&["web"], Some("ids-a")))).await;
    let ready = f.wait_ready("moves").await;
    wait_data(&f, "ids-a", &ids(&ready)).await;

    f.apply(&f.set("moves", spec(&["web"], Some("ids-b")))).await;
    f.wait_ready("moves").await;
    wait_data(&f, "ids-b", &ids(&ready)).await;
    wait_absent(&f, "ids-a").await;

    let writes = f.writes().await;
    f.apply(&f.set("moves", spec(&["web"], None))).await;
    f.wait_ready("moves").await;
    wait_absent(&f, "ids-b").await;
    assert_eq!(
        f.writes().await,
        writes,
        "a ConfigMap change writes nothing to AWS"
    );
    let still = config_maps(&f).get("bystander").await.unwrap();
    assert_eq!(
        still.metadata.resource_version,
        bystander.metadata.resource_version
    );

    f.delete_and_wait_gone("moves").await;
    config_maps(&f)
        .delete("bystander", &DeleteParams::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_config_map_the_set_does_not_own_is_never_written_and_the_set_stalls() {
    let f = Fixture::new("cm-foreign").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "3s"]);
    let theirs = hand_made(&f, "taken", json!({"team": "other"})).await;
    f.apply(&f.set("late", spec(&["web"], Some("taken")))).await;
    let stalled = f
        .wait_for("late", "Stalled=True ConfigMapNotOwned", |s| {
            current(s) && condition(s, "Stalled").is_some_and(|c| c.0 == "True" && c.1 == "ConfigMapNotOwned")
        })
        .await;
    let (_, _, message) = condition(&stalled, "Stalled").unwrap();
    assert!(
        message
            .starts_with("spec.outputs.configMap.name: ConfigMap taken already exists and is not this set's"),
        "names the field and the ConfigMap: {message}"
    );
    assert_eq!(condition(&stalled, "Ready").unwrap().0, "False");
    // Refused before the plan's first write, like a parameter that is not the set's.
    assert_eq!(f.writes().await, 0, "nothing written to AWS");
    let untouched = config_maps(&f).get("taken").await.unwrap();
    assert_eq!(
        untouched.metadata.resource_version,
        theirs.metadata.resource_version
    );
    assert_eq!(untouched.metadata.owner_references, None);
    assert_eq!(data(&untouched), data(&theirs));

    // Once it is gone, the set publishes its own.
    config_maps(&f)
        .delete("taken", &DeleteParams::default())
        .await
        .unwrap();
    let ready = f.wait_ready("late").await;
    let cm = wait_data(&f, "taken", &ids(&ready)).await;
    assert_owned_by(&cm, &ready);
    f.delete_and_wait_gone("late").await;
    wait_absent(&f, "taken").await;
}

#[tokio::test]
async fn a_config_map_made_while_the_plan_runs_is_refused_not_taken_over() {
    let f = Fixture::new("cm-race").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    // Slow group creations: the plan takes seconds after the ConfigMap pre-flight passed.
    f.emulator
        .configure(json!({"faults": {"rate": 1.0, "kinds": ["slow"], "slow_seconds": 2, "operations": ["CreateSecurityGroup"]}}))
        .await;
    f.apply(&f.set("racer", spec(&["web", "db"], Some("raced"))))
        .await;
    poll_async(TIMEOUT, "the first group creation", || async {
        (f.count("ec2", "CreateSecurityGroup").await >= 1).then_some(())
    })
    .await;
    let theirs = hand_made(&f, "raced", json!({})).await;
    let stalled = f
        .wait_for("racer", "Stalled=True ConfigMapNotOwned", |s| {
            condition(s, "Stalled").is_some_and(|c| c.0 == "True" && c.1 == "ConfigMapNotOwned")
        })
        .await;
    assert!(
        condition(&stalled, "Stalled")
            .unwrap()
            .2
            .starts_with("spec.outputs.configMap.name: ")
    );
    let untouched = config_maps(&f).get("raced").await.unwrap();
    assert_eq!(
        untouched.metadata.resource_version,
        theirs.metadata.resource_version
    );
    assert_eq!(
        f.group_count("racer").await,
        2,
        "the AWS part of the plan was carried out"
    );
    f.emulator.clear().await;
    f.delete_and_wait_gone("racer").await;
    assert!(
        config_maps(&f).get_opt("raced").await.unwrap().is_some(),
        "theirs is not the set's to delete"
    );
    config_maps(&f)
        .delete("raced", &DeleteParams::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn observe_only_shows_the_config_map_in_the_plan_and_writes_none() {
    let f = Fixture::new("cm-observe").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    let mut observed = spec(&["web"], Some("seen-ids"));
    observed["managementPolicy"] = json!("ObserveOnly");
    f.apply(&f.set("seen", observed)).await;
    let set = f
        .wait_for("seen", "a plan", |s| {
            current(s) && s.status.as_ref().is_some_and(|st| !st.plan.is_empty())
        })
        .await;
    let plan = &set.status.as_ref().unwrap().plan;
    assert_eq!(
        plan.last().map(String::as_str),
        Some("+ configmap seen-ids: web=(new web group)"),
        "after the AWS changes: {plan:?}"
    );
    assert_eq!(config_maps(&f).get_opt("seen-ids").await.unwrap(), None);
    assert_eq!(f.writes().await, 0);
    f.delete_and_wait_gone("seen").await;
}

#[tokio::test]
async fn plan_without_a_cluster_notes_the_config_map_but_neither_shows_nor_writes_it() {
    let f = Fixture::new("cm-plan").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("set.yaml");
    let set = f.set("piped", spec(&["web"], Some("piped-ids")));
    std::fs::write(&path, serde_saphyr::to_string(&set).unwrap()).unwrap();
    let (code, out, err) = run_cli(&f.key, &["plan", "-f", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        out.contains(
            "! spec.outputs.configMap piped-ids: kept by the controller in the cluster, not by this command"
        ),
        "{out}"
    );
    assert!(!out.contains("+ configmap"), "plan lists AWS calls only: {out}");
    let (_, out, _) = run_cli(&f.key, &["plan", "--destroy", "-f", path.to_str().unwrap()]);
    assert!(
        out.contains("! spec.outputs.configMap piped-ids: kept by the controller"),
        "{out}"
    );
    assert_eq!(f.writes().await, 0);
}
