//! Thin adapters over the EC2 and SSM SDKs: AWS shapes in and out of the diff's types, and
//! typed errors. Nothing here decides what to do.

use std::collections::BTreeMap;

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, Tag, TagSpecification,
    UserIdGroupPair,
};
use aws_sdk_ssm::types::{ParameterType, ResourceTypeForTagging};

use crate::diff::{ConcretePeer, GroupRef, ObservedGroup, Rule};
use crate::metrics::Metrics;
use crate::model::{CLUSTER_TAG, Direction, OWNER_TAG, Ownership, RuleMatch};

/// An AWS call that failed, classified for the retry policy.
#[derive(thiserror::Error, Debug, Clone)]
pub enum AwsError {
    #[error("{operation}: throttled by AWS ({code})")]
    Throttled { operation: &'static str, code: String },
    #[error("{operation}: AWS unavailable: {message}")]
    Transient {
        operation: &'static str,
        message: String,
    },
    #[error("{operation}: {code}: {message}")]
    Service {
        operation: &'static str,
        code: String,
        message: String,
    },
}

impl AwsError {
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Throttled { code, .. } | AwsError::Service { code, .. } => Some(code),
            AwsError::Transient { .. } => None,
        }
    }

    pub fn is(&self, code: &str) -> bool {
        self.code() == Some(code)
    }
}

const THROTTLE_CODES: [&str; 6] = [
    "RequestLimitExceeded",
    "Throttling",
    "ThrottlingException",
    "RequestThrottled",
    "TooManyRequestsException",
    "RequestThrottledException",
];

fn classify<E, R>(operation: &'static str, err: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or("Unknown").to_string();
            let message = e.message().unwrap_or_default().to_string();
            if THROTTLE_CODES.contains(&code.as_str()) {
                AwsError::Throttled { operation, code }
            } else if matches!(
                code.as_str(),
                "InternalError"
                    | "InternalFailure"
                    | "ServiceUnavailable"
                    | "Unavailable"
                    | "InternalServerError"
            ) {
                AwsError::Transient {
                    operation,
                    message: format!("{code}: {message}"),
                }
            } else {
                AwsError::Service {
                    operation,
                    code,
                    message,
                }
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            AwsError::Transient {
                operation,
                message: format!("{err:?}"),
            }
        }
        _ => AwsError::Service {
            operation,
            code: "ClientError".into(),
            message: format!("{err:?}"),
        },
    }
}

/// The SDK clients of one region.
#[derive(Clone)]
pub struct Aws {
    pub ec2: aws_sdk_ec2::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub metrics: Metrics,
}

type Result<T> = std::result::Result<T, AwsError>;

impl Aws {
    pub fn new(config: &aws_config::SdkConfig, metrics: Metrics) -> Self {
        Aws {
            ec2: aws_sdk_ec2::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
            metrics,
        }
    }

    fn track<T, E, R>(
        &self,
        service: &'static str,
        operation: &'static str,
        result: std::result::Result<T, SdkError<E, R>>,
    ) -> Result<T>
    where
        E: ProvideErrorMetadata + std::fmt::Debug,
        R: std::fmt::Debug,
    {
        let result = result.map_err(|e| classify(operation, e));
        let outcome = match &result {
            Ok(_) => "ok",
            Err(AwsError::Throttled { .. }) => "throttled",
            Err(AwsError::Transient { .. }) => "transient",
            Err(AwsError::Service { .. }) => "error",
        };
        self.metrics.aws_request(service, operation, outcome);
        result
    }

    /// Every group owned by this set and cluster: one call for the whole set.
    pub async fn owned_groups(&self, ownership: &Ownership) -> Result<Vec<ObservedGroup>> {
        let filter = |name: &str, value: &str| {
            Filter::builder()
                .name(format!("tag:{name}"))
                .values(value)
                .build()
        };
        let mut groups = Vec::new();
        let mut token = None;
        loop {
            let page = self.track(
                "ec2",
                "DescribeSecurityGroups",
                self.ec2
                    .describe_security_groups()
                    .filters(filter(OWNER_TAG, &ownership.owner))
                    .filters(filter(CLUSTER_TAG, &ownership.cluster))
                    .set_next_token(token)
                    .send()
                    .await,
            )?;
            groups.extend(page.security_groups().iter().map(observed_group));
            token = page.next_token;
            if token.is_none() {
                return Ok(groups);
            }
        }
    }

    /// A group by name in a VPC, whoever owns it (to explain a name conflict).
    pub async fn group_by_name(&self, vpc_id: &str, name: &str) -> Result<Option<ObservedGroup>> {
        let out = self.track(
            "ec2",
            "DescribeSecurityGroups",
            self.ec2
                .describe_security_groups()
                .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
                .filters(Filter::builder().name("group-name").values(name).build())
                .send()
                .await,
        )?;
        Ok(out.security_groups().first().map(observed_group))
    }

    /// A group by id, whoever owns it (adoption); `None` when it does not exist.
    pub async fn group_by_id(&self, id: &str) -> Result<Option<ObservedGroup>> {
        match self.track(
            "ec2",
            "DescribeSecurityGroups",
            self.ec2.describe_security_groups().group_ids(id).send().await,
        ) {
            Ok(out) => Ok(out.security_groups().first().map(observed_group)),
            Err(e) if e.is("InvalidGroup.NotFound") => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn create_group(
        &self,
        vpc_id: &str,
        name: &str,
        description: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<String> {
        let spec = TagSpecification::builder()
            .resource_type(ResourceType::SecurityGroup)
            .set_tags(Some(ec2_tags(tags)))
            .build();
        let out = self.track(
            "ec2",
            "CreateSecurityGroup",
            self.ec2
                .create_security_group()
                .vpc_id(vpc_id)
                .group_name(name)
                .description(description)
                .tag_specifications(spec)
                .send()
                .await,
        )?;
        Ok(out.group_id.unwrap_or_default())
    }

    pub async fn authorize(
        &self,
        group_id: &str,
        direction: Direction,
        rules: &[Rule],
        ids: &BTreeMap<String, String>,
    ) -> Result<()> {
        let perms = Some(rules.iter().map(|r| ip_permission(r, ids, true)).collect());
        match direction {
            Direction::Ingress => self
                .track(
                    "ec2",
                    "AuthorizeSecurityGroupIngress",
                    self.ec2
                        .authorize_security_group_ingress()
                        .group_id(group_id)
                        .set_ip_permissions(perms)
                        .send()
                        .await,
                )
                .map(drop),
            Direction::Egress => self
                .track(
                    "ec2",
                    "AuthorizeSecurityGroupEgress",
                    self.ec2
                        .authorize_security_group_egress()
                        .group_id(group_id)
                        .set_ip_permissions(perms)
                        .send()
                        .await,
                )
                .map(drop),
        }
    }

    pub async fn revoke(
        &self,
        group_id: &str,
        direction: Direction,
        rules: &[Rule],
        ids: &BTreeMap<String, String>,
    ) -> Result<()> {
        let perms = Some(rules.iter().map(|r| ip_permission(r, ids, false)).collect());
        match direction {
            Direction::Ingress => self
                .track(
                    "ec2",
                    "RevokeSecurityGroupIngress",
                    self.ec2
                        .revoke_security_group_ingress()
                        .group_id(group_id)
                        .set_ip_permissions(perms)
                        .send()
                        .await,
                )
                .map(drop),
            Direction::Egress => self
                .track(
                    "ec2",
                    "RevokeSecurityGroupEgress",
                    self.ec2
                        .revoke_security_group_egress()
                        .group_id(group_id)
                        .set_ip_permissions(perms)
                        .send()
                        .await,
                )
                .map(drop),
        }
    }

    pub async fn update_descriptions(
        &self,
        group_id: &str,
        direction: Direction,
        rules: &[Rule],
        ids: &BTreeMap<String, String>,
    ) -> Result<()> {
        let perms = Some(rules.iter().map(|r| ip_permission(r, ids, true)).collect());
        match direction {
            Direction::Ingress => self
                .track(
                    "ec2",
                    "UpdateSecurityGroupRuleDescriptionsIngress",
                    self.ec2
                        .update_security_group_rule_descriptions_ingress()
                        .group_id(group_id)
                        .set_ip_permissions(perms)
                        .send()
                        .await,
                )
                .map(drop),
            Direction::Egress => self
                .track(
                    "ec2",
                    "UpdateSecurityGroupRuleDescriptionsEgress",
                    self.ec2
                        .update_security_group_rule_descriptions_egress()
                        .group_id(group_id)
                        .set_ip_permissions(perms)
                        .send()
                        .await,
                )
                .map(drop),
        }
    }

    pub async fn tag(&self, group_id: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        self.track(
            "ec2",
            "CreateTags",
            self.ec2
                .create_tags()
                .resources(group_id)
                .set_tags(Some(ec2_tags(tags)))
                .send()
                .await,
        )
        .map(drop)
    }

    pub async fn untag(&self, group_id: &str, keys: &[String]) -> Result<()> {
        let tags = keys.iter().map(|k| Tag::builder().key(k).build()).collect();
        self.track(
            "ec2",
            "DeleteTags",
            self.ec2
                .delete_tags()
                .resources(group_id)
                .set_tags(Some(tags))
                .send()
                .await,
        )
        .map(drop)
    }

    pub async fn delete_group(&self, group_id: &str) -> Result<()> {
        match self.track(
            "ec2",
            "DeleteSecurityGroup",
            self.ec2.delete_security_group().group_id(group_id).send().await,
        ) {
            Err(e) if e.is("InvalidGroup.NotFound") => Ok(()),
            other => other.map(drop),
        }
    }

    /// Network interfaces that use a group (what blocks its deletion).
    pub async fn interfaces_using(&self, group_id: &str) -> Result<Vec<String>> {
        let out = self.track(
            "ec2",
            "DescribeNetworkInterfaces",
            self.ec2
                .describe_network_interfaces()
                .filters(Filter::builder().name("group-id").values(group_id).build())
                .send()
                .await,
        )?;
        Ok(out
            .network_interfaces()
            .iter()
            .filter_map(|n| n.network_interface_id.clone())
            .collect())
    }

    /// Every security group of the region (or of one VPC), whoever owns it, page by page.
    pub async fn all_groups(&self, vpc_id: Option<&str>) -> Result<Vec<aws_sdk_ec2::types::SecurityGroup>> {
        let mut groups = Vec::new();
        let mut token = None;
        loop {
            let mut call = self
                .ec2
                .describe_security_groups()
                .max_results(1000)
                .set_next_token(token);
            if let Some(vpc) = vpc_id {
                call = call.filters(Filter::builder().name("vpc-id").values(vpc).build());
            }
            let page = self.track("ec2", "DescribeSecurityGroups", call.send().await)?;
            groups.extend(page.security_groups.unwrap_or_default());
            token = page.next_token;
            if token.is_none() {
                return Ok(groups);
            }
        }
    }

    /// Ids of the groups some network interface uses (in one VPC, or the whole region).
    pub async fn groups_in_use(&self, vpc_id: Option<&str>) -> Result<std::collections::BTreeSet<String>> {
        let mut used = std::collections::BTreeSet::new();
        let mut token = None;
        loop {
            let mut call = self
                .ec2
                .describe_network_interfaces()
                .max_results(1000)
                .set_next_token(token);
            if let Some(vpc) = vpc_id {
                call = call.filters(Filter::builder().name("vpc-id").values(vpc).build());
            }
            let page = self.track("ec2", "DescribeNetworkInterfaces", call.send().await)?;
            for eni in page.network_interfaces() {
                used.extend(eni.groups().iter().filter_map(|g| g.group_id.clone()));
            }
            token = page.next_token;
            if token.is_none() {
                return Ok(used);
            }
        }
    }

    /// Parameter name → value, everything under `prefix` (one call a page of 10).
    pub async fn parameters_under(&self, prefix: &str) -> Result<BTreeMap<String, String>> {
        let mut params = BTreeMap::new();
        let mut token = None;
        loop {
            let page = self.track(
                "ssm",
                "GetParametersByPath",
                self.ssm
                    .get_parameters_by_path()
                    .path(prefix)
                    .recursive(true)
                    .set_next_token(token)
                    .send()
                    .await,
            )?;
            for p in page.parameters() {
                if let (Some(name), Some(value)) = (p.name(), p.value()) {
                    params.insert(name.to_string(), value.to_string());
                }
            }
            token = page.next_token;
            if token.is_none() {
                return Ok(params);
            }
        }
    }

    /// A parameter's value; `None` when it does not exist.
    pub async fn parameter(&self, name: &str) -> Result<Option<String>> {
        match self.track(
            "ssm",
            "GetParameter",
            self.ssm.get_parameter().name(name).send().await,
        ) {
            Ok(out) => Ok(out.parameter.and_then(|p| p.value)),
            Err(e) if e.is("ParameterNotFound") => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn parameter_tags(&self, name: &str) -> Result<BTreeMap<String, String>> {
        let out = self.track(
            "ssm",
            "ListTagsForResource",
            self.ssm
                .list_tags_for_resource()
                .resource_type(ResourceTypeForTagging::Parameter)
                .resource_id(name)
                .send()
                .await,
        )?;
        Ok(out
            .tag_list()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect())
    }

    /// Creates the parameter with its tags; `Ok(false)` when it already exists.
    pub async fn create_parameter(
        &self,
        name: &str,
        value: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<bool> {
        let tags = tags
            .iter()
            .filter_map(|(k, v)| aws_sdk_ssm::types::Tag::builder().key(k).value(v).build().ok())
            .collect();
        match self.track(
            "ssm",
            "PutParameter",
            self.ssm
                .put_parameter()
                .name(name)
                .value(value)
                .r#type(ParameterType::String)
                .set_tags(Some(tags))
                .send()
                .await,
        ) {
            Ok(_) => Ok(true),
            Err(e) if e.is("ParameterAlreadyExists") => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Overwrites an existing parameter's value (AWS refuses tags together with overwrite).
    pub async fn overwrite_parameter(&self, name: &str, value: &str) -> Result<()> {
        self.track(
            "ssm",
            "PutParameter",
            self.ssm
                .put_parameter()
                .name(name)
                .value(value)
                .r#type(ParameterType::String)
                .overwrite(true)
                .send()
                .await,
        )
        .map(drop)
    }

    pub async fn tag_parameter(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        let tags = tags
            .iter()
            .filter_map(|(k, v)| aws_sdk_ssm::types::Tag::builder().key(k).value(v).build().ok())
            .collect();
        self.track(
            "ssm",
            "AddTagsToResource",
            self.ssm
                .add_tags_to_resource()
                .resource_type(ResourceTypeForTagging::Parameter)
                .resource_id(name)
                .set_tags(Some(tags))
                .send()
                .await,
        )
        .map(drop)
    }

    pub async fn delete_parameter(&self, name: &str) -> Result<()> {
        match self.track(
            "ssm",
            "DeleteParameter",
            self.ssm.delete_parameter().name(name).send().await,
        ) {
            Err(e) if e.is("ParameterNotFound") => Ok(()),
            other => other.map(drop),
        }
    }
}

fn ec2_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// AWS's grouped permissions → one `Rule` per peer.
fn observed_group(sg: &aws_sdk_ec2::types::SecurityGroup) -> ObservedGroup {
    let rules = |perms: &[IpPermission]| {
        let mut out = Vec::new();
        for p in perms {
            let traffic = RuleMatch::from_aws(p.ip_protocol().unwrap_or("-1"), p.from_port(), p.to_port());
            let mut push = |peer, description: Option<&str>| {
                out.push(Rule {
                    traffic: traffic.clone(),
                    peer,
                    description: description.map(str::to_string),
                })
            };
            for r in p.ip_ranges() {
                push(
                    ConcretePeer::Cidr(r.cidr_ip().unwrap_or_default().into()),
                    r.description(),
                );
            }
            for r in p.ipv6_ranges() {
                push(
                    ConcretePeer::Ipv6Cidr(r.cidr_ipv6().unwrap_or_default().into()),
                    r.description(),
                );
            }
            for r in p.prefix_list_ids() {
                push(
                    ConcretePeer::PrefixList(r.prefix_list_id().unwrap_or_default().into()),
                    r.description(),
                );
            }
            for r in p.user_id_group_pairs() {
                push(
                    ConcretePeer::Group(GroupRef::Existing(r.group_id().unwrap_or_default().into())),
                    r.description(),
                );
            }
        }
        out
    };
    ObservedGroup {
        id: sg.group_id().unwrap_or_default().into(),
        name: sg.group_name().unwrap_or_default().into(),
        vpc_id: sg.vpc_id().unwrap_or_default().into(),
        description: sg.description().unwrap_or_default().into(),
        tags: sg
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().into(),
                    t.value().unwrap_or_default().into(),
                )
            })
            .collect(),
        ingress: rules(sg.ip_permissions()),
        egress: rules(sg.ip_permissions_egress()),
    }
}

/// One rule → one AWS permission. `ids` maps pending tiers to the ids their groups got.
fn ip_permission(rule: &Rule, ids: &BTreeMap<String, String>, with_description: bool) -> IpPermission {
    let description = if with_description {
        rule.description.clone()
    } else {
        None
    };
    let mut p = IpPermission::builder().ip_protocol(&rule.traffic.protocol);
    if rule.traffic.has_ports() {
        p = p.from_port(rule.traffic.from_port).to_port(rule.traffic.to_port);
    }
    match &rule.peer {
        ConcretePeer::Cidr(c) => {
            p.ip_ranges(IpRange::builder().cidr_ip(c).set_description(description).build())
        }
        ConcretePeer::Ipv6Cidr(c) => p.ipv6_ranges(
            Ipv6Range::builder()
                .cidr_ipv6(c)
                .set_description(description)
                .build(),
        ),
        ConcretePeer::PrefixList(id) => p.prefix_list_ids(
            PrefixListId::builder()
                .prefix_list_id(id)
                .set_description(description)
                .build(),
        ),
        ConcretePeer::Group(g) => {
            let id = match g {
                GroupRef::Existing(id) => id.clone(),
                GroupRef::Pending(tier) => ids.get(tier).cloned().unwrap_or_default(),
            };
            p.user_id_group_pairs(
                UserIdGroupPair::builder()
                    .group_id(id)
                    .set_description(description)
                    .build(),
            )
        }
    }
    .build()
}
