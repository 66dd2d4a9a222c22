//! Pure: a validated set → the groups, rules, tags and parameters AWS should hold.
//! Peers stay symbolic (`Tier`, `SetRef`) until the diff knows group ids.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::{IntOrString, Peer, Traffic};
pub use crate::limits::{CLUSTER_TAG, MANAGED_BY, MANAGED_BY_TAG, NAME_TAG, OWNER_TAG, TIER_TAG};

pub mod roles;
pub mod validate;

pub use roles::{AllowedRoles, Role};
pub use validate::{
    FieldError, Limits, SetIdentity, ValidatedSet, ValidatedTier, VpcSource, check, validate,
};

/// Who the controller is: tags that mark a group as ours.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ownership {
    /// `{namespace}/{set name}`.
    pub owner: String,
    pub cluster: String,
}

impl Ownership {
    pub fn of(identity: &SetIdentity, cluster: &str) -> Self {
        Ownership {
            owner: identity.key(),
            cluster: cluster.into(),
        }
    }

    /// Both of our tags, with our values: only then is a group or parameter ours to change.
    pub fn owns(&self, tags: &BTreeMap<String, String>) -> bool {
        tags.get(OWNER_TAG) == Some(&self.owner) && tags.get(CLUSTER_TAG) == Some(&self.cluster)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

/// What traffic a rule matches, in AWS's canonical form: protocol `tcp`/`udp`/`icmp`/`icmpv6`,
/// `-1` for all, or a protocol number; ports (or ICMP type/code) `-1` where not applicable.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleMatch {
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
}

impl RuleMatch {
    /// AWS's canonical protocol string for a name or number (AWS answers `tcp` for `6`).
    pub fn canonical_protocol(protocol: &str) -> String {
        match protocol.to_ascii_lowercase().as_str() {
            "6" | "tcp" => "tcp".into(),
            "17" | "udp" => "udp".into(),
            "1" | "icmp" => "icmp".into(),
            "58" | "icmpv6" => "icmpv6".into(),
            "all" | "-1" => "-1".into(),
            other => other.into(),
        }
    }

    /// Builds the canonical match from what AWS reports (ports absent for `-1` and others).
    pub fn from_aws(protocol: &str, from_port: Option<i32>, to_port: Option<i32>) -> Self {
        let protocol = Self::canonical_protocol(protocol);
        let has_ports = matches!(protocol.as_str(), "tcp" | "udp" | "icmp" | "icmpv6");
        RuleMatch {
            from_port: if has_ports { from_port.unwrap_or(-1) } else { -1 },
            to_port: if has_ports { to_port.unwrap_or(-1) } else { -1 },
            protocol,
        }
    }

    /// True when the match carries a port range that AWS wants sent (tcp, udp, icmp types).
    pub fn has_ports(&self) -> bool {
        matches!(self.protocol.as_str(), "tcp" | "udp" | "icmp" | "icmpv6")
    }

    /// Does this match let traffic to `port` through? (`-1` protocol: every port.)
    pub fn covers_port(&self, port: i32) -> bool {
        match self.protocol.as_str() {
            "-1" => true,
            "tcp" | "udp" => self.from_port <= port && port <= self.to_port,
            _ => false,
        }
    }
}

impl std::fmt::Display for RuleMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.protocol.as_str(), self.from_port, self.to_port) {
            ("-1", _, _) => f.write_str("all"),
            (p, -1, _) => f.write_str(p),
            (p @ ("icmp" | "icmpv6"), t, -1) => write!(f, "{p} type {t}"),
            (p @ ("icmp" | "icmpv6"), t, c) => write!(f, "{p} type {t} code {c}"),
            (p, a, b) if a == b => write!(f, "{p}/{a}"),
            (p, a, b) => write!(f, "{p}/{a}-{b}"),
        }
    }
}

/// A peer before group ids are known.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SymbolicPeer {
    Cidr(String),
    Ipv6Cidr(String),
    PrefixList(String),
    /// A tier of this set (`self` becomes the tier's own name).
    Tier(String),
    Group(String),
    SetRef {
        namespace: String,
        name: String,
        tier: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredRule {
    pub traffic: RuleMatch,
    pub peer: SymbolicPeer,
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredGroup {
    pub tier: String,
    pub name: String,
    pub description: String,
    pub tags: BTreeMap<String, String>,
    pub parameter_name: String,
    pub ingress: Vec<DesiredRule>,
    pub egress: Vec<DesiredRule>,
}

impl DesiredGroup {
    pub fn rules(&self, direction: Direction) -> &[DesiredRule] {
        match direction {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredSet {
    pub set_name: String,
    pub namespace: String,
    pub ownership: Ownership,
    pub groups: Vec<DesiredGroup>,
    /// Tier → existing group id the user asked to adopt.
    pub adopt: BTreeMap<String, String>,
}

impl DesiredSet {
    pub fn group(&self, tier: &str) -> Option<&DesiredGroup> {
        self.groups.iter().find(|g| g.tier == tier)
    }

    /// `/sg/{set}/`: every parameter of the set is under it.
    pub fn parameter_prefix(&self) -> String {
        format!("/sg/{}/", self.set_name)
    }

    /// Other sets' tiers this set's rules refer to.
    pub fn set_refs(&self) -> BTreeSet<(String, String, String)> {
        self.groups
            .iter()
            .flat_map(|g| g.ingress.iter().chain(&g.egress))
            .filter_map(|r| match &r.peer {
                SymbolicPeer::SetRef {
                    namespace,
                    name,
                    tier,
                } => Some((namespace.clone(), name.clone(), tier.clone())),
                _ => None,
            })
            .collect()
    }
}

pub fn group_name(set_name: &str, tier: &str) -> String {
    format!("{set_name}-{tier}")
}

pub fn parameter_name(set_name: &str, tier: &str) -> String {
    format!("/sg/{set_name}/{tier}/SecurityGroupId")
}

/// The tags every resource of the set carries: the set's and tier's own, then ours (which win).
pub fn resource_tags(
    set_tags: &BTreeMap<String, String>,
    tier_tags: &BTreeMap<String, String>,
    ownership: &Ownership,
    tier: &str,
    name: &str,
) -> BTreeMap<String, String> {
    let mut tags = set_tags.clone();
    tags.extend(tier_tags.iter().map(|(k, v)| (k.clone(), v.clone())));
    tags.insert(OWNER_TAG.into(), ownership.owner.clone());
    tags.insert(CLUSTER_TAG.into(), ownership.cluster.clone());
    tags.insert(TIER_TAG.into(), tier.into());
    tags.insert(MANAGED_BY_TAG.into(), MANAGED_BY.into());
    tags.insert(NAME_TAG.into(), name.into());
    tags
}

/// The desired state of a validated set, for the cluster named `cluster`.
pub fn plan(set: &ValidatedSet, cluster: &str) -> DesiredSet {
    let id = &set.identity;
    let ownership = Ownership::of(id, cluster);
    let groups = set
        .tiers
        .iter()
        .map(|tier| {
            let name = group_name(&id.name, &tier.name);
            DesiredGroup {
                tier: tier.name.clone(),
                description: tier
                    .description
                    .clone()
                    .unwrap_or_else(|| format!("{name} (sg-provisioner)")),
                tags: resource_tags(&set.tags, &tier.tags, &ownership, &tier.name, &name),
                parameter_name: parameter_name(&id.name, &tier.name),
                ingress: tier.ingress.clone(),
                egress: tier.egress.clone(),
                name,
            }
        })
        .collect();
    DesiredSet {
        set_name: id.name.clone(),
        namespace: id.namespace.clone(),
        ownership,
        groups,
        adopt: set.adopt.clone(),
    }
}

/// The set's peer, with `self` as its own tier and a `setRef` namespace defaulted.
pub(crate) fn symbolic_peer(peer: &Peer, own_tier: &str, namespace: &str) -> SymbolicPeer {
    match peer {
        Peer::Cidr(c) => SymbolicPeer::Cidr(c.clone()),
        Peer::Ipv6Cidr(c) => SymbolicPeer::Ipv6Cidr(c.clone()),
        Peer::PrefixListId(p) => SymbolicPeer::PrefixList(p.clone()),
        Peer::Tier(t) => SymbolicPeer::Tier(t.clone()),
        Peer::SelfRef(_) => SymbolicPeer::Tier(own_tier.into()),
        Peer::SecurityGroupId(g) => SymbolicPeer::Group(g.clone()),
        Peer::SetRef(r) => SymbolicPeer::SetRef {
            namespace: r.namespace.clone().unwrap_or_else(|| namespace.into()),
            name: r.name.clone(),
            tier: r.tier.clone(),
        },
    }
}

/// A rule's traffic in AWS's canonical form, or why it cannot be expressed.
pub fn rule_match(traffic: &Traffic) -> Result<RuleMatch, String> {
    let protocol = match &traffic.protocol {
        IntOrString::Int(n) if (0..=255).contains(n) => n.to_string(),
        IntOrString::Int(n) => return Err(format!("protocol number {n} is not in 0-255")),
        IntOrString::String(s) => {
            let lower = s.to_ascii_lowercase();
            match lower.as_str() {
                "tcp" | "udp" | "icmp" | "icmpv6" | "all" | "-1" => lower,
                _ => match s.parse::<i64>() {
                    Ok(n) if (0..=255).contains(&n) => n.to_string(),
                    _ => {
                        return Err(format!(
                            "unknown protocol {s:?}: use tcp, udp, icmp, icmpv6, all or a number 0-255"
                        ));
                    }
                },
            }
        }
    };
    let protocol = RuleMatch::canonical_protocol(&protocol);
    match protocol.as_str() {
        "tcp" | "udp" => {
            if traffic.icmp.is_some() {
                return Err(format!("icmp is only for icmp and icmpv6, not {protocol}"));
            }
            let Some(ports) = &traffic.ports else {
                return Err(format!("ports is required for {protocol}"));
            };
            let (from, to) = parse_ports(ports)?;
            Ok(RuleMatch {
                protocol,
                from_port: from,
                to_port: to,
            })
        }
        "icmp" | "icmpv6" => {
            if traffic.ports.is_some() {
                return Err(format!(
                    "ports is not used for {protocol}: set icmp.type and icmp.code instead"
                ));
            }
            if let Some(m) = traffic.icmp
                && (!(0..=255).contains(&m.icmp_type) || m.code.is_some_and(|c| !(0..=255).contains(&c)))
            {
                return Err(format!("icmp type and code must be in 0-255, got {m:?}"));
            }
            Ok(match traffic.icmp {
                Some(m) => RuleMatch {
                    protocol,
                    from_port: m.icmp_type,
                    to_port: m.code.unwrap_or(-1),
                },
                None => RuleMatch {
                    protocol,
                    from_port: -1,
                    to_port: -1,
                },
            })
        }
        _ => {
            if traffic.ports.is_some() || traffic.icmp.is_some() {
                let shown = if protocol == "-1" { "all" } else { &protocol };
                return Err(format!(
                    "ports must be absent for protocol {shown}: it matches every port"
                ));
            }
            Ok(RuleMatch {
                protocol,
                from_port: -1,
                to_port: -1,
            })
        }
    }
}

/// `443`, `"443"` or `"8000-8100"` → (from, to), each 0-65535, from ≤ to.
pub fn parse_ports(ports: &IntOrString) -> Result<(i32, i32), String> {
    let text = ports.to_string();
    let port = |s: &str| -> Result<i32, String> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.len() > 5 {
            return Err(format!(
                "ports {text:?} must be \"N\" or \"N-M\" with N, M in 0-65535"
            ));
        }
        let n: i32 = s.parse().map_err(|_| format!("ports {text:?} is not a number"))?;
        if n > 65535 {
            return Err(format!("port {n} is out of range 0-65535"));
        }
        Ok(n)
    };
    let (from, to) = match text.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => {
            let p = port(&text)?;
            (p, p)
        }
    };
    if from > to {
        return Err(format!(
            "ports {text:?}: the first port must not exceed the second"
        ));
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests;
