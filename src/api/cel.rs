//! The CRD's admission rules (`x-kubernetes-validations`), generated here from the same constants
//! `crate::limits` that the Rust validation in `model::validate` reads. `docs/validation.md` lists every rule.
//!
//! Each `fn(&mut Schema)` below is a schemars `transform` attached to one type or field in
//! `api/mod.rs`. Rules say where the problem is with `fieldPath` (the API server prefixes it to
//! the message) or, for rules that must look at the whole spec, with a `messageExpression` that
//! spells out the index path (`spec.tiers[0].egress[1].to[0].tier: ...`).
//!
//! CEL cost: the API server estimates each rule's worst case from `maxItems` / `maxLength` /
//! `maxProperties` and refuses a CRD over its budget, so every list, map and string the rules
//! touch is bounded (the `MAX_*` constants).

use schemars::Schema;
use serde_json::{Value, json};

use crate::limits::{
    AWS_MAX_TAGS, CONTROLLER_TAG_COUNT, CONTROLLER_TAG_PREFIX, DEFAULT_RULES_PER_GROUP, DESCRIPTION,
    DESCRIPTION_IMMUTABLE_MESSAGE, DESCRIPTION_MESSAGE, DNS_LABEL, DNS_LABEL_MESSAGE, DNS_SUBDOMAIN,
    DNS_SUBDOMAIN_MESSAGE, EMPTY_DESCRIPTION_MESSAGE, EXTERNAL_ID, EXTERNAL_ID_MESSAGE, IMMUTABLE_HOWTO,
    MANAGED_BY_TAG, MAX_GROUP_NAME_CHARS, MAX_SET_NAME_CHARS, MAX_TAG_KEY_CHARS, MAX_USER_TAGS, NAME_TAG,
    ONE_PEER_KEY_MESSAGE, PORTS, PREFIX_LIST_ID, PROTOCOL_NUMBER, REGION, RISKY_PORTS, ROLE_ARN,
    ROLE_ARN_MESSAGE, SET_NAME_LENGTH_MESSAGE, SG_ID, SSM_PATH, SSM_PATH_MESSAGE, TAG_CHARS,
    TAG_CHARS_MESSAGE, VPC_ID,
};

/// One rule with a fixed message.
fn rule(rule: impl Into<String>, message: &str, field_path: Option<&str>) -> Value {
    let mut r = json!({"rule": rule.into(), "message": message});
    if let Some(p) = field_path {
        r["fieldPath"] = json!(p);
    }
    r
}

/// One rule whose message is computed by CEL (it may name the offending value or index).
fn rule_x(rule: impl Into<String>, message_expression: impl Into<String>, field_path: Option<&str>) -> Value {
    let mut r = json!({"rule": rule.into(), "messageExpression": message_expression.into()});
    if let Some(p) = field_path {
        r["fieldPath"] = json!(p);
    }
    r
}

fn add(schema: &mut Schema, rules: Vec<Value>) {
    let obj = schema.ensure_object();
    let list = obj.entry("x-kubernetes-validations").or_insert_with(|| json!([]));
    list.as_array_mut()
        .expect("x-kubernetes-validations is a list")
        .extend(rules);
}

/// A CEL string literal (raw, single-quoted) for a regex.
fn lit(re: &str) -> String {
    assert!(!re.contains('\''), "regex {re} has a quote");
    format!("r'{re}'")
}

// --- Rule traffic: protocol / ports / icmp, as CEL over a rule object `r`. ---
//
// `protocol` and `ports` are int-or-string: CEL sees them as `dyn`, so every use is guarded by
// `type(...) == int`. `string(...)` conversions and `+` on computed strings are avoided: the
// cost estimator cannot bound their size. Messages are built with `format`, which it can.

/// The protocol is one of `names` (strings, compared lower-cased) or `numbers`.
fn proto_in(r: &str, names: &[&str], numbers: &[u8]) -> String {
    let nums: Vec<String> = numbers.iter().map(|n| n.to_string()).collect();
    let strs: Vec<String> = names
        .iter()
        .map(|n| format!("'{n}'"))
        .chain(nums.iter().map(|n| format!("'{n}'")))
        .collect();
    format!(
        "(type({r}.protocol) == int ? {r}.protocol in [{}] : {r}.protocol.lowerAscii() in [{}])",
        nums.join(", "),
        strs.join(", ")
    )
}

fn proto_valid(r: &str) -> String {
    format!(
        "(type({r}.protocol) == int ? ({r}.protocol >= 0 && {r}.protocol <= 255) : \
         ({r}.protocol.lowerAscii() in ['tcp', 'udp', 'icmp', 'icmpv6', 'all', '-1'] || \
         ({r}.protocol.matches({num}) && int({r}.protocol) <= 255)))",
        num = lit(PROTOCOL_NUMBER)
    )
}

fn is_tcp_udp(r: &str) -> String {
    proto_in(r, &["tcp", "udp"], &[6, 17])
}

fn is_icmp(r: &str) -> String {
    proto_in(r, &["icmp", "icmpv6"], &[1, 58])
}

fn is_all(r: &str) -> String {
    format!("(type({r}.protocol) == string && {r}.protocol.lowerAscii() in ['all', '-1'])")
}

fn ports_syntax(r: &str) -> String {
    format!("(type({r}.ports) == int || {r}.ports.matches({}))", lit(PORTS))
}

fn port_lo(r: &str) -> String {
    format!("(type({r}.ports) == int ? {r}.ports : int({r}.ports.split('-')[0]))")
}

fn port_hi(r: &str) -> String {
    format!(
        "(type({r}.ports) == int ? {r}.ports : int({r}.ports.split('-')[{r}.ports.contains('-') ? 1 : 0]))"
    )
}

/// Does the rule let any risky port through (protocol all, or tcp/udp ports covering one)?
/// Assumes valid ports (their own rules report them).
fn risky(r: &str) -> String {
    let ports: Vec<String> = RISKY_PORTS.iter().map(|p| p.to_string()).collect();
    format!(
        "({all} || ({tcp} && has({r}.ports) && {syn} && [{list}].exists(x, {lo} <= x && x <= {hi})))",
        all = is_all(r),
        tcp = is_tcp_udp(r),
        syn = ports_syntax(r),
        list = ports.join(", "),
        lo = port_lo(r),
        hi = port_hi(r),
    )
}

fn is_public(p: &str) -> String {
    format!("((has({p}.cidr) && {p}.cidr == '0.0.0.0/0') || (has({p}.ipv6Cidr) && {p}.ipv6Cidr == '::/0'))")
}

/// Rules of one ingress or egress rule (`peers` is `from` or `to`).
fn traffic_rules(peers: &str) -> Vec<Value> {
    let s = "self";
    let valid = proto_valid(s);
    let tcp = is_tcp_udp(s);
    let icmp = is_icmp(s);
    let syn = ports_syntax(s);
    let (lo, hi) = (port_lo(s), port_hi(s));
    vec![
        rule_x(
            valid.clone(),
            "'unknown protocol %s: use tcp, udp, icmp, icmpv6, all or a number 0-255'.format([self.protocol])",
            Some(".protocol"),
        ),
        rule(
            format!("!{valid} || !{tcp} || has(self.ports)"),
            "ports is required for tcp and udp",
            Some(".ports"),
        ),
        rule_x(
            format!("!has(self.ports) || !{valid} || {tcp} || {icmp}"),
            "'ports must be absent for protocol %s: it matches every port'.format([self.protocol])",
            Some(".ports"),
        ),
        rule(
            format!("!has(self.ports) || !{icmp}"),
            "ports is not used for icmp and icmpv6: set icmp.type and icmp.code instead",
            Some(".ports"),
        ),
        rule(
            format!("!has(self.ports) || !{tcp} || {syn}"),
            "ports must be \"N\" or \"N-M\" with N, M in 0-65535",
            Some(".ports"),
        ),
        rule(
            format!("!has(self.ports) || !{tcp} || !{syn} || ({lo} >= 0 && {hi} <= 65535)"),
            "ports out of range 0-65535",
            Some(".ports"),
        ),
        rule(
            format!("!has(self.ports) || !{tcp} || !{syn} || {lo} <= {hi}"),
            "ports: the first port must not exceed the second",
            Some(".ports"),
        ),
        rule(
            format!("!has(self.icmp) || !{valid} || {icmp}"),
            "icmp is only for protocols icmp and icmpv6",
            Some(".icmp"),
        ),
        rule(
            format!("self.{peers}.all(p, self.{peers}.exists_one(q, q == p))"),
            "duplicate rule: the same peer is listed twice",
            Some(&format!(".{peers}")),
        ),
    ]
}

pub fn ingress_rule_rules(schema: &mut Schema) {
    add(schema, traffic_rules("from"));
}

pub fn egress_rule_rules(schema: &mut Schema) {
    add(schema, traffic_rules("to"));
}

// --- Peers ---

pub fn peer_rules(schema: &mut Schema) {
    let keys = super::PEER_KEYS;
    let count: Vec<String> = keys.iter().map(|k| format!("(has(self.{k}) ? 1 : 0)")).collect();
    let mut rules = vec![rule(
        format!("{} == 1", count.join(" + ")),
        ONE_PEER_KEY_MESSAGE,
        None,
    )];
    for (key, family, example) in [("cidr", 4, "10.0.0.0/16"), ("ipv6Cidr", 6, "2001:db8::/32")] {
        let v = format!("self.{key}");
        let kind = if family == 4 { "IPv4" } else { "IPv6" };
        let at = format!(".{key}");
        rules.push(rule_x(
            format!("!has({v}) || (isCIDR({v}) && cidr({v}).ip().family() == {family})"),
            format!("'%s is not an {kind} CIDR like {example}'.format([{v}])"),
            Some(&at),
        ));
        rules.push(rule_x(
            format!("!has({v}) || !isCIDR({v}) || cidr({v}) == cidr({v}).masked()"),
            format!("'%s has host bits set: did you mean %s?'.format([{v}, string(cidr({v}).masked())])"),
            Some(&at),
        ));
        if family == 6 {
            // IPv4 text has one form once isCIDR accepts it; IPv6 has several (`2001:0DB8::/32`).
            rules.push(rule_x(
                format!(
                    "!has({v}) || !isCIDR({v}) || !(cidr({v}) == cidr({v}).masked()) || ip.isCanonical({v}.substring(0, {v}.indexOf('/')))"
                ),
                format!("'%s is not in canonical form: write %s'.format([{v}, string(cidr({v}))])"),
                Some(&at),
            ));
        }
    }
    rules.push(rule_x(
        format!(
            "!has(self.prefixListId) || self.prefixListId.matches({})",
            lit(PREFIX_LIST_ID)
        ),
        "'%s is not a prefix list id (pl- and hex digits)'.format([self.prefixListId])",
        Some(".prefixListId"),
    ));
    rules.push(rule_x(
        format!(
            "!has(self.securityGroupId) || self.securityGroupId.matches({})",
            lit(SG_ID)
        ),
        "'%s is not a security group id (sg- and 8 or 17 hex digits)'.format([self.securityGroupId])",
        Some(".securityGroupId"),
    ));
    rules.push(rule(
        "!has(self.self) || self.self",
        "self must be true (omit the peer otherwise)",
        Some(".self"),
    ));
    add(schema, rules);
}

// --- Fields ---

pub fn description_rules(schema: &mut Schema) {
    add(
        schema,
        vec![
            rule("size(self) > 0", EMPTY_DESCRIPTION_MESSAGE, None),
            rule(
                format!("self.matches({})", lit(DESCRIPTION)),
                DESCRIPTION_MESSAGE,
                None,
            ),
        ],
    );
}

pub fn tier_name_rules(schema: &mut Schema) {
    add(
        schema,
        vec![rule(
            format!("self.matches({})", lit(DNS_LABEL)),
            DNS_LABEL_MESSAGE,
            None,
        )],
    );
}

/// `spec.outputs.configMap.name`: a Kubernetes object name.
pub fn config_map_name_rules(schema: &mut Schema) {
    add(
        schema,
        vec![rule(
            format!("self.matches({})", lit(DNS_SUBDOMAIN)),
            DNS_SUBDOMAIN_MESSAGE,
            None,
        )],
    );
}

pub fn region_rules(schema: &mut Schema) {
    add(
        schema,
        vec![rule_x(
            format!("self.matches({})", lit(REGION)),
            "'%s is not an AWS region name like us-west-2'.format([self])",
            None,
        )],
    );
}

/// Tag maps (the set's and each tier's).
pub fn tags_rules(schema: &mut Schema) {
    let aws = "k.lowerAscii().startsWith('aws:')";
    let bad_chars = format!(
        "!k.matches({chars}) || !self[k].matches({chars})",
        chars = lit(TAG_CHARS)
    );
    let reserved =
        format!("(k.startsWith('{CONTROLLER_TAG_PREFIX}') || k == '{MANAGED_BY_TAG}' || k == '{NAME_TAG}')");
    add(
        schema,
        vec![
            rule(
                format!("self.all(k, size(k) >= 1 && size(k) <= {MAX_TAG_KEY_CHARS})"),
                &format!("tag keys are 1 to {MAX_TAG_KEY_CHARS} characters"),
                None,
            ),
            rule_x(
                format!("!self.exists(k, {aws})"),
                format!(
                    "'tag keys starting with aws: are reserved by AWS: %s'.format([self.filter(k, {aws})])"
                ),
                None,
            ),
            rule_x(
                format!("!self.exists(k, {bad_chars})"),
                format!("'{TAG_CHARS_MESSAGE}: %s'.format([self.filter(k, {bad_chars})])"),
                None,
            ),
            rule_x(
                format!("!self.exists(k, {reserved})"),
                format!(
                    "'tags set by the controller cannot be overridden: %s'.format([self.filter(k, {reserved})])"
                ),
                None,
            ),
        ],
    );
}

// --- Account ---

pub fn aws_rules(schema: &mut Schema) {
    add(
        schema,
        vec![
            rule_x(
                format!("self.roleArn.matches({})", lit(ROLE_ARN)),
                format!("'%s {ROLE_ARN_MESSAGE}'.format([self.roleArn])"),
                Some(".roleArn"),
            ),
            // The id is not repeated in the message: a trust policy's shared secret, of sorts.
            rule(
                format!(
                    "!has(self.externalId) || self.externalId.matches({})",
                    lit(EXTERNAL_ID)
                ),
                EXTERNAL_ID_MESSAGE,
                Some(".externalId"),
            ),
        ],
    );
}

// --- VPC ---

pub fn vpc_rules(schema: &mut Schema) {
    add(
        schema,
        vec![
            rule(
                "has(self.id) != has(self.parameterPath)",
                "exactly one of vpc.id and vpc.parameterPath must be set",
                None,
            ),
            rule_x(
                format!("!has(self.id) || self.id.matches({})", lit(VPC_ID)),
                "'%s is not a VPC id (vpc- and 8 or 17 hex digits)'.format([self.id])",
                Some(".id"),
            ),
            rule_x(
                format!(
                    "!has(self.parameterPath) || (self.parameterPath.matches({}) && \
                     !self.parameterPath.lowerAscii().startsWith('/aws') && \
                     !self.parameterPath.lowerAscii().startsWith('/ssm') && \
                     size(self.parameterPath.split('/')) <= 16)",
                    lit(SSM_PATH)
                ),
                format!("'%s {SSM_PATH_MESSAGE}'.format([self.parameterPath])"),
                Some(".parameterPath"),
            ),
        ],
    );
}

// --- Tier ---

/// Two rules of a list are the same (protocol, ports, icmp and peers written alike).
fn same_rule(a: &str, b: &str, peers: &str) -> String {
    format!(
        "({a}.protocol == {b}.protocol && has({a}.ports) == has({b}.ports) && (!has({a}.ports) || {a}.ports == {b}.ports) \
         && has({a}.icmp) == has({b}.icmp) && (!has({a}.icmp) || {a}.icmp == {b}.icmp) && {a}.{peers} == {b}.{peers})"
    )
}

pub fn tier_rules(schema: &mut Schema) {
    let mut rules = Vec::new();
    for (field, peers) in [("ingress", "from"), ("egress", "to")] {
        let count = format!("self.{field}.map(r, size(r.{peers})).sum()");
        rules.push(rule_x(
            format!("{count} <= {DEFAULT_RULES_PER_GROUP}"),
            format!(
                "'tier %s has %d {field} rules; the quota is {DEFAULT_RULES_PER_GROUP} per group'.format([self.name, {count}])"
            ),
            Some(&format!(".{field}")),
        ));
        let same = same_rule("r", "s", peers);
        rules.push(rule_x(
            format!("!self.{field}.exists(j, r, self.{field}.exists(k, s, k < j && {same}))"),
            format!(
                "'duplicate rule: {field}%s repeat(s) an earlier rule (same traffic and peers)'\
                 .format([self.{field}.transformList(j, r, self.{field}.exists(k, s, k < j && {same}) ? [j] : []).flatten()])"
            ),
            Some(&format!(".{field}")),
        ));
    }
    // A transition rule: tiers are a map list keyed by name, so each tier meets its old self.
    rules.push(rule(
        "has(self.description) == has(oldSelf.description) && (!has(self.description) || self.description == oldSelf.description)",
        DESCRIPTION_IMMUTABLE_MESSAGE,
        Some(".description"),
    ));
    add(schema, rules);
}

// --- Spec (rules that need more than one tier, or a spec field next to the tiers) ---

/// A list of messages → one message (the first, and how many more).
fn first_of(list: &str) -> String {
    format!("size({list}) == 1 ? {list}[0] : '%s (and %d more)'.format([{list}[0], size({list}) - 1])")
}

pub fn spec_rules(schema: &mut Schema) {
    let mut rules = Vec::new();

    // Every `tier:` peer names a tier of this set. `[x].all(names, ...)` binds `names` once
    // (CEL has no `let`), which keeps the estimated cost linear in the number of peers.
    let names = "[self.tiers.map(u, u.name)]";
    let missing = "(has(p.tier) && !(p.tier in names))";
    let where_ = |field: &str, peers: &str| {
        format!(
            "t.{field}.transformList(j, r, r.{peers}.transformList(k, p, {missing} ? \
             ['spec.tiers[%d].{field}[%d].{peers}[%d].tier: no tier named %s in this set'.format([i, j, k, p.tier])] : []))"
        )
    };
    let list = format!(
        "self.tiers.transformList(i, t, {} + {}).flatten().flatten().flatten()",
        where_("ingress", "from"),
        where_("egress", "to")
    );
    rules.push(rule_x(
        format!(
            "{names}.all(names, self.tiers.all(t, t.ingress.all(r, r.from.all(p, !{missing})) && t.egress.all(r, r.to.all(p, !{missing}))))"
        ),
        format!("{names}.map(names, {})[0]", first_of(&list)),
        Some(".tiers"),
    ));

    // Risky ports open to the internet.
    let risky_r = risky("r");
    let public = is_public("p");
    let ports: Vec<String> = RISKY_PORTS.iter().map(|p| p.to_string()).collect();
    let list = format!(
        "self.tiers.transformList(i, t, t.ingress.transformList(j, r, {risky_r} ? r.from.transformList(k, p, {public} ? \
         ['spec.tiers[%d].ingress[%d].from[%d]: risky port(s) ({}) open to the internet; set spec.allowPublicRiskyPorts: true if this is intended'.format([i, j, k])] : []) : [])).flatten().flatten().flatten()",
        ports.join(", ")
    );
    rules.push(rule_x(
        format!("self.allowPublicRiskyPorts || self.tiers.all(t, t.ingress.all(r, !{risky_r} || !r.from.exists(p, {public})))"),
        first_of(&list),
        Some(".tiers"),
    ));

    // The set's and a tier's tags together, plus the controller's 5, within AWS's 50.
    let over = format!(
        "(has(self.tags) ? size(self.tags) : 0) + (has(t.tags) ? size(t.tags.filter(k, !has(self.tags) || !(k in self.tags))) : 0) > {MAX_USER_TAGS}"
    );
    rules.push(rule_x(
        format!("!self.tiers.exists(t, {over})"),
        format!(
            "'tiers %s: the set and tier have more than {MAX_USER_TAGS} tags together; AWS allows {AWS_MAX_TAGS} tags per resource and {CONTROLLER_TAG_COUNT} are the controller\\'s'\
             .format([self.tiers.filter(t, {over}).map(t, t.name)])"
        ),
        Some(".tags"),
    ));

    // Immutable placement.
    rules.push(rule(
        "has(self.region) == has(oldSelf.region) && (!has(self.region) || self.region == oldSelf.region)",
        &format!("region is immutable: {IMMUTABLE_HOWTO}"),
        Some(".region"),
    ));
    rules.push(rule(
        "has(self.aws) == has(oldSelf.aws) && (!has(self.aws) || self.aws.roleArn == oldSelf.aws.roleArn)",
        &format!("aws.roleArn is immutable (the groups are in the account of the role): {IMMUTABLE_HOWTO}"),
        Some(".aws"),
    ));
    rules.push(rule(
        "self.vpc == oldSelf.vpc",
        &format!("vpc is immutable: {IMMUTABLE_HOWTO}"),
        Some(".vpc"),
    ));
    add(schema, rules);
}

/// On the whole object (it needs the set's name): every group name fits AWS's 255 characters.
pub fn root_group_name_rule() -> kube::core::Rule {
    use kube::core::{Message, Rule};
    let over = format!("size(self.metadata.name) + 1 + size(t.name) > {MAX_GROUP_NAME_CHARS}");
    Rule::new(format!("!self.spec.tiers.exists(t, {over})"))
        .message(Message::Expression(format!(
            "'group names of tiers %s exceed AWS\\'s {MAX_GROUP_NAME_CHARS} characters (set name, -, tier name)'.format([self.spec.tiers.filter(t, {over}).map(t, t.name)])"
        )))
        .field_path(".spec.tiers")
}

/// On the whole object: the owner tag `{namespace}/{name}` fits AWS's 256 characters.
pub fn root_set_name_length_rule() -> kube::core::Rule {
    kube::core::Rule::new(format!("size(self.metadata.name) <= {MAX_SET_NAME_CHARS}")).message(
        kube::core::Message::Message(format!("metadata.name: {SET_NAME_LENGTH_MESSAGE}")),
    )
}

/// On the whole object: AWS refuses group names starting with `sg-`.
pub fn root_sg_prefix_rule() -> kube::core::Rule {
    kube::core::Rule::new("!self.metadata.name.startsWith('sg-')")
        .message("metadata.name: AWS refuses group names starting with sg-: rename the set")
}
