//! The neutral view from either side: the file's desired groups, or the groups AWS holds.

use std::collections::BTreeMap;

use super::{FlowView, Net, RulePeer, TierRules, ViewRule};
use crate::api::{Peer, SecurityGroupSetSpec, Tier, Traffic};
use crate::diff::{ConcretePeer, GroupRef, ObservedGroup, Rule};
use crate::model::{DesiredRule, DesiredSet, Direction, SymbolicPeer, rule_match, symbolic_peer};

impl FlowView {
    /// The desired state of a set; with its spec, each rule names the field it comes from.
    pub fn from_desired(desired: &DesiredSet, spec: Option<&SecurityGroupSetSpec>) -> FlowView {
        let tiers = desired
            .groups
            .iter()
            .map(|g| {
                let spec_tier = spec.and_then(|s| s.tiers.iter().find(|t| t.name == g.tier));
                let rules = |direction: Direction| -> Vec<ViewRule> {
                    g.rules(direction)
                        .iter()
                        .map(|r| ViewRule {
                            traffic: r.traffic.clone(),
                            peer: symbolic(&r.peer),
                            description: r.description.clone(),
                            origin: spec_tier.and_then(|t| origin(t, &desired.namespace, direction, r)),
                        })
                        .collect()
                };
                TierRules {
                    tier: g.tier.clone(),
                    group_id: None,
                    ingress: rules(Direction::Ingress),
                    egress: rules(Direction::Egress),
                }
            })
            .collect();
        FlowView {
            set: format!("{}/{}", desired.namespace, desired.set_name),
            tiers,
        }
    }

    /// What AWS holds for the set's tiers: per tier, the set's group of that tier and name (the
    /// lowest id when there are several, as the controller keeps). Also notes on what is
    /// missing or duplicated.
    pub fn from_observed(desired: &DesiredSet, groups: &[ObservedGroup]) -> (FlowView, Vec<String>) {
        let mut notes = Vec::new();
        let mut chosen: Vec<(&str, Option<&ObservedGroup>)> = Vec::new();
        for d in &desired.groups {
            let mut found: Vec<&ObservedGroup> = groups
                .iter()
                .filter(|g| g.tier() == Some(d.tier.as_str()) && g.name == d.name)
                .collect();
            found.sort_by(|a, b| a.id.cmp(&b.id));
            match found.len() {
                0 => notes.push(format!(
                    "tier {} has no group in AWS (not applied yet?): no rule lets traffic in or out of it",
                    d.tier
                )),
                1 => {}
                n => notes.push(format!(
                    "tier {}: {n} groups named {} in AWS; using the lowest id, {}",
                    d.tier, d.name, found[0].id
                )),
            }
            chosen.push((&d.tier, found.first().copied()));
        }
        let ids: BTreeMap<&str, &str> = chosen
            .iter()
            .filter_map(|(tier, g)| g.map(|g| (g.id.as_str(), *tier)))
            .collect();
        let tiers = chosen
            .iter()
            .map(|(tier, g)| {
                let rules = |direction: Direction| -> Vec<ViewRule> {
                    g.map(|g| g.rules(direction).iter().map(|r| observed(r, &ids)).collect())
                        .unwrap_or_default()
                };
                TierRules {
                    tier: tier.to_string(),
                    group_id: g.map(|g| g.id.clone()),
                    ingress: rules(Direction::Ingress),
                    egress: rules(Direction::Egress),
                }
            })
            .collect();
        let view = FlowView {
            set: format!("{}/{}", desired.namespace, desired.set_name),
            tiers,
        };
        (view, notes)
    }
}

fn cidr(text: &str) -> RulePeer {
    Net::parse(text).map_or_else(|_| RulePeer::Unknown(text.into()), RulePeer::Cidr)
}

fn symbolic(peer: &SymbolicPeer) -> RulePeer {
    match peer {
        SymbolicPeer::Cidr(c) | SymbolicPeer::Ipv6Cidr(c) => cidr(c),
        SymbolicPeer::PrefixList(p) => RulePeer::PrefixList(p.clone()),
        SymbolicPeer::Tier(t) => RulePeer::Tier(t.clone()),
        SymbolicPeer::Group(g) => RulePeer::Group(g.clone()),
        SymbolicPeer::SetRef {
            namespace,
            name,
            tier,
        } => RulePeer::SetRef {
            namespace: namespace.clone(),
            name: name.clone(),
            tier: tier.clone(),
        },
    }
}

/// An AWS rule, with a group of the set named by its tier.
fn observed(rule: &Rule, tiers_by_id: &BTreeMap<&str, &str>) -> ViewRule {
    let peer = match &rule.peer {
        ConcretePeer::Cidr(c) | ConcretePeer::Ipv6Cidr(c) => cidr(c),
        ConcretePeer::PrefixList(p) => RulePeer::PrefixList(p.clone()),
        ConcretePeer::Group(GroupRef::Existing(id)) => match tiers_by_id.get(id.as_str()) {
            Some(tier) => RulePeer::Tier(tier.to_string()),
            None => RulePeer::Group(id.clone()),
        },
        ConcretePeer::Group(GroupRef::Pending(tier)) => RulePeer::Tier(tier.clone()),
    };
    ViewRule {
        traffic: rule.traffic.clone(),
        peer,
        description: rule.description.clone(),
        origin: None,
    }
}

/// The spec field a desired rule comes from: the first rule and peer that produce it (the
/// model keeps the first of duplicates).
fn origin(tier: &Tier, namespace: &str, direction: Direction, rule: &DesiredRule) -> Option<String> {
    let rules: Vec<(&Traffic, &Vec<Peer>)> = match direction {
        Direction::Ingress => tier.ingress.iter().map(|r| (&r.traffic, &r.from)).collect(),
        Direction::Egress => tier.egress.iter().map(|r| (&r.traffic, &r.to)).collect(),
    };
    let word = super::peer_word(direction);
    rules.iter().enumerate().find_map(|(i, (traffic, peers))| {
        if rule_match(traffic).ok().as_ref() != Some(&rule.traffic) {
            return None;
        }
        let j = peers
            .iter()
            .position(|p| symbolic_peer(p, &tier.name, namespace) == rule.peer)?;
        Some(format!(
            "spec.tiers[name={}].{}[{i}].{word}[{j}]",
            tier.name,
            direction.as_str()
        ))
    })
}
