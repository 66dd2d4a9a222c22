//! The `SecurityGroupSet` custom resource (`sgprovisioner.io/v1alpha1`): the field names are
//! the API's contract with users, so they change only with a new version. The CRD in `crds/` is
//! generated from these types.

use std::collections::BTreeMap;

use kube::CustomResource;
use kube::core::CustomResourceExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub mod cel;

use crate::limits::{
    MAX_DESCRIPTION_CHARS, MAX_DNS_SUBDOMAIN_CHARS, MAX_EXTERNAL_ID_CHARS, MAX_PEERS, MAX_ROLE_ARN_CHARS,
    MAX_RULES, MAX_TAG_VALUE_CHARS, MAX_TIERS, MAX_USER_TAGS, MIN_EXTERNAL_ID_CHARS,
};

pub const GROUP: &str = "sgprovisioner.io";
pub const FINALIZER: &str = "sgprovisioner.io/finalizer";
/// The adoption annotation prefix: `sgprovisioner.io/adopt-{tier}: sg-...`.
pub const ADOPT_ANNOTATION: &str = "sgprovisioner.io/adopt-";

/// Desired state: one EC2 security group per tier, in one VPC.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "sgprovisioner.io",
    version = "v1alpha1",
    kind = "SecurityGroupSet",
    plural = "securitygroupsets",
    shortname = "sgs",
    category = "aws",
    category = "sgprovisioner",
    namespaced,
    status = "SecurityGroupSetStatus",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"VPC","type":"string","jsonPath":".status.vpcId"}"#,
    printcolumn = r#"{"name":"Tiers","type":"string","jsonPath":".status.tiersReady"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = cel::root_group_name_rule(),
    validation = cel::root_sg_prefix_rule(),
    validation = cel::root_set_name_length_rule()
)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = cel::spec_rules)]
pub struct SecurityGroupSetSpec {
    /// AWS region of the set's groups and parameters. Default: the controller's region.
    /// Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32), transform = cel::region_rules)]
    pub region: Option<String>,
    /// The AWS account of the set's groups and parameters, when not the controller's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsAccount>,
    /// The VPC the groups live in: exactly one of `id` / `parameterPath`. Immutable.
    pub vpc: VpcRef,
    /// What happens in AWS when the set is deleted.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// `ObserveOnly` computes and reports the plan without writing to AWS.
    #[serde(default)]
    pub management_policy: ManagementPolicy,
    /// Tags added to every group and parameter of the set.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(transform = cel::tags_rules, extend("maxProperties" = MAX_USER_TAGS, "additionalProperties" = {"type": "string", "maxLength": MAX_TAG_VALUE_CHARS}))]
    pub tags: BTreeMap<String, String>,
    /// Allow risky ports (22, 3389, 445, 139, 1433, 3306, 5432, 27017) from 0.0.0.0/0 or ::/0.
    #[serde(default)]
    pub allow_public_risky_ports: bool,
    /// The tiers; each becomes one security group named `{set name}-{tier}`.
    #[schemars(length(min = 1, max = MAX_TIERS), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub tiers: Vec<Tier>,
    /// More places to publish the tiers' group ids (SSM parameters and status always have them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Outputs>,
}

/// Where else the set publishes its group ids.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Outputs {
    /// A ConfigMap in the set's namespace: one key per tier, its group id the value. The set
    /// owns it (it is deleted with the set, or when renamed or removed here); a ConfigMap of
    /// that name that the set does not own is never overwritten.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ConfigMapOutput>,
}

/// The ConfigMap of group ids.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapOutput {
    /// The ConfigMap's name: a DNS-1123 subdomain.
    #[schemars(length(max = MAX_DNS_SUBDOMAIN_CHARS), transform = cel::config_map_name_rules)]
    pub name: String,
}

/// Another account: the controller assumes an IAM role there (STS AssumeRole) for every EC2
/// and SSM call of the set.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = cel::aws_rules)]
pub struct AwsAccount {
    /// The role to assume, e.g. `arn:aws:iam::123456789012:role/sg-provisioner`. The
    /// controller's `--allowed-role-arns` must allow it; its trust policy must let the
    /// controller's own role assume it. Immutable: the set's groups are in its account.
    #[schemars(length(max = MAX_ROLE_ARN_CHARS))]
    pub role_arn: String,
    /// The `ExternalId` to pass to AssumeRole, when the role's trust policy requires one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = MIN_EXTERNAL_ID_CHARS, max = MAX_EXTERNAL_ID_CHARS))]
    pub external_id: Option<String>,
}

/// Where the VPC id comes from.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = cel::vpc_rules)]
pub struct VpcRef {
    /// A literal VPC id, e.g. `vpc-0abc1234`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 21))]
    pub id: Option<String>,
    /// An SSM parameter whose value is the VPC id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048))]
    pub parameter_path: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete the set's groups and parameters, then remove the finalizer.
    #[default]
    Delete,
    /// Leave AWS as it is; only the finalizer is removed.
    Retain,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ManagementPolicy {
    /// Converge AWS to the spec.
    #[default]
    Manage,
    /// Write nothing to AWS; report the plan in status.
    ObserveOnly,
}

/// One tier: one security group.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = cel::tier_rules)]
pub struct Tier {
    /// DNS-label-like name, unique in the set.
    #[schemars(length(max = 63), transform = cel::tier_name_rules)]
    pub name: String,
    /// The group's description (AWS: at most 255 ASCII characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_DESCRIPTION_CHARS), transform = cel::description_rules)]
    pub description: Option<String>,
    /// Tags of this tier's group and parameter (added to the set's tags).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(transform = cel::tags_rules, extend("maxProperties" = MAX_USER_TAGS, "additionalProperties" = {"type": "string", "maxLength": MAX_TAG_VALUE_CHARS}))]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    #[schemars(length(max = MAX_RULES))]
    pub ingress: Vec<IngressRule>,
    /// Absent or empty: no egress at all (AWS's default allow-all egress is always revoked).
    #[serde(default)]
    #[schemars(length(max = MAX_RULES))]
    pub egress: Vec<EgressRule>,
}

/// Traffic allowed into the tier's group.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = cel::ingress_rule_rules)]
pub struct IngressRule {
    #[serde(flatten)]
    pub traffic: Traffic,
    /// Where the traffic may come from.
    #[schemars(length(min = 1, max = MAX_PEERS))]
    pub from: Vec<Peer>,
}

/// Traffic allowed out of the tier's group.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = cel::egress_rule_rules)]
pub struct EgressRule {
    #[serde(flatten)]
    pub traffic: Traffic,
    /// Where the traffic may go.
    #[schemars(length(min = 1, max = MAX_PEERS))]
    pub to: Vec<Peer>,
}

/// What a rule matches, whichever its direction.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Traffic {
    /// Rule description (AWS: at most 255 characters of its allowed set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_DESCRIPTION_CHARS), transform = cel::description_rules)]
    pub description: Option<String>,
    /// `tcp`, `udp`, `icmp`, `icmpv6`, `all`, or an IP protocol number 0-255.
    #[schemars(extend("maxLength" = 16))]
    pub protocol: IntOrString,
    /// `443`, `"443"` or `"8000-8100"`; absent for `all`, `icmp` and `icmpv6`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxLength" = 11))]
    pub ports: Option<IntOrString>,
    /// For `icmp` / `icmpv6` only: the ICMP type and code. Absent: every type and code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp: Option<IcmpMatch>,
}

/// ICMP type and code; an absent code means every code of the type.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IcmpMatch {
    #[serde(rename = "type")]
    #[schemars(range(min = 0, max = 255))]
    pub icmp_type: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 255))]
    pub code: Option<i32>,
}

/// A value written either as an integer or as a string (`ports: 443` or `ports: "443"`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(untagged)]
pub enum IntOrString {
    Int(i64),
    String(String),
}

impl std::fmt::Display for IntOrString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IntOrString::Int(n) => write!(f, "{n}"),
            IntOrString::String(s) => f.write_str(s),
        }
    }
}

impl JsonSchema for IntOrString {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "IntOrString".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "x-kubernetes-int-or-string": true })
    }

    fn inline_schema() -> bool {
        true
    }
}

/// The keys of a peer object, one of which each peer has (serde names of [`Peer`]'s variants).
pub const PEER_KEYS: [&str; 7] = [
    "cidr",
    "ipv6Cidr",
    "prefixListId",
    "tier",
    "self",
    "securityGroupId",
    "setRef",
];

/// A rule's peer: exactly one key.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = cel::peer_rules)]
pub enum Peer {
    /// An IPv4 CIDR, canonical (no host bits).
    Cidr(#[schemars(length(max = 64))] String),
    /// An IPv6 CIDR, canonical.
    Ipv6Cidr(#[schemars(length(max = 64))] String),
    /// A managed prefix list, e.g. `pl-0abc`.
    PrefixListId(#[schemars(length(max = 64))] String),
    /// Another tier of this set.
    Tier(#[schemars(length(max = 63))] String),
    /// This tier itself (`self: true`).
    #[serde(rename = "self")]
    SelfRef(bool),
    /// Any security group by id, e.g. `sg-0123456789abcdef0`.
    SecurityGroupId(#[schemars(length(max = 64))] String),
    /// A tier of another SecurityGroupSet, resolved from that set's status.
    SetRef(SetRef),
}

/// A tier of another set.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetRef {
    #[schemars(length(max = 253))]
    pub name: String,
    /// Default: the referring set's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 63))]
    pub namespace: Option<String>,
    #[schemars(length(max = 63))]
    pub tier: String,
}

/// Observed state, written by the controller.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroupSetStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// kstatus conditions: Ready, Reconciling, Stalled.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Ready tiers over all tiers, e.g. `3/3` (the Tiers printer column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiers_ready: Option<String>,
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub tiers: Vec<TierStatus>,
    /// ObserveOnly: the changes that Manage would make.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plan: Vec<String>,
}

/// A kstatus-style condition.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// RFC 3339 time of the last change of `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

/// What AWS holds for one tier.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TierStatus {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_name: Option<String>,
    #[serde(default)]
    pub ingress_rules: i32,
    #[serde(default)]
    pub egress_rules: i32,
}

/// The CRD as YAML, exactly what `crds/securitygroupsets.sgprovisioner.io.yaml` holds.
pub fn crd_yaml() -> String {
    let crd = SecurityGroupSet::crd();
    let body = serde_saphyr::to_string(&crd).expect("the CRD serializes to YAML");
    format!("# Generated by `sg-provisioner crd` from src/api; do not edit.\n---\n{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECKED_IN_CRD: &str = include_str!("../../crds/securitygroupsets.sgprovisioner.io.yaml");

    #[test]
    fn checked_in_crd_is_current() {
        assert!(
            crd_yaml() == CHECKED_IN_CRD,
            "crds/securitygroupsets.sgprovisioner.io.yaml is stale: run \
             `cargo run -- crd > crds/securitygroupsets.sgprovisioner.io.yaml`"
        );
    }

    #[test]
    fn seed_example_round_trips() {
        let text = include_str!("../../examples/globalbank-prod-c001-us-west-2-sg.yaml");
        let set: SecurityGroupSet = serde_saphyr::from_str(text).unwrap();
        assert_eq!(
            set.metadata.name.as_deref(),
            Some("globalbank-prod-c001-us-west-2-sg")
        );
        let names: Vec<_> = set.spec.tiers.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["web", "app", "db"]);
        let back: SecurityGroupSet = serde_json::from_value(serde_json::to_value(&set).unwrap()).unwrap();
        assert_eq!(back.spec, set.spec);
    }

    #[test]
    fn peer_is_one_key_object() {
        let peers: Vec<Peer> = serde_json::from_str(
            r#"[{"cidr":"10.0.0.0/8"},{"self":true},{"setRef":{"name":"s","tier":"lb"}}]"#,
        )
        .unwrap();
        assert_eq!(peers[0], Peer::Cidr("10.0.0.0/8".into()));
        assert_eq!(peers[1], Peer::SelfRef(true));
        assert!(serde_json::from_str::<Peer>(r#"{"cidr":"a","tier":"b"}"#).is_err());
    }

    #[test]
    fn ports_accept_int_or_string() {
        let t: Traffic = serde_json::from_str(r#"{"protocol":"tcp","ports":443}"#).unwrap();
        assert_eq!(t.ports, Some(IntOrString::Int(443)));
        let t: Traffic = serde_json::from_str(r#"{"protocol":6,"ports":"8000-8100"}"#).unwrap();
        assert_eq!(t.protocol, IntOrString::Int(6));
        assert_eq!(t.ports, Some(IntOrString::String("8000-8100".into())));
    }
}
