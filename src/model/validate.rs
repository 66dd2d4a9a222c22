//! Pure validation, run before any AWS call. [`validate`] turns a `SecurityGroupSet` into a
//! [`ValidatedSet`], the only input the later stages accept, or lists every problem by field, in
//! the form `spec.tiers[name=db].ingress[0].from[0].cidr`.
//!
//! These are the CRD's admission rules (`api::cel`) again, in Rust, with the same messages where
//! the two can agree, so that an object stored without them (an older CRD, validation off) is
//! still refused before AWS is touched. A few checks are only here (see docs/validation.md):
//! they need the controller's settings or cost too much for the API server's CEL budget.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};

use kube::ResourceExt;

use super::{DesiredRule, Direction, Role, RuleMatch, SymbolicPeer, group_name, rule_match, symbolic_peer};
use crate::api::{
    ADOPT_ANNOTATION, DeletionPolicy, IntOrString, ManagementPolicy, Peer, SecurityGroupSet,
    SecurityGroupSetSpec, Tier, Traffic,
};
use crate::limits::{
    AWS_MAX_TAGS, CONTROLLER_TAG_COUNT, CONTROLLER_TAG_PREFIX, DEFAULT_RULES_PER_GROUP, DESCRIPTION_MESSAGE,
    DESCRIPTION_PUNCTUATION, DNS_LABEL_MESSAGE, DNS_SUBDOMAIN, DNS_SUBDOMAIN_MESSAGE,
    EMPTY_DESCRIPTION_MESSAGE, EXTERNAL_ID, EXTERNAL_ID_MESSAGE, MAX_DESCRIPTION_CHARS,
    MAX_DNS_SUBDOMAIN_CHARS, MAX_EXTERNAL_ID_CHARS, MAX_GROUP_NAME_CHARS, MAX_ROLE_ARN_CHARS,
    MAX_SET_NAME_CHARS, MAX_TAG_KEY_CHARS, MAX_TAG_VALUE_CHARS, MAX_USER_TAGS, MIN_EXTERNAL_ID_CHARS,
    RESERVED_TAG_KEYS, RISKY_PORTS, ROLE_ARN, ROLE_ARN_MESSAGE, SET_NAME_LENGTH_MESSAGE, SSM_PATH_MESSAGE,
    TAG_CHARS, TAG_CHARS_MESSAGE,
};

/// The guardrails' settings: the rule quotas follow the account's (AWS lets accounts raise them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_ingress_rules: usize,
    pub max_egress_rules: usize,
    pub risky_ports: Vec<i32>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_ingress_rules: DEFAULT_RULES_PER_GROUP,
            max_egress_rules: DEFAULT_RULES_PER_GROUP,
            risky_ports: RISKY_PORTS.to_vec(),
        }
    }
}

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

/// Who a set is and how it wants to be handled: all that teardown needs, readable without
/// validating the spec (a set stored before a schema change must still be deletable).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetIdentity {
    pub name: String,
    pub namespace: String,
    pub region: Option<String>,
    /// The role the set's calls are made with; `None`: the controller's own credentials.
    pub role: Option<Role>,
    pub deletion_policy: DeletionPolicy,
    pub management_policy: ManagementPolicy,
}

impl SetIdentity {
    pub fn of(set: &SecurityGroupSet) -> Self {
        SetIdentity {
            name: set.name_any(),
            namespace: set.namespace().unwrap_or_default(),
            region: set.spec.region.clone(),
            role: Role::of(&set.spec),
            deletion_policy: set.spec.deletion_policy,
            management_policy: set.spec.management_policy,
        }
    }

    /// `{namespace}/{name}`: the owner tag's value, and how logs and messages name the set.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    pub fn observe_only(&self) -> bool {
        self.management_policy == ManagementPolicy::ObserveOnly
    }
}

/// Where the set's VPC id comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VpcSource {
    Id(String),
    /// An SSM parameter holding the id.
    Parameter(String),
}

/// One tier of a valid spec, its rules already in AWS's canonical form (one per peer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatedTier {
    pub name: String,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub ingress: Vec<DesiredRule>,
    pub egress: Vec<DesiredRule>,
}

/// A set that passed [`validate`]. It holds no raw spec: what later stages read is what was
/// checked. Only [`validate`] makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::manual_non_exhaustive)] // `checked` keeps the rest of this crate from making one too
pub struct ValidatedSet {
    pub identity: SetIdentity,
    pub vpc: VpcSource,
    pub tags: BTreeMap<String, String>,
    pub tiers: Vec<ValidatedTier>,
    /// Tier → group id to adopt, from the `sgprovisioner.io/adopt-{tier}` annotations.
    pub adopt: BTreeMap<String, String>,
    /// `spec.outputs.configMap.name`: the ConfigMap of group ids to publish, if any.
    pub config_map: Option<String>,
    checked: (),
}

/// The set, checked; every problem when it is not valid.
pub fn validate(set: &SecurityGroupSet, limits: &Limits) -> Result<ValidatedSet, Vec<FieldError>> {
    let identity = SetIdentity::of(set);
    let mut errors = check(&identity.name, &set.spec, limits);
    let adopt = adoptions(set, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    let spec = &set.spec;
    let vpc = match (&spec.vpc.id, &spec.vpc.parameter_path) {
        (Some(id), _) => VpcSource::Id(id.clone()),
        (None, path) => VpcSource::Parameter(path.clone().unwrap_or_default()),
    };
    let tiers = spec
        .tiers
        .iter()
        .map(|t| validated_tier(t, &identity.namespace))
        .collect();
    Ok(ValidatedSet {
        identity,
        vpc,
        tags: spec.tags.clone(),
        tiers,
        adopt,
        config_map: spec
            .outputs
            .as_ref()
            .and_then(|o| o.config_map.as_ref())
            .map(|c| c.name.clone()),
        checked: (),
    })
}

fn validated_tier(tier: &Tier, namespace: &str) -> ValidatedTier {
    let rules = |rules: Vec<(&Traffic, &Vec<Peer>)>| {
        let mut out: Vec<DesiredRule> = Vec::new();
        for (traffic, peers) in rules {
            let Ok(matched) = rule_match(traffic) else {
                continue;
            };
            for peer in peers {
                let rule = DesiredRule {
                    traffic: matched.clone(),
                    peer: symbolic_peer(peer, &tier.name, namespace),
                    description: traffic.description.clone(),
                };
                // AWS holds one rule per (traffic, peer): keep the first description.
                if !out
                    .iter()
                    .any(|r| r.traffic == rule.traffic && r.peer == rule.peer)
                {
                    out.push(rule);
                }
            }
        }
        out
    };
    ValidatedTier {
        name: tier.name.clone(),
        description: tier.description.clone(),
        tags: tier.tags.clone(),
        ingress: rules(tier.ingress.iter().map(|r| (&r.traffic, &r.from)).collect()),
        egress: rules(tier.egress.iter().map(|r| (&r.traffic, &r.to)).collect()),
    }
}

/// Adoption annotations of the set's tiers; an id that is not a group id is a field error.
fn adoptions(set: &SecurityGroupSet, errors: &mut Vec<FieldError>) -> BTreeMap<String, String> {
    let mut adopt = BTreeMap::new();
    for tier in &set.spec.tiers {
        let key = format!("{ADOPT_ANNOTATION}{}", tier.name);
        let Some(id) = set.annotations().get(&key) else {
            continue;
        };
        if is_aws_id(id, "sg") {
            adopt.insert(tier.name.clone(), id.clone());
        } else {
            errors.push(FieldError {
                path: format!("metadata.annotations[{key}]"),
                message: format!("{id} is not a security group id (sg- and 8 or 17 hex digits)"),
            });
        }
    }
    adopt
}

type Sink<'a> = &'a mut dyn FnMut(String, String);

/// Every problem of the spec; empty when it is valid. `validate` is this plus the conversion.
pub fn check(set_name: &str, spec: &SecurityGroupSetSpec, limits: &Limits) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut push = |path: String, message: String| errors.push(FieldError { path, message });
    let err: Sink = &mut push;
    check_placement(set_name, spec, err);
    check_outputs(spec, err);
    check_account(spec, err);
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
        if !seen.insert(tier.name.as_str()) {
            err(
                format!("spec.tiers[{i}].name"),
                format!("Duplicate value: tier name {} is used twice", tier.name),
            );
        }
        let context = TierContext {
            set_name,
            spec,
            limits,
            tier_names: &tier_names,
        };
        check_tier(&context, tier, err);
    }
    errors
}

/// Name, region and VPC: where the set's groups go.
fn check_placement(set_name: &str, spec: &SecurityGroupSetSpec, err: Sink) {
    if set_name.chars().count() > MAX_SET_NAME_CHARS {
        err("metadata.name".into(), SET_NAME_LENGTH_MESSAGE.into());
    }
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
}

/// `spec.outputs`: the ConfigMap's name is a Kubernetes object name.
fn check_outputs(spec: &SecurityGroupSetSpec, err: Sink) {
    let Some(config_map) = spec.outputs.as_ref().and_then(|o| o.config_map.as_ref()) else {
        return;
    };
    if !is_dns1123_subdomain(&config_map.name) {
        err("spec.outputs.configMap.name".into(), DNS_SUBDOMAIN_MESSAGE.into());
    }
}

/// `spec.aws`: the role's ARN and ExternalId, as STS and IAM write them. Whether the
/// controller may use the role is its allow-list's business (`AllowedRoles`), not the spec's.
fn check_account(spec: &SecurityGroupSetSpec, err: Sink) {
    static ARN: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(ROLE_ARN).expect("ROLE_ARN is a regex"));
    static ID: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(EXTERNAL_ID).expect("EXTERNAL_ID is a regex"));
    let Some(aws) = &spec.aws else { return };
    let arn = &aws.role_arn;
    if arn.len() > MAX_ROLE_ARN_CHARS {
        err(
            "spec.aws.roleArn".into(),
            format!("Too long: may not be more than {MAX_ROLE_ARN_CHARS} bytes"),
        );
    } else if !ARN.is_match(arn) {
        err("spec.aws.roleArn".into(), format!("{arn} {ROLE_ARN_MESSAGE}"));
    }
    if let Some(id) = &aws.external_id {
        let len = id.chars().count();
        if !(MIN_EXTERNAL_ID_CHARS..=MAX_EXTERNAL_ID_CHARS).contains(&len) {
            err(
                "spec.aws.externalId".into(),
                format!("must be {MIN_EXTERNAL_ID_CHARS} to {MAX_EXTERNAL_ID_CHARS} characters"),
            );
        } else if !ID.is_match(id) {
            err("spec.aws.externalId".into(), EXTERNAL_ID_MESSAGE.into());
        }
    }
}

/// What checking one tier needs to know of the rest of the set.
struct TierContext<'a> {
    set_name: &'a str,
    spec: &'a SecurityGroupSetSpec,
    limits: &'a Limits,
    tier_names: &'a BTreeSet<&'a str>,
}

fn check_tier(cx: &TierContext, tier: &Tier, err: Sink) {
    let at = format!("spec.tiers[name={}]", tier.name);
    if !is_dns_label(&tier.name) {
        err(format!("{at}.name"), DNS_LABEL_MESSAGE.into());
    }
    let name = group_name(cx.set_name, &tier.name);
    if name.len() > MAX_GROUP_NAME_CHARS {
        err(
            format!("{at}.name"),
            format!(
                "group name ({} characters: set name, -, tier name) exceeds AWS's {MAX_GROUP_NAME_CHARS} characters",
                name.len()
            ),
        );
    }
    if let Some(d) = &tier.description {
        check_description(&format!("{at}.description"), d, err);
    }
    check_tags(&format!("{at}.tags"), &tier.tags, err);
    let total_tags: BTreeSet<_> = cx.spec.tags.keys().chain(tier.tags.keys()).collect();
    if total_tags.len() > MAX_USER_TAGS as usize {
        err(
            "spec.tags".into(),
            format!(
                "tier {}: the set and tier have more than {MAX_USER_TAGS} tags together; \
                 AWS allows {AWS_MAX_TAGS} tags per resource and {CONTROLLER_TAG_COUNT} are the controller's",
                tier.name
            ),
        );
    }
    check_direction(cx, tier, &at, Direction::Ingress, err);
    check_direction(cx, tier, &at, Direction::Egress, err);
}

/// One direction of a tier: each rule's traffic and peers, duplicates, risky ports, the quota.
fn check_direction(cx: &TierContext, tier: &Tier, at: &str, direction: Direction, err: Sink) {
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
            check_peer(&peer_at, peer, cx.tier_names, cx.set_name, err);
            count += 1;
            let Some(m) = &matched else { continue };
            if !unique.insert((m.clone(), symbolic_peer(peer, &tier.name, ""))) {
                err(
                    peer_at.clone(),
                    format!("duplicate rule: {m} with this peer is already listed"),
                );
            }
            if direction == Direction::Ingress && !cx.spec.allow_public_risky_ports {
                check_risky(&peer_at, m, peer, &cx.limits.risky_ports, err);
            }
        }
    }
    let max = match direction {
        Direction::Ingress => cx.limits.max_ingress_rules,
        Direction::Egress => cx.limits.max_egress_rules,
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

/// A risky port open to the whole internet.
fn check_risky(at: &str, m: &RuleMatch, peer: &Peer, risky_ports: &[i32], err: Sink) {
    let public =
        matches!(peer, Peer::Cidr(c) if c == "0.0.0.0/0") || matches!(peer, Peer::Ipv6Cidr(c) if c == "::/0");
    if !public {
        return;
    }
    let risky: Vec<String> = risky_ports
        .iter()
        .filter(|p| m.covers_port(**p))
        .map(|p| p.to_string())
        .collect();
    if !risky.is_empty() {
        err(
            at.into(),
            format!(
                "risky port(s) ({}) open to the internet ({m}); \
                 set spec.allowPublicRiskyPorts: true if this is intended",
                risky.join(", ")
            ),
        );
    }
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
        if k.is_empty() || k.chars().count() > MAX_TAG_KEY_CHARS {
            err(
                path.clone(),
                format!("tag keys are 1 to {MAX_TAG_KEY_CHARS} characters"),
            );
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            err(
                path.clone(),
                "tag keys starting with aws: are reserved by AWS".into(),
            );
        }
        if k.starts_with(CONTROLLER_TAG_PREFIX) || RESERVED_TAG_KEYS.contains(&k.as_str()) {
            err(
                path.clone(),
                format!("tags set by the controller cannot be overridden: {k}"),
            );
        }
        if !tag_chars(k) || !tag_chars(v) {
            err(path.clone(), format!("{TAG_CHARS_MESSAGE}: {k}"));
        }
        if v.chars().count() > MAX_TAG_VALUE_CHARS {
            err(
                path,
                format!("tag values are at most {MAX_TAG_VALUE_CHARS} characters"),
            );
        }
    }
    if tags.len() > MAX_USER_TAGS as usize {
        err(
            at.into(),
            format!(
                "Too many: {}: must have at most {MAX_USER_TAGS} items (AWS allows {AWS_MAX_TAGS} tags, {CONTROLLER_TAG_COUNT} are the controller's)",
                tags.len()
            ),
        );
    }
}

/// The controller's `--cluster-name`: the value of every group's and parameter's cluster tag.
pub fn cluster_name(name: &str) -> Result<String, String> {
    if name.is_empty() || name.chars().count() > MAX_TAG_VALUE_CHARS {
        return Err(format!("tag values are 1 to {MAX_TAG_VALUE_CHARS} characters"));
    }
    if !tag_chars(name) {
        return Err(TAG_CHARS_MESSAGE.into());
    }
    Ok(name.to_string())
}

/// [`TAG_CHARS`], with the regex engine's Unicode classes (as the API server's RE2 has them).
fn tag_chars(text: &str) -> bool {
    static PATTERN: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(TAG_CHARS).expect("TAG_CHARS is a regex"));
    PATTERN.is_match(text)
}

fn check_description(at: &str, d: &str, err: Sink) {
    if d.is_empty() {
        err(at.into(), EMPTY_DESCRIPTION_MESSAGE.into());
    }
    let n = d.chars().count();
    if n > MAX_DESCRIPTION_CHARS {
        err(
            at.into(),
            format!("Too long: {n} characters; AWS allows at most {MAX_DESCRIPTION_CHARS}"),
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

/// A DNS-1123 subdomain exactly as Kubernetes (and the CRD's rule, [`DNS_SUBDOMAIN`]) checks
/// an object name: unlike [`is_dns_subdomain`], a label between dots may be longer than 63.
pub fn is_dns1123_subdomain(name: &str) -> bool {
    static PATTERN: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(DNS_SUBDOMAIN).expect("DNS_SUBDOMAIN is a regex"));
    name.len() <= MAX_DNS_SUBDOMAIN_CHARS && PATTERN.is_match(name)
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
