//! Pure validation of a spec, run before any AWS write. Every problem names its field, in the
//! form `spec.tiers[name=db].ingress[0].from[0].cidr`.
//!
//! These are the CRD's admission rules (`api::cel`) again, in Rust, with the same messages where
//! the two can agree, so that an object stored without them (an older CRD, validation off) is
//! still refused before AWS is touched. A few checks are only here (see docs/validation.md):
//! they need the controller's settings or cost too much for the API server's CEL budget.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use super::{Direction, RuleMatch, SymbolicPeer, group_name, rule_match};
use crate::api::cel::{DESCRIPTION_MESSAGE, DNS_LABEL_MESSAGE, MAX_USER_TAGS, SSM_PATH_MESSAGE};
use crate::api::{IntOrString, Peer, SecurityGroupSetSpec, Traffic};

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
            max_ingress_rules: DEFAULT_MAX_RULES,
            max_egress_rules: DEFAULT_MAX_RULES,
            risky_ports: RISKY_PORTS.to_vec(),
        }
    }
}

/// AWS's default quota of inbound (and of outbound) rules per group; the CRD enforces it.
pub const DEFAULT_MAX_RULES: usize = 60;

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

type Sink<'a> = &'a mut dyn FnMut(String, String);

/// Every problem of the spec; empty when it is valid.
pub fn validate(set_name: &str, spec: &SecurityGroupSetSpec, limits: &Limits) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut push = |path: String, message: String| errors.push(FieldError { path, message });
    let err: Sink = &mut push;

    if set_name.starts_with("sg-") {
        err(
            "metadata.name".into(),
            "AWS refuses group names starting with sg-: rename the set".into(),
        );
    }
    if let Some(region) = &spec.region
        && !is_region(region)
    {
        err(
            "spec.region".into(),
            format!("{region} is not an AWS region name like us-west-2"),
        );
    }
    match (&spec.vpc.id, &spec.vpc.parameter_path) {
        (Some(_), Some(_)) | (None, None) => err(
            "spec.vpc".into(),
            "exactly one of vpc.id and vpc.parameterPath must be set".into(),
        ),
        _ => {}
    }
    if let Some(id) = &spec.vpc.id
        && !is_aws_id(id, "vpc")
    {
        err(
            "spec.vpc.id".into(),
            format!("{id} is not a VPC id (vpc- and 8 or 17 hex digits)"),
        );
    }
    if let Some(path) = &spec.vpc.parameter_path
        && !is_ssm_path(path)
    {
        err(
            "spec.vpc.parameterPath".into(),
            format!("{path} {SSM_PATH_MESSAGE}"),
        );
    }
    check_tags("spec.tags", &spec.tags, err);

    if spec.tiers.is_empty() {
        err(
            "spec.tiers".into(),
            "should have at least 1 items: a set has at least one tier".into(),
        );
    }
    let tier_names: BTreeSet<&str> = spec.tiers.iter().map(|t| t.name.as_str()).collect();
    let mut seen = BTreeSet::new();
    for (i, tier) in spec.tiers.iter().enumerate() {
        let at = format!("spec.tiers[name={}]", tier.name);
        if !seen.insert(tier.name.as_str()) {
            err(
                format!("spec.tiers[{i}].name"),
                format!("Duplicate value: tier name {} is used twice", tier.name),
            );
        }
        if !is_dns_label(&tier.name) {
            err(format!("{at}.name"), DNS_LABEL_MESSAGE.into());
        }
        let name = group_name(set_name, &tier.name);
        if name.len() > 255 {
            err(
                format!("{at}.name"),
                format!(
                    "group name ({} characters: set name, -, tier name) exceeds AWS's 255 characters",
                    name.len()
                ),
            );
        }
        if let Some(d) = &tier.description {
            check_description(&format!("{at}.description"), d, err);
        }
        check_tags(&format!("{at}.tags"), &tier.tags, err);
        let total_tags: BTreeSet<_> = spec.tags.keys().chain(tier.tags.keys()).collect();
        if total_tags.len() > MAX_USER_TAGS as usize {
            err(
                "spec.tags".into(),
                format!(
                    "tier {}: the set and tier have more than {MAX_USER_TAGS} tags together; \
                     AWS allows 50 tags per resource and 5 are the controller's",
                    tier.name
                ),
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
                    check_description(&format!("{rule_at}.description"), d, err);
                }
                let matched = check_traffic(&rule_at, traffic, err);
                if peers.is_empty() {
                    err(
                        format!("{rule_at}.{peer_field}"),
                        "should have at least 1 items: a rule has at least one peer".into(),
                    );
                }
                for (p, peer) in peers.iter().enumerate() {
                    let peer_at = format!("{rule_at}.{peer_field}[{p}]");
                    check_peer(&peer_at, peer, &tier_names, set_name, err);
                    count += 1;
                    let Some(m) = &matched else { continue };
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
                        let risky: Vec<String> = limits
                            .risky_ports
                            .iter()
                            .filter(|p| m.covers_port(**p))
                            .map(|p| p.to_string())
                            .collect();
                        if !risky.is_empty() {
                            err(
                                peer_at.clone(),
                                format!(
                                    "risky port(s) ({}) open to the internet ({m}); \
                                     set spec.allowPublicRiskyPorts: true if this is intended",
                                    risky.join(", ")
                                ),
                            );
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
                        "tier {} has {count} {field} rules; the quota is {max} per group",
                        tier.name
                    ),
                );
            }
        }
    }
    errors
}

/// The protocol, lower-cased, when it is valid: a name, or a number 0-255 (as CEL checks it).
fn protocol(traffic: &Traffic) -> Option<String> {
    match &traffic.protocol {
        IntOrString::Int(n) => (0..=255).contains(n).then(|| n.to_string()),
        IntOrString::String(s) => {
            let lower = s.to_ascii_lowercase();
            let named = ["tcp", "udp", "icmp", "icmpv6", "all", "-1"].contains(&lower.as_str());
            let number = is_protocol_number(&lower) && lower.parse::<u32>().is_ok_and(|n| n <= 255);
            (named || number).then_some(lower)
        }
    }
}

fn is_protocol_number(s: &str) -> bool {
    s == "0"
        || (!s.is_empty() && s.len() <= 3 && !s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit()))
}

/// `ports` as the CEL rules read it: (syntax ok, from, to).
fn ports_range(ports: &IntOrString) -> Option<(i64, i64)> {
    match ports {
        IntOrString::Int(n) => Some((*n, *n)),
        IntOrString::String(s) => {
            let digits = |t: &str| !t.is_empty() && t.len() <= 5 && t.bytes().all(|b| b.is_ascii_digit());
            let (a, b) = s.split_once('-').unwrap_or((s, s));
            (digits(a) && digits(b)).then(|| (a.parse().unwrap(), b.parse().unwrap()))
        }
    }
}

/// The rule's protocol/ports/icmp rules; the canonical match when they hold.
fn check_traffic(at: &str, traffic: &Traffic, err: Sink) -> Option<RuleMatch> {
    let Some(p) = protocol(traffic) else {
        err(
            format!("{at}.protocol"),
            format!(
                "unknown protocol {}: use tcp, udp, icmp, icmpv6, all or a number 0-255",
                traffic.protocol
            ),
        );
        return None;
    };
    let tcp_udp = ["tcp", "udp", "6", "17"].contains(&p.as_str());
    let icmp = ["icmp", "icmpv6", "1", "58"].contains(&p.as_str());
    let mut ok = true;
    match &traffic.ports {
        None if tcp_udp => {
            err(format!("{at}.ports"), "ports is required for tcp and udp".into());
            ok = false;
        }
        None => {}
        Some(_) if icmp => {
            err(
                format!("{at}.ports"),
                "ports is not used for icmp and icmpv6: set icmp.type and icmp.code instead".into(),
            );
            ok = false;
        }
        Some(_) if !tcp_udp => {
            err(
                format!("{at}.ports"),
                format!(
                    "ports must be absent for protocol {}: it matches every port",
                    traffic.protocol
                ),
            );
            ok = false;
        }
        Some(ports) => match ports_range(ports) {
            None => {
                err(
                    format!("{at}.ports"),
                    "ports must be \"N\" or \"N-M\" with N, M in 0-65535".into(),
                );
                ok = false;
            }
            Some((lo, hi)) => {
                if lo < 0 || hi > 65535 {
                    err(format!("{at}.ports"), "ports out of range 0-65535".into());
                    ok = false;
                }
                if lo > hi {
                    err(
                        format!("{at}.ports"),
                        "ports: the first port must not exceed the second".into(),
                    );
                    ok = false;
                }
            }
        },
    }
    if traffic.icmp.is_some() && !icmp {
        err(
            format!("{at}.icmp"),
            "icmp is only for protocols icmp and icmpv6".into(),
        );
        ok = false;
    }
    if !ok {
        return None;
    }
    rule_match(traffic).ok()
}

fn check_peer(at: &str, peer: &Peer, tiers: &BTreeSet<&str>, set_name: &str, err: Sink) {
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
                    format!("{p} is not a prefix list id (pl- and hex digits)"),
                );
            }
        }
        Peer::Tier(t) => {
            if !tiers.contains(t.as_str()) {
                err(format!("{at}.tier"), format!("no tier named {t} in this set"));
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
                    format!("{g} is not a security group id (sg- and 8 or 17 hex digits)"),
                );
            }
        }
        Peer::SetRef(r) => {
            if !is_dns_subdomain(&r.name) {
                err(
                    format!("{at}.setRef.name"),
                    "setRef.name must be a SecurityGroupSet name (a DNS subdomain)".into(),
                );
            }
            if let Some(ns) = &r.namespace
                && !is_dns_label(ns)
            {
                err(
                    format!("{at}.setRef.namespace"),
                    "setRef.namespace must be a namespace name (a DNS label)".into(),
                );
            }
            if !is_dns_label(&r.tier) {
                err(
                    format!("{at}.setRef.tier"),
                    "setRef.tier must be a tier name (a DNS label)".into(),
                );
            }
            if r.name == set_name && r.namespace.is_none() {
                err(
                    format!("{at}.setRef"),
                    format!("refers to this set: use {{tier: {}}} instead", r.tier),
                );
            }
        }
    }
}

/// Tag keys (1-128, not `aws:`, not the controller's) and values (at most 256).
fn check_tags(at: &str, tags: &BTreeMap<String, String>, err: Sink) {
    for (k, v) in tags {
        let path = format!("{at}[{k}]");
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
                format!("tags set by the controller cannot be overridden: {k}"),
            );
        }
        if v.chars().count() > 256 {
            err(path, "tag values are at most 256 characters".into());
        }
    }
    if tags.len() > MAX_USER_TAGS as usize {
        err(
            at.into(),
            format!(
                "Too many: {}: must have at most {MAX_USER_TAGS} items (AWS allows 50 tags, 5 are the controller's)",
                tags.len()
            ),
        );
    }
}

fn check_description(at: &str, d: &str, err: Sink) {
    let n = d.chars().count();
    if n > 255 {
        err(
            at.into(),
            format!("Too long: {n} characters; AWS allows at most 255"),
        );
    }
    if d.chars()
        .any(|c| !(c.is_ascii_alphanumeric() || DESCRIPTION_PUNCTUATION.contains(c)))
    {
        err(at.into(), DESCRIPTION_MESSAGE.into());
    }
}

/// A prefix length as Go's `netip.ParsePrefix` (and so CEL's `isCIDR`) reads it.
fn prefix_len(s: &str, max: u32) -> Option<u32> {
    let canonical = s == "0" || (!s.starts_with('0') && !s.is_empty() && s.len() <= 3);
    if !canonical || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|l| *l <= max)
}

pub fn check_cidr_v4(cidr: &str) -> Result<(), String> {
    let bad = || format!("{cidr} is not an IPv4 CIDR like 10.0.0.0/16");
    let (addr, len) = cidr.split_once('/').ok_or_else(bad)?;
    let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
    let len = prefix_len(len, 32).ok_or_else(bad)?;
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    let masked = Ipv4Addr::from(u32::from(addr) & mask);
    if masked != addr {
        return Err(format!("{cidr} has host bits set: did you mean {masked}/{len}?"));
    }
    Ok(())
}

pub fn check_cidr_v6(cidr: &str) -> Result<(), String> {
    let bad = || format!("{cidr} is not an IPv6 CIDR like 2001:db8::/32");
    let (text, len) = cidr.split_once('/').ok_or_else(bad)?;
    let addr: Ipv6Addr = text.parse().map_err(|_| bad())?;
    if addr.to_ipv4_mapped().is_some() {
        return Err(bad());
    }
    let len = prefix_len(len, 128).ok_or_else(bad)?;
    let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
    let masked = Ipv6Addr::from(u128::from(addr) & mask);
    if masked != addr {
        return Err(format!("{cidr} has host bits set: did you mean {masked}/{len}?"));
    }
    if addr.to_string() != text {
        return Err(format!("{cidr} is not in canonical form: write {addr}/{len}"));
    }
    Ok(())
}

fn is_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `vpc-`/`sg-` and 8 or 17 hex digits; `pl-` and 1 to 17.
fn is_aws_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hex| {
            let ok_len = if prefix == "pl" {
                (1..=17).contains(&hex.len())
            } else {
                hex.len() == 8 || hex.len() == 17
            };
            ok_len && is_hex(hex)
        })
}

/// `/a/b`: letters, digits and `_.-`, at most 15 levels and 2048 characters, not under /aws or /ssm.
fn is_ssm_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    path.starts_with('/')
        && path.len() <= 2048
        && path[1..].split('/').all(|level| {
            !level.is_empty()
                && level
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        })
        && path.split('/').count() <= 16
        && !lower.starts_with("/aws")
        && !lower.starts_with("/ssm")
}

/// A Kubernetes DNS label (namespace, tier name).
pub fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// A Kubernetes DNS subdomain (object name).
pub fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_dns_label)
}

/// `^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`
fn is_region(region: &str) -> bool {
    let parts: Vec<_> = region.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && (1..=2).contains(&parts[parts.len() - 1].len())
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
}
