//! Pure: desired state vs what AWS holds → the ordered actions that converge them.
//!
//! Order (make-before-break): create groups, authorize new rules, re-describe changed ones,
//! revoke unwanted ones, reconcile tags, write parameters, then delete removed or duplicate
//! groups (their references were revoked above) and their parameters.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::model::{DesiredGroup, DesiredSet, Direction, RuleMatch, SymbolicPeer, TIER_TAG};

#[cfg(test)]
mod tests;

/// A security group that exists, or one this plan creates (known by its tier).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupRef {
    Existing(String),
    Pending(String),
}

impl fmt::Display for GroupRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupRef::Existing(id) => f.write_str(id),
            GroupRef::Pending(tier) => write!(f, "(new {tier} group)"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConcretePeer {
    Cidr(String),
    Ipv6Cidr(String),
    PrefixList(String),
    Group(GroupRef),
}

impl fmt::Display for ConcretePeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConcretePeer::Cidr(c) | ConcretePeer::Ipv6Cidr(c) | ConcretePeer::PrefixList(c) => f.write_str(c),
            ConcretePeer::Group(g) => write!(f, "{g}"),
        }
    }
}

/// One AWS rule: one peer, one port range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub traffic: RuleMatch,
    pub peer: ConcretePeer,
    pub description: Option<String>,
}

impl Rule {
    fn key(&self) -> (RuleMatch, ConcretePeer) {
        (self.traffic.clone(), self.peer.clone())
    }
}

/// An owned group as AWS reports it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ObservedGroup {
    pub id: String,
    pub name: String,
    pub vpc_id: String,
    pub description: String,
    pub tags: BTreeMap<String, String>,
    pub ingress: Vec<Rule>,
    pub egress: Vec<Rule>,
}

impl ObservedGroup {
    pub fn tier(&self) -> Option<&str> {
        self.tags.get(TIER_TAG).map(String::as_str)
    }

    fn rules(&self, direction: Direction) -> &[Rule] {
        match direction {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }
}

/// What AWS holds for the set: its groups (found by owner tag) and its parameters.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Observed {
    pub groups: Vec<ObservedGroup>,
    /// Parameter name → value, under `/sg/{set}/`.
    pub parameters: BTreeMap<String, String>,
}

/// Everything the diff needs that is neither spec nor observed AWS state.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    pub vpc_id: String,
    /// `(namespace, set, tier)` → group id, from the other sets' status.
    pub set_refs: BTreeMap<(String, String, String), String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    CreateGroup {
        tier: String,
        name: String,
        description: String,
        tags: BTreeMap<String, String>,
    },
    Authorize {
        tier: String,
        group: GroupRef,
        direction: Direction,
        rules: Vec<Rule>,
    },
    UpdateDescriptions {
        tier: String,
        group: GroupRef,
        direction: Direction,
        rules: Vec<Rule>,
    },
    Revoke {
        tier: String,
        group: GroupRef,
        direction: Direction,
        rules: Vec<Rule>,
    },
    Tag {
        tier: String,
        group_id: String,
        tags: BTreeMap<String, String>,
    },
    Untag {
        tier: String,
        group_id: String,
        keys: Vec<String>,
    },
    PutParameter {
        tier: String,
        name: String,
        group: GroupRef,
        tags: BTreeMap<String, String>,
    },
    DeleteGroup {
        tier: String,
        group_id: String,
        why: &'static str,
    },
    DeleteParameter {
        name: String,
    },
}

impl Action {
    /// A stable name of the change, for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::CreateGroup { .. } => "create-group",
            Action::Authorize { .. } => "authorize",
            Action::UpdateDescriptions { .. } => "update-descriptions",
            Action::Revoke { .. } => "revoke",
            Action::Tag { .. } => "tag",
            Action::Untag { .. } => "untag",
            Action::PutParameter { .. } => "put-parameter",
            Action::DeleteGroup { .. } => "delete-group",
            Action::DeleteParameter { .. } => "delete-parameter",
        }
    }

    /// The tier the change belongs to (empty for a parameter without one).
    pub fn tier(&self) -> &str {
        match self {
            Action::CreateGroup { tier, .. }
            | Action::Authorize { tier, .. }
            | Action::UpdateDescriptions { tier, .. }
            | Action::Revoke { tier, .. }
            | Action::Tag { tier, .. }
            | Action::Untag { tier, .. }
            | Action::PutParameter { tier, .. }
            | Action::DeleteGroup { tier, .. } => tier,
            Action::DeleteParameter { name } => name.split('/').nth(3).unwrap_or_default(),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rules = |rules: &[Rule], direction: &Direction| {
            let word = if *direction == Direction::Ingress {
                "from"
            } else {
                "to"
            };
            rules
                .iter()
                .map(|r| format!("{} {word} {}", r.traffic, r.peer))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Action::CreateGroup { tier, name, .. } => write!(f, "+ create group {name} (tier {tier})"),
            Action::Authorize {
                tier,
                direction,
                rules: r,
                ..
            } => {
                write!(
                    f,
                    "+ authorize {} {tier}: {}",
                    direction.as_str(),
                    rules(r, direction)
                )
            }
            Action::UpdateDescriptions {
                tier,
                direction,
                rules: r,
                ..
            } => {
                write!(
                    f,
                    "~ describe {} {tier}: {}",
                    direction.as_str(),
                    rules(r, direction)
                )
            }
            Action::Revoke {
                tier,
                direction,
                rules: r,
                ..
            } => {
                write!(
                    f,
                    "- revoke {} {tier}: {}",
                    direction.as_str(),
                    rules(r, direction)
                )
            }
            Action::Tag { tier, tags, .. } => {
                let kv: Vec<_> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "~ tag {tier}: {}", kv.join(", "))
            }
            Action::Untag { tier, keys, .. } => write!(f, "~ untag {tier}: {}", keys.join(", ")),
            Action::PutParameter { name, group, .. } => write!(f, "+ parameter {name} = {group}"),
            Action::DeleteGroup { tier, group_id, why } => {
                write!(f, "- delete group {group_id} (tier {tier}, {why})")
            }
            Action::DeleteParameter { name } => write!(f, "- delete parameter {name}"),
        }
    }
}

/// A peer that cannot be resolved yet: another set's tier without a group id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unresolved {
    pub namespace: String,
    pub name: String,
    pub tier: String,
}

/// The result of [`diff`].
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Plan {
    pub actions: Vec<Action>,
    /// Groups the set keeps, by tier (existing or pending).
    pub groups: BTreeMap<String, GroupRef>,
    /// Rules left out because their peer set has no group id yet.
    pub unresolved: Vec<Unresolved>,
}

/// AWS adds this egress rule to every new group; the set revokes it unless it asks for it.
pub fn default_egress() -> Rule {
    Rule {
        traffic: RuleMatch {
            protocol: "-1".into(),
            from_port: -1,
            to_port: -1,
        },
        peer: ConcretePeer::Cidr("0.0.0.0/0".into()),
        description: None,
    }
}

/// Picks, per tier, the group the set keeps: in the set's VPC and named as desired, lowest id
/// first (deterministic, so two controllers agree). Every other owned group is surplus.
pub fn choose_groups<'a>(
    desired: &DesiredSet,
    observed: &'a Observed,
    vpc_id: &str,
) -> (BTreeMap<String, &'a ObservedGroup>, Vec<&'a ObservedGroup>) {
    let mut kept: BTreeMap<String, &ObservedGroup> = BTreeMap::new();
    let mut surplus = Vec::new();
    let mut sorted: Vec<&ObservedGroup> = observed.groups.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    for group in sorted {
        let wanted = group
            .tier()
            .and_then(|t| desired.group(t))
            .filter(|d| d.name == group.name && group.vpc_id == vpc_id);
        match wanted {
            Some(d) if !kept.contains_key(&d.tier) => {
                kept.insert(d.tier.clone(), group);
            }
            _ => surplus.push(group),
        }
    }
    (kept, surplus)
}

pub fn diff(desired: &DesiredSet, observed: &Observed, inputs: &Inputs) -> Plan {
    let (kept, surplus) = choose_groups(desired, observed, &inputs.vpc_id);
    let groups: BTreeMap<String, GroupRef> = desired
        .groups
        .iter()
        .map(|g| {
            let r = kept.get(&g.tier).map_or_else(
                || GroupRef::Pending(g.tier.clone()),
                |o| GroupRef::Existing(o.id.clone()),
            );
            (g.tier.clone(), r)
        })
        .collect();

    let mut plan = Plan {
        groups: groups.clone(),
        ..Default::default()
    };
    let mut creates = Vec::new();
    let (mut authorize, mut describe, mut revoke, mut tag, mut params) =
        (vec![], vec![], vec![], vec![], vec![]);

    for group in &desired.groups {
        let reference = groups[&group.tier].clone();
        let existing = kept.get(&group.tier).copied();
        if existing.is_none() {
            creates.push(Action::CreateGroup {
                tier: group.tier.clone(),
                name: group.name.clone(),
                description: group.description.clone(),
                tags: group.tags.clone(),
            });
        }
        for direction in [Direction::Ingress, Direction::Egress] {
            let want = resolve_rules(group, direction, &groups, inputs, &mut plan.unresolved);
            let have: Vec<Rule> = match (existing, direction) {
                (Some(o), d) => o.rules(d).to_vec(),
                (None, Direction::Egress) => vec![default_egress()],
                (None, Direction::Ingress) => vec![],
            };
            let have_keys: BTreeMap<_, _> = have.iter().map(|r| (r.key(), r)).collect();
            let want_keys: BTreeSet<_> = want.iter().map(Rule::key).collect();
            let new: Vec<Rule> = want
                .iter()
                .filter(|r| !have_keys.contains_key(&r.key()))
                .cloned()
                .collect();
            let redescribed: Vec<Rule> = want
                .iter()
                .filter(|r| {
                    have_keys
                        .get(&r.key())
                        .is_some_and(|h| h.description != r.description)
                })
                .cloned()
                .collect();
            let gone: Vec<Rule> = have
                .iter()
                .filter(|r| !want_keys.contains(&r.key()))
                .cloned()
                .collect();
            let tier = group.tier.clone();
            if !new.is_empty() {
                authorize.push(Action::Authorize {
                    tier: tier.clone(),
                    group: reference.clone(),
                    direction,
                    rules: new,
                });
            }
            if !redescribed.is_empty() {
                describe.push(Action::UpdateDescriptions {
                    tier: tier.clone(),
                    group: reference.clone(),
                    direction,
                    rules: redescribed,
                });
            }
            if !gone.is_empty() {
                revoke.push(Action::Revoke {
                    tier,
                    group: reference.clone(),
                    direction,
                    rules: gone,
                });
            }
        }
        if let Some(o) = existing {
            let add: BTreeMap<_, _> = group
                .tags
                .iter()
                .filter(|(k, v)| o.tags.get(*k) != Some(v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let remove: Vec<String> = o
                .tags
                .keys()
                .filter(|k| !group.tags.contains_key(*k) && !k.starts_with("aws:"))
                .cloned()
                .collect();
            if !add.is_empty() {
                tag.push(Action::Tag {
                    tier: group.tier.clone(),
                    group_id: o.id.clone(),
                    tags: add,
                });
            }
            if !remove.is_empty() {
                tag.push(Action::Untag {
                    tier: group.tier.clone(),
                    group_id: o.id.clone(),
                    keys: remove,
                });
            }
        }
        let current = observed.parameters.get(&group.parameter_name);
        let up_to_date = matches!((&reference, current), (GroupRef::Existing(id), Some(v)) if id == v);
        if !up_to_date {
            params.push(Action::PutParameter {
                tier: group.tier.clone(),
                name: group.parameter_name.clone(),
                group: reference.clone(),
                tags: group.tags.clone(),
            });
        }
    }

    // Surplus groups: their rules referencing kept groups go with them; other groups' rules
    // referencing them were revoked above (they are not desired).
    let mut deletes = Vec::new();
    for group in &surplus {
        let tier = group.tier().unwrap_or("?").to_string();
        let why = if group.tier().and_then(|t| desired.group(t)).is_some() {
            "duplicate"
        } else {
            "tier removed"
        };
        deletes.push(Action::DeleteGroup {
            tier,
            group_id: group.id.clone(),
            why,
        });
    }
    let wanted_params: BTreeSet<&str> = desired.groups.iter().map(|g| g.parameter_name.as_str()).collect();
    for name in observed.parameters.keys() {
        if !wanted_params.contains(name.as_str()) && name.ends_with("/SecurityGroupId") {
            deletes.push(Action::DeleteParameter { name: name.clone() });
        }
    }

    plan.actions = [creates, authorize, describe, revoke, tag, params, deletes].concat();
    plan
}

fn resolve_rules(
    group: &DesiredGroup,
    direction: Direction,
    groups: &BTreeMap<String, GroupRef>,
    inputs: &Inputs,
    unresolved: &mut Vec<Unresolved>,
) -> Vec<Rule> {
    group
        .rules(direction)
        .iter()
        .filter_map(|r| {
            let peer = match &r.peer {
                SymbolicPeer::Cidr(c) => ConcretePeer::Cidr(c.clone()),
                SymbolicPeer::Ipv6Cidr(c) => ConcretePeer::Ipv6Cidr(c.clone()),
                SymbolicPeer::PrefixList(p) => ConcretePeer::PrefixList(p.clone()),
                SymbolicPeer::Group(id) => ConcretePeer::Group(GroupRef::Existing(id.clone())),
                SymbolicPeer::Tier(t) => ConcretePeer::Group(groups.get(t)?.clone()),
                SymbolicPeer::SetRef {
                    namespace,
                    name,
                    tier,
                } => {
                    match inputs
                        .set_refs
                        .get(&(namespace.clone(), name.clone(), tier.clone()))
                    {
                        Some(id) => ConcretePeer::Group(GroupRef::Existing(id.clone())),
                        None => {
                            let u = Unresolved {
                                namespace: namespace.clone(),
                                name: name.clone(),
                                tier: tier.clone(),
                            };
                            if !unresolved.contains(&u) {
                                unresolved.push(u);
                            }
                            return None;
                        }
                    }
                }
            };
            Some(Rule {
                traffic: r.traffic.clone(),
                peer,
                description: r.description.clone(),
            })
        })
        .collect()
}

/// Deletion (`deletionPolicy: Delete`): revoke rules that reference the set's groups, delete
/// the groups, delete the parameters.
pub fn teardown(observed: &Observed) -> Vec<Action> {
    let ids: BTreeSet<&str> = observed.groups.iter().map(|g| g.id.as_str()).collect();
    let references = |r: &Rule| matches!(&r.peer, ConcretePeer::Group(GroupRef::Existing(id)) if ids.contains(id.as_str()));
    let mut actions = Vec::new();
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
                actions.push(Action::Revoke {
                    tier: tier.clone(),
                    group: GroupRef::Existing(group.id.clone()),
                    direction,
                    rules,
                });
            }
        }
    }
    for group in &observed.groups {
        let tier = group.tier().unwrap_or("?").to_string();
        actions.push(Action::DeleteGroup {
            tier,
            group_id: group.id.clone(),
            why: "set deleted",
        });
    }
    for name in observed.parameters.keys() {
        actions.push(Action::DeleteParameter { name: name.clone() });
    }
    actions
}
