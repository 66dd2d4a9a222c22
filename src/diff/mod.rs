//! Pure: desired state vs what AWS holds → the ordered actions that converge them, and what
//! must refuse the plan before any of it runs.
//!
//! Order (make-before-break): create groups (each followed by the revoke of AWS's default
//! egress) and adopt groups, authorize new rules, re-describe changed ones, revoke unwanted
//! ones, reconcile tags, write parameters, then delete removed or duplicate groups (their
//! references were revoked above) and their parameters.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::model::{
    CLUSTER_TAG, DesiredGroup, DesiredSet, Direction, OWNER_TAG, Ownership, RuleMatch, TIER_TAG,
};

mod action;
pub mod compact;
pub mod outputs;
mod rules;
mod teardown;
#[cfg(test)]
mod tests;

pub use action::Action;
pub use rules::{RuleChanges, default_egress, default_egress_v6, rule_changes};
pub use teardown::{hold, teardown};

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

    pub fn rules(&self, direction: Direction) -> &[Rule] {
        match direction {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }
}

/// A parameter under the set's prefix. Its tags are read only when a decision needs them (a
/// write to it, a spec change, a teardown): a resync that changes nothing does not read them.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ObservedParameter {
    pub value: String,
    pub tags: Option<BTreeMap<String, String>>,
}

/// What AWS holds for the set.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Observed {
    /// Groups with both our owner and cluster tags.
    pub groups: Vec<ObservedGroup>,
    /// Parameters under `/sg/{set}/`, by name.
    pub parameters: BTreeMap<String, ObservedParameter>,
    /// Groups named by adoption annotations, by tier, as AWS reports them (`None`: no such
    /// group). Read only for tiers that have no group of ours.
    pub adoptable: BTreeMap<String, Option<ObservedGroup>>,
    /// Groups in the set's VPC, not ours, named as a group the set would create (read only
    /// when it would create one).
    pub same_name: Vec<ObservedGroup>,
}

/// Everything the diff needs that is neither spec nor observed AWS state.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    pub vpc_id: String,
    /// `(namespace, set, tier)` → group id, from the other sets' status.
    pub set_refs: BTreeMap<(String, String, String), String>,
    /// Whether the set's namespace may adopt groups.
    pub adoption: Adoption,
    /// The VPC has an IPv6 block: new groups start with `::/0` egress as well.
    pub vpc_ipv6: bool,
    /// Rules per group and direction that AWS allows.
    pub quota: Quota,
}

/// AWS's rules quota per group, per direction; enforced separately for IPv4 and IPv6 rules (a
/// rule naming a group or a prefix list counts in both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub ingress: usize,
    pub egress: usize,
}

impl Default for Quota {
    fn default() -> Self {
        let n = crate::limits::DEFAULT_RULES_PER_GROUP;
        Quota {
            ingress: n,
            egress: n,
        }
    }
}

impl From<&crate::model::Limits> for Quota {
    fn from(limits: &crate::model::Limits) -> Self {
        Quota {
            ingress: limits.max_ingress_rules,
            egress: limits.max_egress_rules,
        }
    }
}

impl Quota {
    pub fn of(&self, direction: Direction) -> usize {
        match direction {
            Direction::Ingress => self.ingress,
            Direction::Egress => self.egress,
        }
    }
}

/// The cluster admin's word on adoption (`--adoption-namespaces`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Adoption {
    #[default]
    Allowed,
    /// Refused, and why (which namespaces may).
    Forbidden(String),
}

/// A peer that cannot be resolved yet: another set's tier without a group id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unresolved {
    pub namespace: String,
    pub name: String,
    pub tier: String,
}

/// Why the plan must not run: found before any write, so AWS is never left half-done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A parameter the set would write carries another owner's tags (or none of ours).
    ForeignParameter { name: String, owner: String },
    /// An adoption annotation names a group the set may not take.
    AdoptionRefused { tier: String, id: String, why: String },
    /// A group the set would create has the name of a group that is not ours.
    ForeignGroup {
        tier: String,
        name: String,
        id: String,
        owner: String,
    },
    /// The ConfigMap `spec.outputs.configMap` names exists and the set does not control it.
    ForeignConfigMap { name: String, owner: String },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::ForeignParameter { name, owner } => write!(
                f,
                "parameter {name} is not this set's ({owner}): delete it, or rename the set"
            ),
            Refusal::AdoptionRefused { tier, id, why } => write!(f, "tier {tier}: cannot adopt {id}: {why}"),
            Refusal::ForeignGroup {
                tier,
                name,
                id,
                owner,
            } => write!(
                f,
                "tier {tier}: security group {id} is named {name} but is not owned by this set ({owner}); \
                 delete or rename it, or adopt it with the annotation {}{tier}={id}",
                crate::api::ADOPT_ANNOTATION
            ),
            Refusal::ForeignConfigMap { name, owner } => write!(
                f,
                "ConfigMap {name} already exists and is not this set's ({owner}): it is left as it is; \
                 delete it, or name another ConfigMap"
            ),
        }
    }
}

/// The result of [`diff`] (and of [`teardown`]).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Plan {
    /// Every AWS write, in the order to make them.
    pub actions: Vec<Action>,
    /// Groups the set keeps, by tier (existing or pending).
    pub groups: BTreeMap<String, GroupRef>,
    /// Rules left out because their peer set has no group id yet.
    pub unresolved: Vec<Unresolved>,
    /// Reasons not to run the plan at all.
    pub refusals: Vec<Refusal>,
    /// Parameters whose tags decide an action but were not read: read them and diff again.
    pub unread_parameter_tags: Vec<String>,
    /// Group deletions held back, and why (what still uses each group).
    pub blocked: Vec<String>,
}

/// Who a tag map says owns a resource, for messages.
pub fn owner_of(tags: &BTreeMap<String, String>) -> String {
    match (tags.get(OWNER_TAG), tags.get(CLUSTER_TAG)) {
        (Some(o), Some(c)) => format!("owner {o} in cluster {c}"),
        (Some(o), None) => format!("owner {o} (no cluster tag)"),
        _ => "no owner tag".into(),
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

/// Whether the group an annotation names may become the tier's: same VPC, the tier's name, and
/// no other owner or cluster on it.
fn adoption_refusal(
    wanted: &DesiredGroup,
    found: Option<&ObservedGroup>,
    vpc_id: &str,
    us: &Ownership,
) -> Option<String> {
    let Some(found) = found else {
        return Some("no such group".into());
    };
    if found.vpc_id != vpc_id {
        return Some(format!("it is in {}, the set's VPC is {vpc_id}", found.vpc_id));
    }
    if found.name != wanted.name {
        return Some(format!(
            "it is named {}, the tier's group must be named {}",
            found.name, wanted.name
        ));
    }
    if let Some(owner) = found.tags.get(OWNER_TAG).filter(|o| **o != us.owner) {
        return Some(format!("it is owned by {owner}"));
    }
    if let Some(cluster) = found.tags.get(CLUSTER_TAG).filter(|c| **c != us.cluster) {
        return Some(format!(
            "it belongs to cluster {cluster}, this controller is cluster {}",
            us.cluster
        ));
    }
    None
}

/// The actions of each stage, concatenated in this order at the end.
#[derive(Default)]
struct Stages {
    create: Vec<Action>,
    adopt: Vec<Action>,
    authorize: Vec<Action>,
    describe: Vec<Action>,
    revoke: Vec<Action>,
    tag: Vec<Action>,
    parameters: Vec<Action>,
    delete: Vec<Action>,
}

impl Stages {
    fn into_actions(self) -> Vec<Action> {
        [
            self.create,
            self.adopt,
            self.authorize,
            self.describe,
            self.revoke,
            self.tag,
            self.parameters,
            self.delete,
        ]
        .concat()
    }
}

pub fn diff(desired: &DesiredSet, observed: &Observed, inputs: &Inputs) -> Plan {
    let (mut kept, surplus) = choose_groups(desired, observed, &inputs.vpc_id);
    let mut plan = Plan::default();
    let mut adopted = BTreeSet::new();
    for (tier, id) in &desired.adopt {
        let Some(wanted) = desired.group(tier).filter(|_| !kept.contains_key(tier)) else {
            continue;
        };
        let found = observed.adoptable.get(tier).and_then(Option::as_ref);
        let refusal = match &inputs.adoption {
            Adoption::Forbidden(why) => Some(why.clone()),
            Adoption::Allowed => adoption_refusal(wanted, found, &inputs.vpc_id, &desired.ownership),
        };
        match refusal {
            Some(why) => plan.refusals.push(Refusal::AdoptionRefused {
                tier: tier.clone(),
                id: id.clone(),
                why,
            }),
            None => {
                kept.insert(tier.clone(), found.expect("checked above"));
                adopted.insert(tier.clone());
            }
        }
    }
    plan.groups = desired
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
    let mut stages = Stages::default();
    for group in &desired.groups {
        let existing = kept.get(&group.tier).copied();
        if let Some(taken) = observed
            .same_name
            .iter()
            .find(|g| existing.is_none() && g.name == group.name)
        {
            plan.refusals.push(Refusal::ForeignGroup {
                tier: group.tier.clone(),
                name: group.name.clone(),
                id: taken.id.clone(),
                owner: owner_of(&taken.tags),
            });
        }
        group_actions(
            group,
            existing,
            adopted.contains(&group.tier),
            &mut plan,
            inputs,
            &mut stages,
        );
        parameter_actions(
            group,
            &plan.groups[&group.tier].clone(),
            observed,
            desired,
            &mut plan,
            &mut stages,
        );
    }
    surplus_actions(desired, observed, &surplus, &mut plan, &mut stages);
    plan.actions = stages.into_actions();
    plan
}

/// A tier's group: create it, or adopt it, or bring its rules and tags to the spec.
fn group_actions(
    group: &DesiredGroup,
    existing: Option<&ObservedGroup>,
    adopted: bool,
    plan: &mut Plan,
    inputs: &Inputs,
    stages: &mut Stages,
) {
    let tier = group.tier.clone();
    if existing.is_none() {
        stages.create.push(Action::CreateGroup {
            tier: tier.clone(),
            name: group.name.clone(),
            vpc_id: inputs.vpc_id.clone(),
            description: group.description.clone(),
            tags: group.tags.clone(),
        });
    }
    for direction in [Direction::Ingress, Direction::Egress] {
        rule_actions(group, existing, direction, plan, inputs, stages);
    }
    let Some(o) = existing else { return };
    let (add, remove) = tag_changes(&group.tags, &o.tags);
    let group_id = o.id.clone();
    if !add.is_empty() && adopted {
        stages.adopt.push(Action::AdoptGroup {
            tier: tier.clone(),
            group_id: group_id.clone(),
            tags: add,
        });
    } else if !add.is_empty() {
        stages.tag.push(Action::TagGroup {
            tier: tier.clone(),
            group_id: group_id.clone(),
            tags: add,
        });
    }
    if !remove.is_empty() {
        stages.tag.push(Action::UntagGroup {
            tier,
            group_id,
            keys: remove,
        });
    }
}

/// One direction of a group: authorize what is missing, re-describe, revoke what is not wanted.
/// A new group starts with AWS's default egress rule, which is revoked unless it is wanted.
fn rule_actions(
    group: &DesiredGroup,
    existing: Option<&ObservedGroup>,
    direction: Direction,
    plan: &mut Plan,
    inputs: &Inputs,
    stages: &mut Stages,
) {
    let (want, waiting) = rules::resolve(group, direction, &plan.groups, inputs, &mut plan.unresolved);
    let have: Vec<Rule> = match (existing, direction) {
        (Some(o), d) => o.rules(d).to_vec(),
        (None, Direction::Egress) if inputs.vpc_ipv6 => vec![default_egress(), default_egress_v6()],
        (None, Direction::Egress) => vec![default_egress()],
        (None, Direction::Ingress) => vec![],
    };
    let mut changes = rule_changes(&want, &have);
    // A `setRef` without an id yet may be what allows a group-peer rule already there (the
    // other set is being recreated): keep such rules until the reference resolves.
    changes
        .gone
        .retain(|r| !(matches!(r.peer, ConcretePeer::Group(_)) && waiting.contains(&r.traffic)));
    let (tier, group) = (group.tier.clone(), plan.groups[&group.tier].clone());
    if existing.is_some() {
        let room = rules::make_room(&have, &changes.new, &mut changes.gone, inputs.quota.of(direction));
        if !room.is_empty() {
            stages.authorize.push(Action::Revoke {
                tier: tier.clone(),
                group: group.clone(),
                direction,
                rules: room,
                make_room: true,
            });
        }
    }
    if !changes.new.is_empty() {
        stages.authorize.push(Action::Authorize {
            tier: tier.clone(),
            group: group.clone(),
            direction,
            rules: changes.new,
        });
    }
    if !changes.redescribed.is_empty() {
        stages.describe.push(Action::UpdateDescriptions {
            tier: tier.clone(),
            group: group.clone(),
            direction,
            rules: changes.redescribed,
        });
    }
    // A new group's default allow-all egress goes right after its creation: nothing uses the
    // group yet, and a later failure must not leave it open.
    let revokes = if existing.is_none() {
        &mut stages.create
    } else {
        &mut stages.revoke
    };
    if !changes.gone.is_empty() {
        revokes.push(Action::Revoke {
            tier,
            group,
            direction,
            rules: changes.gone,
            make_room: false,
        });
    }
}

/// Tags to add (or change) and keys to remove, so that `have` becomes `want`; AWS's own `aws:`
/// tags are never touched.
fn tag_changes(
    want: &BTreeMap<String, String>,
    have: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let add = want
        .iter()
        .filter(|(k, v)| have.get(*k) != Some(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove = have
        .keys()
        .filter(|k| !want.contains_key(*k) && !k.starts_with("aws:"))
        .cloned()
        .collect();
    (add, remove)
}

/// The tier's parameter: create it, or correct its value and tags when it is ours.
fn parameter_actions(
    group: &DesiredGroup,
    reference: &GroupRef,
    observed: &Observed,
    desired: &DesiredSet,
    plan: &mut Plan,
    stages: &mut Stages,
) {
    let (tier, name) = (group.tier.clone(), group.parameter_name.clone());
    let Some(current) = observed.parameters.get(&name) else {
        stages.parameters.push(Action::CreateParameter {
            tier,
            name,
            group: reference.clone(),
            tags: group.tags.clone(),
        });
        return;
    };
    let value_ok = matches!(reference, GroupRef::Existing(id) if *id == current.value);
    let tags = match &current.tags {
        None if value_ok => return,
        None => return plan.unread_parameter_tags.push(name),
        Some(tags) => tags,
    };
    let (add, remove) = tag_changes(&group.tags, tags);
    // A parameter nobody tagged is taken over only with the tier's adoption annotation, like
    // its group: the annotation says the user means it.
    let unclaimed = !tags.contains_key(OWNER_TAG) && !tags.contains_key(CLUSTER_TAG);
    let adopted = unclaimed && desired.adopt.contains_key(&tier);
    let ours = desired.ownership.owns(tags) || adopted;
    if (!value_ok || !add.is_empty() || !remove.is_empty()) && !ours {
        plan.refusals.push(Refusal::ForeignParameter {
            name,
            owner: owner_of(tags),
        });
        return;
    }
    if !value_ok {
        stages.parameters.push(Action::OverwriteParameter {
            tier: tier.clone(),
            name: name.clone(),
            group: reference.clone(),
        });
    }
    if !add.is_empty() {
        stages.parameters.push(Action::TagParameter {
            tier: tier.clone(),
            name: name.clone(),
            tags: add,
        });
    }
    if !remove.is_empty() {
        stages.parameters.push(Action::UntagParameter {
            tier,
            name,
            keys: remove,
        });
    }
}

/// Groups of removed tiers (or duplicates) and parameters of removed tiers, when ours.
fn surplus_actions(
    desired: &DesiredSet,
    observed: &Observed,
    surplus: &[&ObservedGroup],
    plan: &mut Plan,
    stages: &mut Stages,
) {
    // Surplus groups may name each other (two removed tiers): those rules go first.
    let ids: BTreeSet<&str> = surplus.iter().map(|g| g.id.as_str()).collect();
    stages.revoke.extend(teardown::revoke_references(surplus, &ids));
    for group in surplus {
        let known = group.tier().and_then(|t| desired.group(t)).is_some();
        stages.delete.push(Action::DeleteGroup {
            tier: group.tier().unwrap_or("?").to_string(),
            group_id: group.id.clone(),
            why: if known { "duplicate" } else { "tier removed" },
        });
    }
    let wanted: BTreeSet<&str> = desired.groups.iter().map(|g| g.parameter_name.as_str()).collect();
    for (name, parameter) in &observed.parameters {
        if wanted.contains(name.as_str()) || !name.ends_with("/SecurityGroupId") {
            continue;
        }
        match &parameter.tags {
            None => plan.unread_parameter_tags.push(name.clone()),
            // Not ours: left alone, whoever put it under our prefix.
            Some(tags) if !desired.ownership.owns(tags) => {}
            Some(_) => stages.delete.push(Action::DeleteParameter {
                tier: parameter_tier(name),
                name: name.clone(),
            }),
        }
    }
}

/// `/sg/{set}/{tier}/SecurityGroupId` → `{tier}`.
pub fn parameter_tier(name: &str) -> String {
    name.split('/').nth(3).unwrap_or_default().to_string()
}
