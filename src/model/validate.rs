//! Pure validation of a spec, run before any AWS write. Every problem names its field, in the
//! form `spec.tiers[name=db].ingress[0].from[0].cidr`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use super::{Direction, RuleMatch, SymbolicPeer, group_name, rule_match};
use crate::api::{Peer, SecurityGroupSetSpec};

/// The guardrails' settings (api.md: accounts can raise the quota).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_ingress_rules: usize,
    pub max_egress_rules: usize,
    pub risky_ports: Vec<i32>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_ingress_rules: 60,
            max_egress_rules: 60,
            risky_ports: RISKY_PORTS.to_vec(),
        }
    }
}

/// SSH, RDP, SMB, NetBIOS, SQL Server, MySQL, PostgreSQL, MongoDB (seed 003's audit).
pub const RISKY_PORTS: [i32; 8] = [22, 3389, 445, 139, 1433, 3306, 5432, 27017];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

const RESERVED_TAG_KEYS: [&str; 2] = [super::MANAGED_BY_TAG, super::NAME_TAG];
/// AWS's allowed characters in group and rule descriptions (besides letters and digits).
const DESCRIPTION_PUNCTUATION: &str = " ._-:/()#,@[]+=&;{}!$*";

/// Every problem of the spec; empty when it is valid.
pub fn validate(set_name: &str, spec: &SecurityGroupSetSpec, limits: &Limits) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut err = |path: String, message: String| errors.push(FieldError { path, message });

    if let Some(region) = &spec.region
        && !is_region(region)
    {
        err(
            "spec.region".into(),
            format!("{region:?} is not an AWS region name like us-west-2"),
        );
    }
    match (&spec.vpc.id, &spec.vpc.parameter_path) {
        (Some(_), Some(_)) | (None, None) => err(
            "spec.vpc".into(),
            "exactly one of vpc.id and vpc.parameterPath must be set".into(),
        ),
        (Some(id), None) if !is_aws_id(id, "vpc") => err(
            "spec.vpc.id".into(),
            format!("{id:?} is not a VPC id (vpc- and 8 or 17 hex digits)"),
        ),
        (None, Some(path)) if !is_ssm_path(path) => err(
            "spec.vpc.parameterPath".into(),
            format!("{path:?} is not an SSM parameter path (/a/b, letters, digits, _.-/)"),
        ),
        _ => {}
    }
    check_tags("spec.tags", &spec.tags, &mut err);

    if spec.tiers.is_empty() {
        err("spec.tiers".into(), "at least one tier is required".into());
    }
    let tier_names: BTreeSet<&str> = spec.tiers.iter().map(|t| t.name.as_str()).collect();
    let mut seen = BTreeSet::new();
    for (i, tier) in spec.tiers.iter().enumerate() {
        let at = format!("spec.tiers[name={}]", tier.name);
        if !seen.insert(tier.name.as_str()) {
            err(
                format!("spec.tiers[{i}].name"),
                format!("duplicate tier name {:?}", tier.name),
            );
        }
        if !is_dns_label(&tier.name) {
            err(
                format!("{at}.name"),
                "must be a DNS label: lower-case letters, digits and '-', at most 63".into(),
            );
        }
        let name = group_name(set_name, &tier.name);
        if name.len() > 255 {
            err(
                format!("{at}.name"),
                format!("group name {name:?} exceeds AWS's 255 characters"),
            );
        }
        if let Some(d) = &tier.description {
            check_description(&format!("{at}.description"), d, &mut err);
        }
        check_tags(&format!("{at}.tags"), &tier.tags, &mut err);
        let total_tags: BTreeSet<_> = spec.tags.keys().chain(tier.tags.keys()).collect();
        if total_tags.len() + 5 > 50 {
            err(
                format!("{at}.tags"),
                "AWS allows 50 tags per resource; 5 are the controller's".into(),
            );
        }

        for direction in [Direction::Ingress, Direction::Egress] {
            let (field, peer_field, rules): (_, _, Vec<_>) = match direction {
                Direction::Ingress => (
                    "ingress",
                    "from",
                    tier.ingress.iter().map(|r| (&r.traffic, &r.from)).collect(),
                ),
                Direction::Egress => (
                    "egress",
                    "to",
                    tier.egress.iter().map(|r| (&r.traffic, &r.to)).collect(),
                ),
            };
            let mut count = 0usize;
            let mut unique: BTreeSet<(RuleMatch, SymbolicPeer)> = BTreeSet::new();
            for (r, (traffic, peers)) in rules.into_iter().enumerate() {
                let rule_at = format!("{at}.{field}[{r}]");
                if let Some(d) = &traffic.description {
                    check_description(&format!("{rule_at}.description"), d, &mut err);
                }
                let matched = match rule_match(traffic) {
                    Ok(m) => Some(m),
                    Err(message) => {
                        let sub =
                            if message.starts_with("protocol") || message.starts_with("unknown protocol") {
                                "protocol"
                            } else if message.contains("icmp") && traffic.icmp.is_some() {
                                "icmp"
                            } else {
                                "ports"
                            };
                        err(format!("{rule_at}.{sub}"), message);
                        None
                    }
                };
                if peers.is_empty() {
                    err(
                        format!("{rule_at}.{peer_field}"),
                        "at least one peer is required".into(),
                    );
                }
                for (p, peer) in peers.iter().enumerate() {
                    let peer_at = format!("{rule_at}.{peer_field}[{p}]");
                    check_peer(&peer_at, peer, direction, &tier_names, set_name, &mut err);
                    count += 1;
                    if let Some(m) = &matched {
                        let symbolic = super::symbolic_peer(peer, &tier.name, "");
                        if !unique.insert((m.clone(), symbolic)) {
                            err(
                                peer_at.clone(),
                                format!("duplicate rule: {m} with this peer is already listed"),
                            );
                        }
                        let public = matches!(peer, Peer::Cidr(c) if c == "0.0.0.0/0")
                            || matches!(peer, Peer::Ipv6Cidr(c) if c == "::/0");
                        if direction == Direction::Ingress && public && !spec.allow_public_risky_ports {
                            let risky: Vec<_> =
                                limits.risky_ports.iter().filter(|p| m.covers_port(**p)).collect();
                            if !risky.is_empty() {
                                err(
                                    peer_at.clone(),
                                    format!(
                                        "risky port(s) {risky:?} open to the internet ({m}); \
                                         set spec.allowPublicRiskyPorts: true if this is intended"
                                    ),
                                );
                            }
                        }
                    }
                }
            }
            let max = match direction {
                Direction::Ingress => limits.max_ingress_rules,
                Direction::Egress => limits.max_egress_rules,
            };
            if count > max {
                err(
                    format!("{at}.{field}"),
                    format!(
                        "tier {:?} has {count} {field} rules; the quota is {max} per group",
                        tier.name
                    ),
                );
            }
        }
    }
    errors
}

fn check_peer(
    at: &str,
    peer: &Peer,
    direction: Direction,
    tiers: &BTreeSet<&str>,
    set_name: &str,
    err: &mut impl FnMut(String, String),
) {
    match peer {
        Peer::Cidr(c) => {
            if let Err(m) = check_cidr_v4(c) {
                err(format!("{at}.cidr"), m);
            }
        }
        Peer::Ipv6Cidr(c) => {
            if let Err(m) = check_cidr_v6(c) {
                err(format!("{at}.ipv6Cidr"), m);
            }
        }
        Peer::PrefixListId(p) => {
            if !is_aws_id(p, "pl") {
                err(
                    format!("{at}.prefixListId"),
                    format!("{p:?} is not a prefix list id (pl- and hex digits)"),
                );
            }
        }
        Peer::Tier(t) => {
            if !tiers.contains(t.as_str()) {
                err(format!("{at}.tier"), format!("no tier named {t:?} in this set"));
            }
        }
        Peer::SelfRef(v) => {
            if !v {
                err(
                    format!("{at}.self"),
                    "self must be true (omit the peer otherwise)".into(),
                );
            }
        }
        Peer::SecurityGroupId(g) => {
            if !is_aws_id(g, "sg") {
                err(
                    format!("{at}.securityGroupId"),
                    format!("{g:?} is not a security group id (sg- and 8 or 17 hex digits)"),
                );
            }
        }
        Peer::SetRef(r) => {
            if r.name.is_empty() || r.tier.is_empty() {
                err(format!("{at}.setRef"), "setRef needs name and tier".into());
            } else if r.name == set_name && r.namespace.is_none() {
                err(
                    format!("{at}.setRef"),
                    format!("refers to this set: use {{tier: {}}} instead", r.tier),
                );
            }
        }
    }
    let _ = direction;
}

fn check_tags(at: &str, tags: &BTreeMap<String, String>, err: &mut impl FnMut(String, String)) {
    for (k, v) in tags {
        let path = format!("{at}.{k}");
        if k.is_empty() || k.chars().count() > 128 {
            err(path.clone(), "tag keys are 1 to 128 characters".into());
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            err(
                path.clone(),
                "tag keys starting with aws: are reserved by AWS".into(),
            );
        }
        if k.starts_with("sgprovisioner.io/") || RESERVED_TAG_KEYS.contains(&k.as_str()) {
            err(
                path.clone(),
                format!("tag {k:?} is set by the controller and cannot be overridden"),
            );
        }
        if v.chars().count() > 256 {
            err(path, "tag values are at most 256 characters".into());
        }
    }
}

fn check_description(at: &str, d: &str, err: &mut impl FnMut(String, String)) {
    if d.len() > 255 {
        err(
            at.into(),
            format!("{} characters; AWS allows at most 255", d.chars().count()),
        );
    }
    if let Some(bad) = d
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || DESCRIPTION_PUNCTUATION.contains(*c)))
    {
        err(
            at.into(),
            format!(
                "character {bad:?} is not allowed by AWS (letters, digits, spaces and ._-:/()#,@[]+=&;{{}}!$*)"
            ),
        );
    }
}

pub fn check_cidr_v4(cidr: &str) -> Result<(), String> {
    let (addr, len) = cidr
        .split_once('/')
        .ok_or_else(|| format!("{cidr:?} is not an IPv4 CIDR like 10.0.0.0/16"))?;
    let addr: Ipv4Addr = addr
        .parse()
        .map_err(|_| format!("{cidr:?} is not an IPv4 CIDR like 10.0.0.0/16"))?;
    let len: u32 = len
        .parse()
        .ok()
        .filter(|l| *l <= 32)
        .ok_or_else(|| format!("{cidr:?}: prefix length must be 0-32"))?;
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    let masked = Ipv4Addr::from(u32::from(addr) & mask);
    if masked != addr {
        return Err(format!(
            "{cidr:?} has host bits set: did you mean {masked}/{len}?"
        ));
    }
    Ok(())
}

pub fn check_cidr_v6(cidr: &str) -> Result<(), String> {
    let (addr, len) = cidr
        .split_once('/')
        .ok_or_else(|| format!("{cidr:?} is not an IPv6 CIDR like 2001:db8::/32"))?;
    let addr: Ipv6Addr = addr
        .parse()
        .map_err(|_| format!("{cidr:?} is not an IPv6 CIDR like 2001:db8::/32"))?;
    let len: u32 = len
        .parse()
        .ok()
        .filter(|l| *l <= 128)
        .ok_or_else(|| format!("{cidr:?}: prefix length must be 0-128"))?;
    let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
    let masked = Ipv6Addr::from(u128::from(addr) & mask);
    if masked != addr {
        return Err(format!(
            "{cidr:?} has host bits set: did you mean {masked}/{len}?"
        ));
    }
    if format!("{addr}/{len}") != cidr {
        return Err(format!("{cidr:?} is not in canonical form: write {addr}/{len}"));
    }
    Ok(())
}

fn is_aws_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hex| {
            let ok_len = if prefix == "pl" {
                (1..=17).contains(&hex.len())
            } else {
                hex.len() == 8 || hex.len() == 17
            };
            ok_len
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        })
}

fn is_ssm_path(path: &str) -> bool {
    path.starts_with('/')
        && path.len() <= 2048
        && !path.ends_with('/')
        && !path.contains("//")
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-/".contains(&b))
}

fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

fn is_region(region: &str) -> bool {
    let parts: Vec<_> = region.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok()
}
