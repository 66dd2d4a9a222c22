//! What `explain` is asked: the flow's two ends and its traffic, parsed from the command line.

use std::fmt;

use super::{FlowView, Net};
use crate::model::RuleMatch;

/// One end of a flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A tier of the set: its group.
    Tier(String),
    /// An address or a block of addresses.
    Net(Net),
    /// Every address: 0.0.0.0/0 and ::/0.
    Internet,
    PrefixList(String),
    /// A group outside the set.
    Group(String),
}

impl Endpoint {
    /// A tier name of the set (these come first), `internet`, `pl-...`, `sg-...` (a tier when
    /// it is one of the set's groups), a CIDR or an IP address.
    pub fn parse(text: &str, view: &FlowView) -> Result<Endpoint, String> {
        if view.tier(text).is_some() {
            return Ok(Endpoint::Tier(text.into()));
        }
        if text.eq_ignore_ascii_case("internet") {
            return Ok(Endpoint::Internet);
        }
        if text.starts_with("pl-") {
            return Ok(Endpoint::PrefixList(text.into()));
        }
        if text.starts_with("sg-") {
            return Ok(match view.tier_of_group(text) {
                Some(t) => Endpoint::Tier(t.tier.clone()),
                None => Endpoint::Group(text.into()),
            });
        }
        let looks_like_name = !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && text.bytes().any(|b| b.is_ascii_alphabetic());
        if looks_like_name {
            let tiers: Vec<&str> = view.tiers.iter().map(|t| t.tier.as_str()).collect();
            return Err(format!(
                "{text} is not a tier of {} (tiers: {}), nor internet, a pl- or sg- id, a CIDR or an IP",
                view.set,
                tiers.join(", ")
            ));
        }
        Net::parse(text).map(Endpoint::Net)
    }

    pub fn tier(&self) -> Option<&str> {
        match self {
            Endpoint::Tier(t) => Some(t),
            _ => None,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tier(t) => write!(f, "tier {t}"),
            Endpoint::Net(n) => f.write_str(&n.short()),
            Endpoint::Internet => f.write_str("the internet"),
            Endpoint::PrefixList(p) => write!(f, "prefix list {p}"),
            Endpoint::Group(g) => write!(f, "group {g}"),
        }
    }
}

/// The flow's traffic: one protocol and one port (ICMP: one type and code), or all traffic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// AWS's canonical protocol: `tcp`, `udp`, `icmp`, `icmpv6`, `-1` (all) or a number.
    pub protocol: String,
    /// The tcp/udp port or the ICMP type; -1 where neither applies.
    pub port: i32,
    /// The ICMP code; -1 where it does not apply.
    pub code: i32,
}

impl Probe {
    /// `PORT[/PROTO]`: `8080` (tcp), `53/udp`, `TYPE[:CODE]/icmp` or `/icmpv6` (code 0 unless
    /// given), `all` or `-1` (every protocol and port: `PORT/all`, `PORT/-1` ignore PORT), or
    /// `PORT/N` for an IP protocol number N.
    pub fn parse(text: &str) -> Result<Probe, String> {
        let (port, proto) = match text.rsplit_once('/') {
            Some((port, proto)) => (port, proto.to_ascii_lowercase()),
            None if matches!(text, "all" | "-1") => (text, "-1".into()),
            None => (text, "tcp".into()),
        };
        let protocol = match proto.as_str() {
            "all" | "-1" => "-1".to_string(),
            "tcp" | "udp" | "icmp" | "icmpv6" => proto.clone(),
            n => match n.parse::<u8>() {
                Ok(_) => RuleMatch::canonical_protocol(n),
                Err(_) => {
                    return Err(format!(
                        "unknown protocol {proto:?}: use tcp, udp, icmp, icmpv6, all (or -1) or a number 0-255"
                    ));
                }
            },
        };
        let number = |s: &str, max: i32, what: &str| -> Result<i32, String> {
            s.parse::<i32>()
                .ok()
                .filter(|n| (0..=max).contains(n))
                .ok_or_else(|| format!("{what} {s:?} in {text:?} is not a number 0-{max}"))
        };
        let (port, code) = match protocol.as_str() {
            "tcp" | "udp" => (number(port, 65535, "port")?, -1),
            "icmp" | "icmpv6" => match port.split_once(':') {
                Some((t, c)) => (number(t, 255, "ICMP type")?, number(c, 255, "ICMP code")?),
                None => (number(port, 255, "ICMP type")?, 0),
            },
            _ => {
                if !matches!(port, "all" | "-1" | "any" | "*") {
                    number(port, 65535, "port")?;
                }
                (-1, -1)
            }
        };
        Ok(Probe { protocol, port, code })
    }

    pub fn is_all(&self) -> bool {
        self.protocol == "-1"
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.protocol.as_str() {
            "-1" => f.write_str("all traffic"),
            p @ ("tcp" | "udp") => write!(f, "{p}/{}", self.port),
            p @ ("icmp" | "icmpv6") => write!(f, "{p} type {} code {}", self.port, self.code),
            p => write!(f, "protocol {p}"),
        }
    }
}
