//! Pure: what deleting a set (`deletionPolicy: Delete`) does in AWS.

use std::collections::BTreeSet;

use super::{Action, ConcretePeer, GroupRef, Observed, Plan, Rule, parameter_tier};
use crate::model::{Direction, Ownership};

/// Revoke the rules that reference the set's own groups (AWS refuses to delete a group another
/// group's rule names), delete the groups, then the parameters that are ours: consumers find
/// the ids through the parameters, so they go last. A parameter whose tags were not read is
/// listed in `unread_parameter_tags`.
pub fn teardown(observed: &Observed, ownership: &Ownership) -> Plan {
    let ids: BTreeSet<&str> = observed.groups.iter().map(|g| g.id.as_str()).collect();
    let references = |r: &Rule| matches!(&r.peer, ConcretePeer::Group(GroupRef::Existing(id)) if ids.contains(id.as_str()));
    let mut plan = Plan::default();
    for group in &observed.groups {
        let tier = group.tier().unwrap_or("?").to_string();
        for direction in [Direction::Ingress, Direction::Egress] {
            let rules: Vec<Rule> = group
                .rules(direction)
                .iter()
                .filter(|r| references(r))
                .cloned()
                .collect();
            if !rules.is_empty() {
                plan.actions.push(Action::Revoke {
                    tier: tier.clone(),
                    group: GroupRef::Existing(group.id.clone()),
                    direction,
                    rules,
                });
            }
        }
    }
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
