//! One flow: allowed or not, by which rules on each side, and the nearest rules when not.

use serde::Serialize;

use super::{
    Endpoint, Family, FlowView, Probe, RulePeer, TierRules, ViewRule, direction_name, peer_matches,
    peer_word, traffic_matches,
};
use crate::model::Direction;

/// At most this many rules are shown as nearest when none comes within one difference.
const FAR_RULES_SHOWN: usize = 5;

/// From one end to the other, with this traffic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub from: Endpoint,
    pub to: Endpoint,
    pub probe: Probe,
}

/// A rule of the view, as people read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleRef {
    pub tier: String,
    #[serde(serialize_with = "direction_name")]
    pub direction: Direction,
    pub traffic: String,
    pub peer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The spec field the rule comes from (rules of the file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The group holding the rule (rules read from AWS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
}

impl RuleRef {
    pub fn of(tier: &TierRules, direction: Direction, rule: &ViewRule) -> RuleRef {
        let peer = match &rule.peer {
            RulePeer::Tier(t) if *t == tier.tier => format!("self (tier {t})"),
            p => p.to_string(),
        };
        RuleRef {
            tier: tier.tier.clone(),
            direction,
            traffic: rule.traffic.to_string(),
            peer,
            description: rule.description.clone(),
            origin: rule.origin.clone(),
            group_id: tier.group_id.clone(),
        }
    }

    /// `tcp/8080 to tier app`.
    pub fn summary(&self) -> String {
        format!("{} {} {}", self.traffic, peer_word(self.direction), self.peer)
    }
}

/// A rule checked against the flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleVerdict {
    #[serde(flatten)]
    pub rule: RuleRef,
    pub traffic_matches: bool,
    pub peer_matches: bool,
    /// Why the rule does or does not match: the traffic's mismatch, then the peer's reason.
    pub why: Vec<String>,
    /// For the internet: the family the rule opens.
    #[serde(skip)]
    pub family: Option<Family>,
}

/// One group's side of the flow: the source's egress or the destination's ingress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Side {
    #[serde(serialize_with = "direction_name")]
    pub direction: Direction,
    /// The tier whose rules decide; absent when that end is not a tier of the set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// False when that end is not a tier: its own rules are outside the set.
    pub checked: bool,
    /// The side lets the flow through (an unchecked side does, as far as the set says).
    pub allowed: bool,
    pub allowed_by: Vec<RuleVerdict>,
    /// No rule allows it: the rules that differ in one of traffic and peer, else the first few.
    pub nearest: Vec<RuleVerdict>,
    /// Rules of the side not listed in `nearest`.
    pub not_shown: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The answer to a [`Query`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    pub set: String,
    pub from: String,
    pub to: String,
    pub traffic: String,
    pub allowed: bool,
    /// For the internet: the address families over which the flow is allowed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub families: Vec<Family>,
    pub egress: Side,
    pub ingress: Side,
    pub notes: Vec<String>,
}

/// Whether the view's rules allow the flow. An error when neither end is a tier of the set.
pub fn explain(view: &FlowView, query: &Query) -> Result<Explanation, String> {
    if query.from.tier().is_none() && query.to.tier().is_none() {
        return Err(format!(
            "neither {} nor {} is a tier of {}: none of its rules apply",
            query.from, query.to, view.set
        ));
    }
    let egress = side(view, Direction::Egress, &query.from, &query.to, &query.probe);
    let ingress = side(view, Direction::Ingress, &query.to, &query.from, &query.probe);
    let allowed = egress.allowed && ingress.allowed;
    let families = if allowed && [&query.from, &query.to].contains(&&Endpoint::Internet) {
        let mut f: Vec<Family> = egress
            .allowed_by
            .iter()
            .chain(&ingress.allowed_by)
            .filter_map(|v| v.family)
            .collect();
        f.sort();
        f.dedup();
        f
    } else {
        Vec::new()
    };
    let mut notes = Vec::new();
    if query.from.tier().is_some() && query.from == query.to {
        notes.push(
            "Members of one group reach each other only with an egress and an ingress rule naming the group (self)."
                .to_string(),
        );
    }
    notes.push(format!(
        "Security groups are stateful: the replies of an allowed flow ({} -> {}) are allowed automatically and need no rule.",
        query.to, query.from
    ));
    Ok(Explanation {
        set: view.set.clone(),
        from: query.from.to_string(),
        to: query.to.to_string(),
        traffic: query.probe.to_string(),
        allowed,
        families,
        egress,
        ingress,
        notes,
    })
}

/// The rules of `this` end's tier in `direction`, against the `other` end.
fn side(view: &FlowView, direction: Direction, this: &Endpoint, other: &Endpoint, probe: &Probe) -> Side {
    let tier = this.tier().and_then(|t| view.tier(t));
    let Some(tier) = tier else {
        return Side {
            direction,
            tier: None,
            group_id: None,
            checked: false,
            allowed: true,
            allowed_by: Vec::new(),
            nearest: Vec::new(),
            not_shown: 0,
            note: Some(format!(
                "{this} is not a tier of {}: there is no {} side to check (its own rules are outside this set)",
                view.set,
                direction.as_str()
            )),
        };
    };
    let rules = tier.rules(direction);
    let (allowed_by, rest): (Vec<RuleVerdict>, Vec<RuleVerdict>) = rules
        .iter()
        .map(|r| verdict(tier, direction, r, other, probe))
        .partition(|v| v.traffic_matches && v.peer_matches);
    let allowed = !allowed_by.is_empty();
    let nearest = if allowed { Vec::new() } else { nearest(&rest) };
    let note = rules.is_empty().then(|| {
        format!(
            "tier {} has no {} rules: it allows no {} traffic",
            tier.tier,
            direction.as_str(),
            direction.as_str()
        )
    });
    Side {
        direction,
        tier: Some(tier.tier.clone()),
        group_id: tier.group_id.clone(),
        checked: true,
        allowed,
        not_shown: if allowed { 0 } else { rest.len() - nearest.len() },
        allowed_by,
        nearest,
        note,
    }
}

fn verdict(
    tier: &TierRules,
    direction: Direction,
    rule: &ViewRule,
    other: &Endpoint,
    probe: &Probe,
) -> RuleVerdict {
    let traffic = traffic_matches(&rule.traffic, probe);
    let peer = peer_matches(&rule.peer, other);
    let mut why = Vec::new();
    if let Err(e) = &traffic {
        why.push(e.clone());
    }
    why.push(peer.why);
    RuleVerdict {
        rule: RuleRef::of(tier, direction, rule),
        traffic_matches: traffic.is_ok(),
        peer_matches: peer.matched,
        why,
        family: peer.family,
    }
}

/// The rules that miss by one (right peer, wrong traffic, or the reverse); when none does,
/// the first few rules.
fn nearest(rest: &[RuleVerdict]) -> Vec<RuleVerdict> {
    let close: Vec<RuleVerdict> = rest
        .iter()
        .filter(|v| v.traffic_matches || v.peer_matches)
        .cloned()
        .collect();
    if close.is_empty() {
        rest.iter().take(FAR_RULES_SHOWN).cloned().collect()
    } else {
        close
    }
}
