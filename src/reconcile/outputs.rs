//! The ConfigMap output's Kubernetes side (`diff::outputs` decides): read what the set's
//! namespace holds, then apply and delete. Writes are server-side applies of the whole
//! ConfigMap with the controller's field manager, forced: a key the controller stops applying
//! (a removed tier) goes, a value someone edited is put back, and keys others added stay theirs.
//! Each ConfigMap carries the set as its controller owner reference (`blockOwnerDeletion`), so a
//! cluster's garbage collector would delete it with the set; the finalizer deletes it anyway,
//! which does not depend on one running.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, Preconditions};
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};

use super::{Converged, Error, FIELD_MANAGER};
use crate::api::SecurityGroupSet;
use crate::diff::GroupRef;
use crate::diff::outputs::{
    ConfigMapChange, ControllerRef, MANAGED_BY, MANAGED_BY_LABEL, ObservedConfigMap, ObservedConfigMaps,
    config_map_changes,
};

fn api(client: &Client, set: &SecurityGroupSet) -> Api<ConfigMap> {
    Api::namespaced(client.clone(), &set.namespace().unwrap_or_default())
}

pub fn set_uid(set: &SecurityGroupSet) -> String {
    set.meta().uid.clone().unwrap_or_default()
}

/// The ConfigMaps with the controller's label in the set's namespace (from the API server's
/// cache unless `fresh`: an old one found a resync late is still deleted), and the one `name`
/// names, read fresh: whether it is the set's decides whether it may be written.
pub async fn observe(
    client: &Client,
    set: &SecurityGroupSet,
    name: Option<&str>,
    fresh: bool,
) -> Result<ObservedConfigMaps, Error> {
    let api = api(client, set);
    let mut params = ListParams::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY}"));
    if !fresh {
        params = params.match_any();
    }
    let labelled = api.list(&params).await?.items.iter().map(observed).collect();
    let named = match name {
        Some(name) => api.get_opt(name).await?.as_ref().map(observed),
        None => None,
    };
    Ok(ObservedConfigMaps { named, labelled })
}

/// A ConfigMap reduced to what `diff::outputs` decides on.
pub fn observed(cm: &ConfigMap) -> ObservedConfigMap {
    let meta = &cm.metadata;
    let controller = meta
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
        .map(|r| ControllerRef {
            kind: r.kind.clone(),
            name: r.name.clone(),
            uid: r.uid.clone(),
            block_owner_deletion: r.block_owner_deletion == Some(true),
        });
    let applied_keys = meta
        .managed_fields
        .iter()
        .flatten()
        .filter(|m| m.manager.as_deref() == Some(FIELD_MANAGER) && m.operation.as_deref() == Some("Apply"))
        .filter_map(|m| m.fields_v1.as_ref()?.0.get("f:data")?.as_object().cloned())
        .flat_map(|fields| {
            fields
                .into_iter()
                .filter_map(|(k, _)| Some(k.strip_prefix("f:")?.to_string()))
        })
        .collect();
    ObservedConfigMap {
        name: cm.name_any(),
        uid: meta.uid.clone().unwrap_or_default(),
        controller,
        managed_by: meta
            .labels
            .as_ref()
            .and_then(|l| l.get(MANAGED_BY_LABEL))
            .cloned(),
        data: cm.data.clone().unwrap_or_default(),
        applied_keys,
    }
}

/// Tier → group id, what the ConfigMap should say. Only real ids are written; when nothing is
/// (`ObserveOnly`), a group still to be created shows as `(new web group)` in the plan.
pub fn entries(done: &Converged) -> BTreeMap<String, String> {
    done.desired
        .groups
        .iter()
        .filter_map(|g| match done.ids.get(&g.tier) {
            Some(id) => Some((g.tier.clone(), id.clone())),
            None if done.executed => None,
            None => Some((g.tier.clone(), GroupRef::Pending(g.tier.clone()).to_string())),
        })
        .collect()
}

/// After the plan ran: the ConfigMap brought to the set's group ids (and any old one of the
/// set's deleted), unless nothing was written to AWS either (`ObserveOnly`). Returns the
/// changes, as `plan` shows actions.
pub async fn sync(
    client: &Client,
    set: &SecurityGroupSet,
    name: Option<&str>,
    done: &Converged,
    seen: &ObservedConfigMaps,
) -> Result<Vec<String>, Error> {
    let data = entries(done);
    let decide = |seen: &ObservedConfigMaps| {
        config_map_changes(name.map(|n| (n, &data)), seen, &set_uid(set)).map_err(|r| Error::Refused(vec![r]))
    };
    let mut changes = decide(seen)?;
    let applies = changes.iter().any(|c| matches!(c, ConfigMapChange::Apply { .. }));
    if let (true, true, Some(name)) = (done.executed, applies, name) {
        // The plan may have taken seconds: whether the name is the set's is read again just
        // before it is written, so that a ConfigMap made meanwhile is refused, not taken over.
        let again = ObservedConfigMaps {
            named: api(client, set).get_opt(name).await?.as_ref().map(observed),
            labelled: seen.labelled.clone(),
        };
        changes = decide(&again)?;
    }
    if done.executed {
        write(client, set, &changes).await?;
    }
    Ok(changes.iter().map(ToString::to_string).collect())
}

/// On deletion: every ConfigMap the set controls, deleted (read fresh: this is the last look).
pub async fn remove_all(client: &Client, set: &SecurityGroupSet) -> Result<Vec<String>, Error> {
    let seen = observe(client, set, None, true).await?;
    let changes = config_map_changes(None, &seen, &set_uid(set)).map_err(|r| Error::Refused(vec![r]))?;
    write(client, set, &changes).await?;
    Ok(changes.iter().map(ToString::to_string).collect())
}

async fn write(client: &Client, set: &SecurityGroupSet, changes: &[ConfigMapChange]) -> Result<(), Error> {
    let api = api(client, set);
    for change in changes {
        match change {
            ConfigMapChange::Apply { name, data, .. } => {
                let params = PatchParams::apply(FIELD_MANAGER).force();
                api.patch(name, &params, &Patch::Apply(body(set, name, data)))
                    .await?;
            }
            ConfigMapChange::Delete { name, uid } => {
                let params = DeleteParams {
                    preconditions: Some(Preconditions {
                        uid: Some(uid.clone()),
                        resource_version: None,
                    }),
                    ..DeleteParams::default()
                };
                match api.delete(name, &params).await {
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    other => {
                        other?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// The whole ConfigMap as the controller applies it.
pub fn body(set: &SecurityGroupSet, name: &str, data: &BTreeMap<String, String>) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": set.namespace().unwrap_or_default(),
            "labels": {MANAGED_BY_LABEL: MANAGED_BY},
            "ownerReferences": [{
                "apiVersion": SecurityGroupSet::api_version(&()),
                "kind": SecurityGroupSet::kind(&()),
                "name": set.name_any(),
                "uid": set_uid(set),
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "data": data,
    })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};

    use super::*;
    use crate::diff::outputs::config_map_changes;

    fn set() -> SecurityGroupSet {
        let mut set = SecurityGroupSet::new(
            "web-sg",
            serde_json::from_value(json!({"vpc": {"id": "vpc-0abc1234"}, "tiers": [{"name": "web"}]}))
                .unwrap(),
        );
        set.metadata.namespace = Some("team".into());
        set.metadata.uid = Some("uid-1".into());
        set
    }

    /// The ConfigMap the API server would hold after the controller's apply, with the
    /// managedFields it would record (and a key someone else added).
    fn applied(set: &SecurityGroupSet, data: &[(&str, &str)]) -> ConfigMap {
        let data: BTreeMap<String, String> =
            data.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut cm: ConfigMap = serde_json::from_value(body(set, "ids", &data)).unwrap();
        let fields: serde_json::Map<String, Value> =
            data.keys().map(|k| (format!("f:{k}"), json!({}))).collect();
        cm.metadata.managed_fields = Some(vec![
            ManagedFieldsEntry {
                manager: Some(FIELD_MANAGER.into()),
                operation: Some("Apply".into()),
                fields_v1: Some(FieldsV1(
                    json!({"f:data": fields, "f:metadata": {"f:labels": {}}}),
                )),
                ..Default::default()
            },
            ManagedFieldsEntry {
                manager: Some("kubectl-edit".into()),
                operation: Some("Update".into()),
                fields_v1: Some(FieldsV1(json!({"f:data": {"f:note": {}}}))),
                ..Default::default()
            },
        ]);
        cm.data
            .get_or_insert_default()
            .insert("note".into(), "by hand".into());
        cm
    }

    #[test]
    fn the_applied_config_map_is_owned_by_the_set_and_read_back_as_the_sets() {
        let set = set();
        let cm = applied(&set, &[("web", "sg-1"), ("app", "sg-2")]);
        let refs = cm.metadata.owner_references.clone().unwrap();
        assert_eq!(refs.len(), 1);
        assert_eq!(
            (refs[0].kind.as_str(), refs[0].name.as_str(), refs[0].uid.as_str()),
            ("SecurityGroupSet", "web-sg", "uid-1")
        );
        assert_eq!(
            (refs[0].controller, refs[0].block_owner_deletion),
            (Some(true), Some(true))
        );
        assert_eq!(refs[0].api_version, "sgprovisioner.io/v1alpha1");
        assert_eq!(cm.metadata.namespace.as_deref(), Some("team"));
        let seen = observed(&cm);
        assert!(seen.controlled_by("uid-1"));
        assert_eq!(seen.managed_by.as_deref(), Some(MANAGED_BY));
        let keys: Vec<&str> = seen.applied_keys.iter().map(String::as_str).collect();
        assert_eq!(keys, ["app", "web"], "only the controller's own keys, not note");
    }

    #[test]
    fn read_back_it_needs_no_write_until_a_tier_goes() {
        let set = set();
        let cm = observed(&applied(&set, &[("web", "sg-1"), ("app", "sg-2")]));
        let seen = ObservedConfigMaps {
            named: Some(cm.clone()),
            labelled: vec![cm],
        };
        let same: BTreeMap<String, String> = [("web", "sg-1"), ("app", "sg-2")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(
            config_map_changes(Some(("ids", &same)), &seen, "uid-1"),
            Ok(vec![])
        );
        let fewer: BTreeMap<String, String> = [("web".to_string(), "sg-1".to_string())].into();
        let changes = config_map_changes(Some(("ids", &fewer)), &seen, "uid-1").unwrap();
        assert_eq!(changes[0].to_string(), "~ configmap ids: remove app");
    }
}
