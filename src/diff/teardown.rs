//! Pure: what deleting a set (`deletionPolicy: Delete`) does in AWS.

use std::collections::{BTreeMap, BTreeSet};

use super::{Action, ConcretePeer, GroupRef, Observed, ObservedGroup, Plan, Rule, parameter_tier};
use crate::model::{Direction, Ownership};

/// Revoke the rules that reference the set's own groups (AWS refuses to delete a group another
/// group's rule names), delete the groups, then the parameters that are ours: consumers find
/// the ids through the parameters, so they go last. A parameter whose tags were not read is
/// listed in `unread_parameter_tags`.
pub fn teardown(observed: &Observed, ownership: &Ownership) -> Plan {
    let ids: BTreeSet<&str> = observed.groups.iter().map(|g| g.id.as_str()).collect();
    let groups: Vec<&ObservedGroup> = observed.groups.iter().collect();
    let mut plan = Plan {
        actions: revoke_references(&groups, &ids),
        ..Plan::default()
    };
    for group in &observed.groups {
        plan.actions.push(Action::DeleteGroup {
            tier: group.tier().unwrap_or("?").to_string(),
            group_id: group.id.clone(),
            why: "set deleted",
        });
    }
    for (name, parameter) in &observed.parameters {
        match &parameter.tags {
            None => plan.unread_parameter_tags.push(name.clone()),
            Some(tags) if ownership.owns(tags) => plan.actions.push(Action::DeleteParameter {
                tier: parameter_tier(name),
                name: name.clone(),
            }),
            Some(_) => {}
        }
    }
    plan
}

/// Revokes of the rules of `groups` that name another of `ids`: AWS refuses to delete a group
/// that another group's rule names (a rule naming its own group is no obstacle), so these go
/// before the groups do.
pub(super) fn revoke_references(groups: &[&ObservedGroup], ids: &BTreeSet<&str>) -> Vec<Action> {
    let mut actions = Vec::new();
    for group in groups {
        let references = |r: &Rule| {
            matches!(&r.peer, ConcretePeer::Group(GroupRef::Existing(id))
                if ids.contains(id.as_str()) && *id != group.id)
        };
        let tier = group.tier().unwrap_or("?").to_string();
        for direction in [Direction::Ingress, Direction::Egress] {
            let rules: Vec<Rule> = group
                .rules(direction)
                .iter()
                .filter(|r| references(r))
                .cloned()
                .collect();
            if !rules.is_empty() {
                actions.push(Action::Revoke {
                    tier: tier.clone(),
                    group: GroupRef::Existing(group.id.clone()),
                    direction,
                    rules,
                    make_room: false,
                });
            }
        }
    }
    actions
}

/// Holds back the deletion of groups still in use (`in_use`: group id → what uses it): their
/// deletes, the revokes of their own rules (they may carry live traffic) and the parameters of
/// their tiers (consumers still find the ids). What remains of the plan can still run.
pub fn hold(plan: &mut Plan, in_use: &BTreeMap<String, String>) {
    if in_use.is_empty() {
        return;
    }
    let held_tiers: BTreeSet<String> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::DeleteGroup { tier, group_id, .. } if in_use.contains_key(group_id) => Some(tier.clone()),
            _ => None,
        })
        .collect();
    plan.actions.retain(|a| match a {
        Action::DeleteGroup { group_id, .. } => !in_use.contains_key(group_id),
        Action::Revoke {
            group: GroupRef::Existing(id),
            ..
        } => !in_use.contains_key(id),
        Action::DeleteParameter { tier, .. } => !held_tiers.contains(tier),
        _ => true,
    });
    plan.blocked.extend(in_use.values().cloned());
}
