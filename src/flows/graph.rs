//! Every allowed flow of a set, as a graph: tiers and external peers as nodes, one edge per
//! (from, to) pair labelled with its traffic. Sorted, so renderings are deterministic.
//!
//! Between two tiers an edge needs both halves: an egress rule of the source and an ingress
//! rule of the destination that hold each other, at least one of them naming the other's group
//! (flows that exist only because both sides are open to 0.0.0.0/0 go through the internet
//! node). An external peer's own rules are outside the set: its edges are the tier's rules.

use std::collections::{BTreeMap, BTreeSet};

use super::{Endpoint, Family, FlowView, RulePeer, TierRules, covers, intersect, peer_matches};
use crate::model::RuleMatch;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeKind {
    Tier,
    /// 0.0.0.0/0 and ::/0.
    Internet,
    Cidr,
    PrefixList,
    Group,
    SetRef,
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Unique and stable: `tier:web`, `internet`, `cidr:10.0.0.0/8`, `pl:pl-0abc`, `sg:sg-0abc`.
    pub key: String,
    pub kind: NodeKind,
    pub label: String,
    /// A second line: the group id of a tier read from AWS, the internet's CIDRs.
    pub detail: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    pub from: String,
    pub to: String,
    /// The traffic, sorted: `tcp/80, tcp/443`; internet edges say when only one family is open.
    pub label: String,
    /// From the internet into a tier.
    pub exposed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Graph {
    pub set: String,
    /// Sorted by key.
    pub nodes: Vec<Node>,
    /// Sorted by (from, to).
    pub edges: Vec<Edge>,
}

type Entries = BTreeSet<(RuleMatch, Option<Family>)>;

/// The view's allowed flows.
pub fn graph(view: &FlowView) -> Graph {
    let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
    let mut edges: BTreeMap<(String, String), Entries> = BTreeMap::new();
    for tier in &view.tiers {
        let node = tier_node(tier);
        nodes.insert(node.key.clone(), node);
    }
    for a in &view.tiers {
        for b in &view.tiers {
            for traffic in tier_to_tier(a, b) {
                let key = (tier_key(&a.tier), tier_key(&b.tier));
                edges.entry(key).or_default().insert((traffic, None));
            }
        }
    }
    for tier in &view.tiers {
        for (rules, inbound) in [(&tier.ingress, true), (&tier.egress, false)] {
            for rule in rules.iter().filter(|r| !matches!(r.peer, RulePeer::Tier(_))) {
                let node = peer_node(&rule.peer);
                let family = match &rule.peer {
                    RulePeer::Cidr(n) if n.is_world() => Some(n.family()),
                    _ => None,
                };
                let key = match inbound {
                    true => (node.key.clone(), tier_key(&tier.tier)),
                    false => (tier_key(&tier.tier), node.key.clone()),
                };
                nodes.entry(node.key.clone()).or_insert(node);
                edges
                    .entry(key)
                    .or_default()
                    .insert((rule.traffic.clone(), family));
            }
        }
    }
    let edges = edges
        .into_iter()
        .map(|((from, to), entries)| Edge {
            exposed: from == INTERNET && to.starts_with("tier:"),
            label: label(&entries),
            from,
            to,
        })
        .collect();
    Graph {
        set: view.set.clone(),
        nodes: nodes.into_values().collect(),
        edges,
    }
}

const INTERNET: &str = "internet";

fn tier_key(tier: &str) -> String {
    format!("tier:{tier}")
}

fn tier_node(tier: &TierRules) -> Node {
    Node {
        key: tier_key(&tier.tier),
        kind: NodeKind::Tier,
        label: tier.tier.clone(),
        detail: tier.group_id.clone(),
    }
}

fn peer_node(peer: &RulePeer) -> Node {
    let (key, kind, label) = match peer {
        RulePeer::Cidr(n) if n.is_world() => {
            (INTERNET.to_string(), NodeKind::Internet, "internet".to_string())
        }
        RulePeer::Cidr(n) => (format!("cidr:{n}"), NodeKind::Cidr, n.to_string()),
        RulePeer::PrefixList(p) => (format!("pl:{p}"), NodeKind::PrefixList, p.clone()),
        RulePeer::Tier(t) => (tier_key(t), NodeKind::Tier, t.clone()),
        RulePeer::Group(g) => (format!("sg:{g}"), NodeKind::Group, g.clone()),
        RulePeer::SetRef {
            namespace,
            name,
            tier,
        } => (
            format!("set:{namespace}/{name}/{tier}"),
            NodeKind::SetRef,
            format!("{namespace}/{name} tier {tier}"),
        ),
        RulePeer::Unknown(p) => (format!("other:{p}"), NodeKind::Other, p.clone()),
    };
    let detail = (kind == NodeKind::Internet).then(|| "0.0.0.0/0, ::/0".to_string());
    Node {
        key,
        kind,
        label,
        detail,
    }
}

/// The traffic `a`'s egress and `b`'s ingress both allow from `a` to `b`.
fn tier_to_tier(a: &TierRules, b: &TierRules) -> Vec<RuleMatch> {
    let (from, to) = (Endpoint::Tier(a.tier.clone()), Endpoint::Tier(b.tier.clone()));
    let mut out = Vec::new();
    for e in &a.egress {
        for i in &b.ingress {
            let names_group = matches!(e.peer, RulePeer::Tier(_)) || matches!(i.peer, RulePeer::Tier(_));
            if names_group
                && peer_matches(&e.peer, &to).matched
                && peer_matches(&i.peer, &from).matched
                && let Some(t) = intersect(&e.traffic, &i.traffic)
            {
                out.push(t);
            }
        }
    }
    out
}

/// `tcp/80, tcp/443`; for the internet, traffic open over one family only is marked:
/// `tcp/443; tcp/22 (IPv4)`.
fn label(entries: &Entries) -> String {
    let mut families: BTreeMap<&RuleMatch, BTreeSet<Option<Family>>> = BTreeMap::new();
    for (traffic, family) in entries {
        families.entry(traffic).or_default().insert(*family);
    }
    // What another entry already lets through (over the same families) is not repeated.
    let shown: Vec<(&RuleMatch, &BTreeSet<Option<Family>>)> = families
        .iter()
        .filter(|(t, f)| {
            !families
                .iter()
                .any(|(u, g)| u != *t && covers(u, t) && (g.contains(&None) || g.is_superset(f)))
        })
        .map(|(t, f)| (*t, f))
        .collect();
    let mut groups: BTreeMap<Option<Family>, Vec<String>> = BTreeMap::new();
    for (traffic, fams) in shown {
        let only = match fams.iter().collect::<Vec<_>>().as_slice() {
            [Some(f)] => Some(*f),
            _ => None,
        };
        groups.entry(only).or_default().push(traffic.to_string());
    }
    groups
        .into_iter()
        .map(|(family, list)| match family {
            None => list.join(", "),
            Some(f) => format!("{} ({f})", list.join(", ")),
        })
        .collect::<Vec<_>>()
        .join("; ")
}
