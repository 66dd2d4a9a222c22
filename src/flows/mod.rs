//! Pure: which flows a set's security groups allow. Both the file's desired state
//! ([`FlowView::from_desired`]) and the groups AWS holds ([`FlowView::from_observed`]) map into
//! one neutral view, the rules by group; `explain` answers whether one flow is allowed and by
//! which rules, `exposed` lists what the internet reaches, `graph` draws every allowed flow.
//!
//! Semantics are AWS's: a rule matches a flow when its protocol does (`-1` matches every
//! protocol, tcp/udp port ranges are inclusive, ICMP type and code `-1` match any) and its peer
//! holds the flow's other end (CIDR containment, prefix-list equality, group equality: a tier's
//! group, `self` being the group itself). A flow between two tiers needs an egress rule of the
//! source and an ingress rule of the destination; security groups are stateful, so replies need
//! no rule.

use std::fmt;

use crate::model::{Direction, RuleMatch};

mod endpoint;
mod explain;
mod exposure;
mod graph;
mod matching;
mod net;
#[cfg(test)]
mod tests;
mod view;

pub use endpoint::{Endpoint, Probe};
pub use explain::{Explanation, Query, RuleRef, RuleVerdict, Side, explain};
pub use exposure::{Exposure, RiskyPort, exposed};
pub use graph::{Edge, Graph, Node, NodeKind, graph};
pub use matching::{PeerVerdict, covers, intersect, peer_matches, traffic_matches};
pub use net::{Family, Net};

/// The rules of a set's groups, one entry per tier in the set's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowView {
    /// `{namespace}/{name}` of the set.
    pub set: String,
    pub tiers: Vec<TierRules>,
}

impl FlowView {
    pub fn tier(&self, name: &str) -> Option<&TierRules> {
        self.tiers.iter().find(|t| t.tier == name)
    }

    /// The tier whose group has this id (live views know ids).
    pub fn tier_of_group(&self, group_id: &str) -> Option<&TierRules> {
        self.tiers
            .iter()
            .find(|t| t.group_id.as_deref() == Some(group_id))
    }
}

/// One tier's group and its rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierRules {
    pub tier: String,
    /// The group's id, when read from AWS.
    pub group_id: Option<String>,
    pub ingress: Vec<ViewRule>,
    pub egress: Vec<ViewRule>,
}

impl TierRules {
    pub fn rules(&self, direction: Direction) -> &[ViewRule] {
        match direction {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }
}

/// One AWS rule: one peer, one protocol and port range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewRule {
    pub traffic: RuleMatch,
    pub peer: RulePeer,
    pub description: Option<String>,
    /// The spec field the rule comes from (`spec.tiers[name=web].egress[1].to[0]`), for rules
    /// of the file.
    pub origin: Option<String>,
}

/// A rule's peer, with groups of the set named by tier.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RulePeer {
    Cidr(Net),
    PrefixList(String),
    /// A group of this set (a `self` rule names its own tier).
    Tier(String),
    /// A group outside the set, by id.
    Group(String),
    /// Another set's tier, before its group id is known (offline).
    SetRef {
        namespace: String,
        name: String,
        tier: String,
    },
    /// A peer AWS reported that is none of the above (never matches).
    Unknown(String),
}

impl fmt::Display for RulePeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RulePeer::Cidr(n) => write!(f, "{n}"),
            RulePeer::PrefixList(p) => write!(f, "prefix list {p}"),
            RulePeer::Tier(t) => write!(f, "tier {t}"),
            RulePeer::Group(g) => write!(f, "group {g}"),
            RulePeer::SetRef {
                namespace,
                name,
                tier,
            } => write!(f, "tier {tier} of set {namespace}/{name}"),
            RulePeer::Unknown(p) => f.write_str(p),
        }
    }
}

/// How a direction's rules name their peer: `from` for ingress, `to` for egress.
pub fn peer_word(direction: Direction) -> &'static str {
    match direction {
        Direction::Ingress => "from",
        Direction::Egress => "to",
    }
}

/// Serializes a direction as `ingress` / `egress`.
fn direction_name<S: serde::Serializer>(d: &Direction, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(d.as_str())
}
