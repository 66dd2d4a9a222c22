//! Does a rule match a flow? Its peer against the flow's other end, its traffic against the
//! flow's; each answer says why, matched or not.

use super::{Endpoint, Family, Probe, RulePeer};
use crate::model::RuleMatch;

/// Whether a rule's peer holds the flow's other end, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerVerdict {
    pub matched: bool,
    /// For the internet: the address family the rule opens (0.0.0.0/0 or ::/0).
    pub family: Option<Family>,
    pub why: String,
}

fn yes(why: String) -> PeerVerdict {
    PeerVerdict {
        matched: true,
        family: None,
        why,
    }
}

fn no(why: String) -> PeerVerdict {
    PeerVerdict {
        matched: false,
        family: None,
        why,
    }
}

/// A rule's peer against the flow's other end: CIDR containment, prefix-list and group
/// equality. A group's members' addresses and a prefix list's entries are not in the rules,
/// so an address never matches a group or prefix-list rule, and a CIDR other than 0.0.0.0/0
/// or ::/0 never matches a group.
pub fn peer_matches(peer: &RulePeer, end: &Endpoint) -> PeerVerdict {
    match peer {
        RulePeer::Cidr(net) => cidr_matches(net, end),
        RulePeer::PrefixList(p) => match end {
            Endpoint::PrefixList(q) if p == q => yes(format!("the same prefix list, {p}")),
            Endpoint::Net(e) => no(format!(
                "{} is in prefix list {p} only if one of its entries holds it: the entries are not read here",
                e.short()
            )),
            Endpoint::Internet => no(format!(
                "prefix list {p} is not the internet (that takes 0.0.0.0/0 or ::/0)"
            )),
            other => no(format!("prefix list {p}, not {other}")),
        },
        RulePeer::Tier(t) => match end {
            Endpoint::Tier(u) if t == u => yes(format!("tier {t}'s group")),
            Endpoint::Tier(u) => no(format!("tier {t}'s group, not tier {u}'s")),
            Endpoint::Net(e) => no(format!(
                "members of tier {t}'s group only: whether {} is one is not known from the rules",
                e.short()
            )),
            other => no(format!("members of tier {t}'s group only, not {other}")),
        },
        RulePeer::Group(g) => match end {
            Endpoint::Group(h) if g == h => yes(format!("group {g}")),
            Endpoint::Net(e) => no(format!(
                "members of group {g} only: whether {} is one is not known from the rules",
                e.short()
            )),
            other => no(format!("members of group {g} only, not {other}")),
        },
        RulePeer::SetRef { .. } => no(format!(
            "{peer}: its group id is known only in AWS (--live reads it)"
        )),
        RulePeer::Unknown(p) => no(format!("{p}: not a peer this tool reads")),
    }
}

fn cidr_matches(net: &super::Net, end: &Endpoint) -> PeerVerdict {
    let family = net.family();
    match end {
        Endpoint::Net(e) if e.family() != family => no(format!(
            "{net} is an {family} range, {} is {}",
            e.short(),
            e.family()
        )),
        Endpoint::Net(e) if net.contains(e) => yes(format!("{} lies within {net}", e.short())),
        Endpoint::Net(e) => no(format!("{} is not within {net}", e.short())),
        Endpoint::Internet if net.is_world() => PeerVerdict {
            matched: true,
            family: Some(family),
            why: format!("{net} is the whole {family} internet"),
        },
        Endpoint::Internet => no(format!(
            "{net} is only part of the {family} internet (that takes {})",
            family.world()
        )),
        other if net.is_world() => yes(match family {
            Family::V4 => format!("{net} holds every IPv4 address, {other}'s too"),
            Family::V6 => format!("{net} holds every IPv6 address, {other}'s too (where it has IPv6 ones)"),
        }),
        other => no(format!(
            "{net} holds {other}'s addresses only if they lie in it: addresses are not in the rules"
        )),
    }
}

fn protocol_name(protocol: &str) -> &str {
    if protocol == "-1" { "all" } else { protocol }
}

/// A rule's traffic against the flow's: `-1` matches everything, tcp/udp port ranges are
/// inclusive, ICMP type and code match when equal or `-1` (any).
pub fn traffic_matches(rule: &RuleMatch, probe: &Probe) -> Result<(), String> {
    if rule.protocol == "-1" {
        return Ok(());
    }
    if probe.is_all() {
        return Err(format!("{rule} is only part of all traffic"));
    }
    if rule.protocol != probe.protocol {
        return Err(format!(
            "protocol {}, the flow is {}",
            protocol_name(&rule.protocol),
            protocol_name(&probe.protocol)
        ));
    }
    match rule.protocol.as_str() {
        "tcp" | "udp" if rule.from_port <= probe.port && probe.port <= rule.to_port => Ok(()),
        "tcp" | "udp" => Err(match rule.from_port == rule.to_port {
            true => format!("port {}, the flow's is {}", rule.from_port, probe.port),
            false => format!(
                "ports {}-{}, the flow's port {} is outside",
                rule.from_port, rule.to_port, probe.port
            ),
        }),
        "icmp" | "icmpv6" => {
            let any_type = rule.from_port == -1;
            let type_ok = any_type || rule.from_port == probe.port;
            let code_ok = any_type || rule.to_port == -1 || rule.to_port == probe.code;
            match type_ok && code_ok {
                true => Ok(()),
                false => Err(format!("{rule}, the flow is {probe}")),
            }
        }
        _ => Ok(()),
    }
}

/// Everything `small` lets through, `big` does too.
pub fn covers(big: &RuleMatch, small: &RuleMatch) -> bool {
    if big.protocol == "-1" || big == small {
        return true;
    }
    if big.protocol != small.protocol {
        return false;
    }
    match big.protocol.as_str() {
        "tcp" | "udp" => big.from_port <= small.from_port && small.to_port <= big.to_port,
        "icmp" | "icmpv6" => {
            big.from_port == -1
                || (big.from_port == small.from_port && (big.to_port == -1 || big.to_port == small.to_port))
        }
        _ => true,
    }
}

/// The traffic two rules both allow (an egress rule and the matching ingress rule).
pub fn intersect(a: &RuleMatch, b: &RuleMatch) -> Option<RuleMatch> {
    if a.protocol == "-1" {
        return Some(b.clone());
    }
    if b.protocol == "-1" || a == b {
        return Some(a.clone());
    }
    if a.protocol != b.protocol {
        return None;
    }
    let (from_port, to_port) = match a.protocol.as_str() {
        "tcp" | "udp" => {
            let (from, to) = (a.from_port.max(b.from_port), a.to_port.min(b.to_port));
            (from <= to).then_some((from, to))?
        }
        "icmp" | "icmpv6" => {
            let either = |x: i32, y: i32| match (x, y) {
                (-1, v) | (v, -1) => Some(v),
                (x, y) => (x == y).then_some(x),
            };
            let icmp_type = either(a.from_port, b.from_port)?;
            // A code only narrows a known type.
            let code = |m: &RuleMatch| if m.from_port == -1 { -1 } else { m.to_port };
            let code = if icmp_type == -1 {
                -1
            } else {
                either(code(a), code(b))?
            };
            (icmp_type, code)
        }
        _ => (-1, -1),
    };
    Some(RuleMatch {
        protocol: a.protocol.clone(),
        from_port,
        to_port,
    })
}
