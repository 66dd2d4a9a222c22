//! Rules: symbolic peers resolved to groups, and the one rule diff every direction uses.

use std::collections::{BTreeMap, BTreeSet};

use super::{ConcretePeer, GroupRef, Inputs, Rule, Unresolved};
use crate::model::{DesiredGroup, Direction, RuleMatch, SymbolicPeer};

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

/// In a VPC with an IPv6 block, AWS adds this one too.
pub fn default_egress_v6() -> Rule {
    Rule {
        peer: ConcretePeer::Ipv6Cidr("::/0".into()),
        ..default_egress()
    }
}

/// What turns `have` into `want`. AWS identifies a rule by (traffic, peer): a rule in both
/// with another description is changed in place, not replaced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleChanges {
    pub new: Vec<Rule>,
    pub redescribed: Vec<Rule>,
    pub gone: Vec<Rule>,
}

pub fn rule_changes(want: &[Rule], have: &[Rule]) -> RuleChanges {
    let have_keys: BTreeMap<_, _> = have.iter().map(|r| (r.key(), r)).collect();
    let want_keys: BTreeSet<_> = want.iter().map(Rule::key).collect();
    let mut changes = RuleChanges::default();
    for rule in want {
        match have_keys.get(&rule.key()) {
            None => changes.new.push(rule.clone()),
            Some(h) if h.description != rule.description => changes.redescribed.push(rule.clone()),
            Some(_) => {}
        }
    }
    changes.gone = have
        .iter()
        .filter(|r| !want_keys.contains(&r.key()))
        .cloned()
        .collect();
    changes
}

impl Rule {
    /// Whether the rule counts towards the IPv6 (`true`) or IPv4 (`false`) rules quota: a rule
    /// naming a group or a prefix list counts towards both.
    fn counts_for(&self, ipv6: bool) -> bool {
        match self.peer {
            ConcretePeer::Cidr(_) => !ipv6,
            ConcretePeer::Ipv6Cidr(_) => ipv6,
            ConcretePeer::PrefixList(_) | ConcretePeer::Group(_) => true,
        }
    }
}

/// The rules of `gone` to revoke before the authorizations so that the group never holds more
/// than `quota` rules of either address family: as few as that needs, taken out of `gone`.
/// (They are not wanted anyway; the rest of `gone` still waits until after the authorizations.)
pub fn make_room(have: &[Rule], new: &[Rule], gone: &mut Vec<Rule>, quota: usize) -> Vec<Rule> {
    let mut after: Vec<&Rule> = have.iter().chain(new).collect();
    let over = |after: &[&Rule], ipv6: bool| after.iter().filter(|r| r.counts_for(ipv6)).count() > quota;
    let mut room = Vec::new();
    loop {
        let (over4, over6) = (over(&after, false), over(&after, true));
        let helps = |r: &Rule| (over4 && r.counts_for(false)) || (over6 && r.counts_for(true));
        let Some(pos) = gone.iter().position(helps) else {
            return room;
        };
        let rule = gone.remove(pos);
        after.retain(|a| a.key() != rule.key());
        room.push(rule);
    }
}

/// A group's desired rules with their peers resolved: tiers to this plan's groups, `setRef`s to
/// the other sets' group ids. A `setRef` without an id yet is left out and reported; the
/// traffic of such rules is returned beside the resolved ones.
pub fn resolve(
    group: &DesiredGroup,
    direction: Direction,
    groups: &BTreeMap<String, GroupRef>,
    inputs: &Inputs,
    unresolved: &mut Vec<Unresolved>,
) -> (Vec<Rule>, Vec<RuleMatch>) {
    let mut waiting = Vec::new();
    let rules = group
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
                    let key = (namespace.clone(), name.clone(), tier.clone());
                    let Some(id) = inputs.set_refs.get(&key) else {
                        let u = Unresolved {
                            namespace: key.0,
                            name: key.1,
                            tier: key.2,
                        };
                        if !unresolved.contains(&u) {
                            unresolved.push(u);
                        }
                        waiting.push(r.traffic.clone());
                        return None;
                    };
                    ConcretePeer::Group(GroupRef::Existing(id.clone()))
                }
            };
            Some(Rule {
                traffic: r.traffic.clone(),
                peer,
                description: r.description.clone(),
            })
        })
        .collect();
    (rules, waiting)
}
