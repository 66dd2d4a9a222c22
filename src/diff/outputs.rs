//! Pure: the ConfigMap output (`spec.outputs.configMap`). What the set's namespace holds and
//! the set's group ids → the Kubernetes writes that make the ConfigMap say what AWS holds, or
//! the refusal to touch a ConfigMap that is not the set's.
//!
//! These are not [`Action`](super::Action)s: an action is one AWS call, and `plan`, `apply` and
//! `destroy` run without a cluster. The controller makes these writes after the plan's actions
//! (the groups exist by then), and lists them after the plan's actions in its Event and, for an
//! `ObserveOnly` set (which writes neither), in `status.plan`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::Refusal;

/// The label on every ConfigMap the controller writes: how it finds its own again.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub use crate::limits::MANAGED_BY;

/// A ConfigMap's controller: its ownerReference with `controller: true`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ControllerRef {
    pub kind: String,
    pub name: String,
    pub uid: String,
    pub block_owner_deletion: bool,
}

/// A ConfigMap as the API server reports it, reduced to what the decision needs.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ObservedConfigMap {
    pub name: String,
    pub uid: String,
    pub controller: Option<ControllerRef>,
    /// The value of [`MANAGED_BY_LABEL`].
    pub managed_by: Option<String>,
    pub data: BTreeMap<String, String>,
    /// The `data` keys the controller's field manager applied (from `managedFields`): a key
    /// someone else added is theirs, and is left alone.
    pub applied_keys: BTreeSet<String>,
}

impl ObservedConfigMap {
    /// Only a ConfigMap whose controller reference is this set (by uid) is the set's to change.
    pub fn controlled_by(&self, set_uid: &str) -> bool {
        !set_uid.is_empty() && self.controller.as_ref().is_some_and(|c| c.uid == set_uid)
    }
}

/// What the set's namespace holds.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ObservedConfigMaps {
    /// The ConfigMap the spec names, when the spec names one and it exists.
    pub named: Option<ObservedConfigMap>,
    /// ConfigMaps with the controller's label, whatever their name and owner.
    pub labelled: Vec<ObservedConfigMap>,
}

/// One Kubernetes write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigMapChange {
    /// Server-side apply of the whole ConfigMap (which creates it when it is absent).
    Apply {
        name: String,
        data: BTreeMap<String, String>,
        kind: ApplyKind,
    },
    /// A ConfigMap the set controls that the spec no longer names (`uid`: the delete's
    /// precondition, so a ConfigMap made again since under that name is not the one deleted).
    Delete { name: String, uid: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApplyKind {
    Create,
    /// The entries that change, and the keys the controller wrote that go.
    Update {
        changed: BTreeMap<String, String>,
        removed: Vec<String>,
    },
}

fn entries(data: &BTreeMap<String, String>) -> String {
    let shown: Vec<String> = data.iter().map(|(k, v)| format!("{k}={v}")).collect();
    shown.join(", ")
}

impl fmt::Display for ConfigMapChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigMapChange::Apply {
                name,
                data,
                kind: ApplyKind::Create,
            } => write!(f, "+ configmap {name}: {}", entries(data)),
            ConfigMapChange::Apply {
                name,
                kind: ApplyKind::Update { changed, removed },
                ..
            } => {
                let mut parts = Vec::new();
                if !changed.is_empty() {
                    parts.push(entries(changed));
                }
                if !removed.is_empty() {
                    parts.push(format!("remove {}", removed.join(", ")));
                }
                if parts.is_empty() {
                    parts.push("its label and owner reference".into());
                }
                write!(f, "~ configmap {name}: {}", parts.join("; "))
            }
            ConfigMapChange::Delete { name, .. } => write!(f, "- delete configmap {name}"),
        }
    }
}

/// Why the ConfigMap the spec names must not be written: it exists and is not the set's.
pub fn refusal(name: &str, observed: &ObservedConfigMaps, set_uid: &str) -> Option<Refusal> {
    let found = observed.named.as_ref().filter(|c| c.name == name)?;
    if found.controlled_by(set_uid) {
        return None;
    }
    let owner = match &found.controller {
        Some(c) => format!("its controller is {} {} (uid {})", c.kind, c.name, c.uid),
        None => "it has no controller owner reference".into(),
    };
    Some(Refusal::ForeignConfigMap {
        name: name.into(),
        owner,
    })
}

/// The writes that make the namespace hold `wanted` (the ConfigMap's name and its tier → id
/// entries), then delete every other ConfigMap the set controls (renamed, or no longer wanted).
pub fn config_map_changes(
    wanted: Option<(&str, &BTreeMap<String, String>)>,
    observed: &ObservedConfigMaps,
    set_uid: &str,
) -> Result<Vec<ConfigMapChange>, Refusal> {
    let mut changes = Vec::new();
    if let Some((name, data)) = wanted {
        if let Some(refused) = refusal(name, observed, set_uid) {
            return Err(refused);
        }
        changes.extend(apply_change(name, data, observed.named.as_ref()));
    }
    let keep = wanted.map(|(name, _)| name);
    for old in &observed.labelled {
        if old.controlled_by(set_uid) && keep != Some(old.name.as_str()) {
            changes.push(ConfigMapChange::Delete {
                name: old.name.clone(),
                uid: old.uid.clone(),
            });
        }
    }
    Ok(changes)
}

/// Nothing when the ConfigMap (the set's, checked by the caller) already says `data` and has
/// the controller's label and owner reference.
fn apply_change(
    name: &str,
    data: &BTreeMap<String, String>,
    found: Option<&ObservedConfigMap>,
) -> Option<ConfigMapChange> {
    let apply = |kind| ConfigMapChange::Apply {
        name: name.into(),
        data: data.clone(),
        kind,
    };
    let Some(found) = found else {
        return Some(apply(ApplyKind::Create));
    };
    let changed: BTreeMap<String, String> = data
        .iter()
        .filter(|(k, v)| found.data.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let removed: Vec<String> = found
        .applied_keys
        .iter()
        .filter(|k| !data.contains_key(*k) && found.data.contains_key(*k))
        .cloned()
        .collect();
    let metadata_ok = found.managed_by.as_deref() == Some(MANAGED_BY)
        && found.controller.as_ref().is_some_and(|c| c.block_owner_deletion);
    if changed.is_empty() && removed.is_empty() && metadata_ok {
        return None;
    }
    Some(apply(ApplyKind::Update { changed, removed }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const UID: &str = "uid-of-the-set";

    fn ids(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// A ConfigMap as the controller leaves it: its label, its owner reference, its keys.
    fn ours(name: &str, data: &[(&str, &str)]) -> ObservedConfigMap {
        ObservedConfigMap {
            name: name.into(),
            uid: format!("uid-of-{name}"),
            controller: Some(ControllerRef {
                kind: "SecurityGroupSet".into(),
                name: "set".into(),
                uid: UID.into(),
                block_owner_deletion: true,
            }),
            managed_by: Some(MANAGED_BY.into()),
            data: ids(data),
            applied_keys: data.iter().map(|(k, _)| k.to_string()).collect(),
        }
    }

    fn seen(named: Option<ObservedConfigMap>, labelled: Vec<ObservedConfigMap>) -> ObservedConfigMaps {
        ObservedConfigMaps { named, labelled }
    }

    #[test]
    fn a_missing_config_map_is_created_with_every_tier() {
        let want = ids(&[("web", "sg-1"), ("db", "sg-2")]);
        let changes = config_map_changes(Some(("ids", &want)), &seen(None, vec![]), UID).unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].to_string(), "+ configmap ids: db=sg-2, web=sg-1");
    }

    #[test]
    fn a_config_map_that_says_the_ids_is_left_alone() {
        let want = ids(&[("web", "sg-1")]);
        let cm = ours("ids", &[("web", "sg-1")]);
        let observed = seen(Some(cm.clone()), vec![cm]);
        assert_eq!(
            config_map_changes(Some(("ids", &want)), &observed, UID),
            Ok(vec![])
        );
    }

    #[test]
    fn a_replaced_group_and_a_removed_tier_update_it_and_others_keys_stay() {
        let want = ids(&[("web", "sg-3")]);
        let mut cm = ours("ids", &[("web", "sg-1"), ("app", "sg-2")]);
        // Someone added a key of their own: it is theirs, not a reason to write.
        cm.data.insert("note".into(), "hand-made".into());
        let changes = config_map_changes(Some(("ids", &want)), &seen(Some(cm), vec![]), UID).unwrap();
        assert_eq!(
            changes,
            vec![ConfigMapChange::Apply {
                name: "ids".into(),
                data: want.clone(),
                kind: ApplyKind::Update {
                    changed: want.clone(),
                    removed: vec!["app".into()],
                },
            }]
        );
        assert_eq!(changes[0].to_string(), "~ configmap ids: web=sg-3; remove app");
    }

    #[test]
    fn a_lost_label_or_owner_reference_is_put_back() {
        let want = ids(&[("web", "sg-1")]);
        let mut cm = ours("ids", &[("web", "sg-1")]);
        cm.managed_by = None;
        let changes = config_map_changes(Some(("ids", &want)), &seen(Some(cm), vec![]), UID).unwrap();
        assert_eq!(
            changes[0].to_string(),
            "~ configmap ids: its label and owner reference"
        );
    }

    #[test]
    fn a_config_map_the_set_does_not_control_is_refused() {
        let want = ids(&[("web", "sg-1")]);
        let mut hand_made = ours("ids", &[("web", "sg-9")]);
        hand_made.controller = None;
        let refused = config_map_changes(Some(("ids", &want)), &seen(Some(hand_made), vec![]), UID);
        assert!(
            matches!(&refused, Err(Refusal::ForeignConfigMap { name, owner }) if name == "ids" && owner.contains("no controller")),
            "{refused:?}"
        );
        // Another set of the same name before this one (another uid) is another owner too.
        let old = ours("ids", &[("web", "sg-1")]);
        let refused = config_map_changes(Some(("ids", &want)), &seen(Some(old), vec![]), "new-uid");
        assert!(
            refused
                .unwrap_err()
                .to_string()
                .contains("its controller is SecurityGroupSet set (uid uid-of-the-set)")
        );
    }

    #[test]
    fn a_renamed_or_removed_output_deletes_only_the_sets_own_old_config_map() {
        let want = ids(&[("web", "sg-1")]);
        let old = ours("old-ids", &[("web", "sg-1")]);
        let mut other_sets = ours("theirs", &[("web", "sg-7")]);
        other_sets.controller.as_mut().unwrap().uid = "another-set".into();
        let labelled = vec![old.clone(), other_sets];
        let renamed = config_map_changes(Some(("ids", &want)), &seen(None, labelled.clone()), UID).unwrap();
        let shown: Vec<String> = renamed.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["+ configmap ids: web=sg-1", "- delete configmap old-ids"],
            "the new one first: consumers can move before the old one goes"
        );
        let removed = config_map_changes(None, &seen(None, labelled), UID).unwrap();
        assert_eq!(
            removed,
            vec![ConfigMapChange::Delete {
                name: "old-ids".into(),
                uid: "uid-of-old-ids".into()
            }]
        );
    }

    #[test]
    fn without_a_uid_nothing_is_the_sets() {
        let cm = ours("ids", &[("web", "sg-1")]);
        assert!(!cm.controlled_by(""));
    }
}
