//! The real [`AwsApi`]: the EC2 and SSM SDKs, AWS shapes in and out of the diff's types, and
//! each failure classified. Nothing here decides what to do.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, Tag, TagSpecification,
    UserIdGroupPair,
};
use aws_sdk_ssm::types::{ParameterType, ResourceTypeForTagging};

use super::fence::{Fence, FenceInterceptor};
use super::limiter::Pacer;
use super::recent::Recent;
use super::{AwsApi, AwsError, Interface, Result};
use crate::diff::compact::{CompactGroup, Interner};
use crate::diff::{ConcretePeer, GroupRef, ObservedGroup, Rule};
use crate::metrics::Metrics;
use crate::model::{CLUSTER_TAG, Direction, OWNER_TAG, Ownership, RuleMatch};

const THROTTLE_CODES: [&str; 6] = [
    "RequestLimitExceeded",
    "Throttling",
    "ThrottlingException",
    "RequestThrottled",
    "TooManyRequestsException",
    "RequestThrottledException",
];

fn classify<E, R>(operation: &'static str, err: &SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if super::fence::is_fenced(err) {
        return AwsError::Fenced { operation };
    }
    // The call needed the set's role's credentials, and STS did not give them.
    if let Some(sts) = super::assume::assume_role_failure(err) {
        return classify_outcome(super::assume::ASSUME_ROLE, sts);
    }
    classify_outcome(operation, err)
}

/// What AWS answered (or that it did not).
fn classify_outcome<E, R>(operation: &'static str, err: &SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match err {
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
                message: DisplayErrorContext(err).to_string(),
            }
        }
        _ => AwsError::Service {
            operation,
            code: "ClientError".into(),
            message: DisplayErrorContext(err).to_string(),
        },
    }
}

/// The SDK clients of one region.
#[derive(Clone)]
pub struct Aws {
    pub ec2: aws_sdk_ec2::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub metrics: Metrics,
    /// What was created moments ago (read-your-writes for teardown).
    pub recent: Arc<Recent>,
    /// The region's token buckets, for the pages of a read after its first (the first page's
    /// token is taken by [`super::limiter::Limited`], which sees one call).
    pub pacer: Option<Arc<Pacer>>,
}

impl Aws {
    pub fn new(config: &aws_config::SdkConfig, metrics: Metrics) -> Self {
        Aws {
            ec2: aws_sdk_ec2::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
            metrics,
            recent: Arc::default(),
            pacer: None,
        }
    }

    /// Clients whose every attempt is checked against the leader's fence first.
    pub fn fenced(config: &aws_config::SdkConfig, metrics: Metrics, fence: Arc<Fence>) -> Self {
        let ec2 = aws_sdk_ec2::config::Builder::from(config).interceptor(FenceInterceptor(fence.clone()));
        let ssm = aws_sdk_ssm::config::Builder::from(config).interceptor(FenceInterceptor(fence));
        Aws {
            ec2: aws_sdk_ec2::Client::from_conf(ec2.build()),
            ssm: aws_sdk_ssm::Client::from_conf(ssm.build()),
            metrics,
            recent: Arc::default(),
            pacer: None,
        }
    }

    /// Later pages of paginated reads wait for `pacer`'s tokens.
    pub fn paced(mut self, pacer: Arc<Pacer>) -> Self {
        self.pacer = Some(pacer);
        self
    }

    /// Waits for a token before every page of `operation` but the first.
    async fn pace(&self, operation: &'static str, page: usize) {
        if let (Some(pacer), true) = (&self.pacer, page > 0) {
            pacer.take(operation).await;
        }
    }

    /// Classifies a call's outcome and counts it (per service, operation and outcome).
    fn track<T, E, R>(
        &self,
        service: &'static str,
        operation: &'static str,
        result: std::result::Result<T, SdkError<E, R>>,
    ) -> Result<T>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let result = result.map_err(|e| classify(operation, &e));
        let outcome = match &result {
            Ok(_) => "ok",
            Err(AwsError::Throttled { .. }) => "throttled",
            Err(AwsError::Transient { .. }) => "transient",
            Err(AwsError::Service { .. }) => "error",
            Err(AwsError::Fenced { .. }) => "fenced",
        };
        self.metrics.aws_request(service, operation, outcome);
        result
    }

    /// Every security group of the region (or of one VPC), whoever owns it (the audit).
    pub async fn all_groups(&self, vpc_id: Option<&str>) -> Result<Vec<aws_sdk_ec2::types::SecurityGroup>> {
        let mut call = self.ec2.describe_security_groups();
        if let Some(vpc) = vpc_id {
            call = call.filters(filter("vpc-id", vpc));
        }
        let mut pages = call.into_paginator().page_size(1000).send();
        let mut groups = Vec::new();
        for n in 0.. {
            self.pace("DescribeSecurityGroups", n).await;
            let Some(page) = pages.next().await else { break };
            let page = self.track("ec2", "DescribeSecurityGroups", page)?;
            groups.extend(page.security_groups.unwrap_or_default());
        }
        Ok(groups)
    }

    /// Ids of the groups some network interface uses (in one VPC, or the whole region).
    pub async fn groups_in_use(&self, vpc_id: Option<&str>) -> Result<BTreeSet<String>> {
        let mut call = self.ec2.describe_network_interfaces();
        if let Some(vpc) = vpc_id {
            call = call.filters(filter("vpc-id", vpc));
        }
        let mut pages = call.into_paginator().page_size(1000).send();
        let mut used = BTreeSet::new();
        while let Some(page) = pages.next().await {
            let page = self.track("ec2", "DescribeNetworkInterfaces", page)?;
            for eni in page.network_interfaces() {
                used.extend(eni.groups().iter().filter_map(|g| g.group_id.clone()));
            }
        }
        Ok(used)
    }
}

/// The six rule calls differ only in their builder: one macro sends any of them.
impl Aws {
    /// Every group matching all `filters`, a page at a time.
    async fn groups_where(&self, filters: Vec<Filter>) -> Result<Vec<ObservedGroup>> {
        self.groups_where_as(filters, observed_group).await
    }

    /// The groups matching `filters`, each made a `T` as its page arrives (pages are dropped as
    /// they are read).
    async fn groups_where_as<T>(
        &self,
        filters: Vec<Filter>,
        mut convert: impl FnMut(&aws_sdk_ec2::types::SecurityGroup) -> T + Send,
    ) -> Result<Vec<T>> {
        let mut pages = self
            .ec2
            .describe_security_groups()
            .set_filters(Some(filters))
            .into_paginator()
            .page_size(GROUPS_PAGE)
            .send();
        let mut groups = Vec::new();
        let mut listed = Vec::new();
        for n in 0.. {
            self.pace("DescribeSecurityGroups", n).await;
            let Some(page) = pages.next().await else { break };
            let page = self.track("ec2", "DescribeSecurityGroups", page)?;
            for sg in page.security_groups() {
                listed.push(sg.group_id().unwrap_or_default().to_string());
                let (vpc, name) = (
                    sg.vpc_id().unwrap_or_default(),
                    sg.group_name().unwrap_or_default(),
                );
                listed.push(Recent::group_name(vpc, name));
                groups.push(convert(sg));
            }
        }
        self.recent.listed(listed.iter().map(String::as_str));
        Ok(groups)
    }
}

/// Groups per DescribeSecurityGroups page. Without a page size EC2 answers every match at
/// once: the cluster's whole view (3,000 groups at 1,000 sets) in one body, parsed at once.
/// A page of 200 bounds that to a fifth of a 1,000-set view, for 15 calls a view instead of 1.
const GROUPS_PAGE: i32 = 200;

macro_rules! permission_call {
    ($self:ident, $method:ident, $operation:literal, $group_id:expr, $perms:expr) => {
        $self
            .track(
                "ec2",
                $operation,
                $self
                    .ec2
                    .$method()
                    .group_id($group_id)
                    .set_ip_permissions(Some($perms))
                    .send()
                    .await,
            )
            .map(drop)
    };
}

impl AwsApi for Aws {
    fn unlisted_recent_creates(&self, owner: &str, listed: &[&str]) -> Vec<String> {
        self.recent.unlisted(owner, listed.iter().copied())
    }

    async fn owned_groups(&self, ownership: &Ownership) -> Result<Vec<ObservedGroup>> {
        self.groups_where(vec![
            filter(&format!("tag:{OWNER_TAG}"), &ownership.owner),
            filter(&format!("tag:{CLUSTER_TAG}"), &ownership.cluster),
        ])
        .await
    }

    async fn cluster_groups(&self, cluster: &str) -> Result<Vec<CompactGroup>> {
        let mut strings = Interner::default();
        let filters = vec![filter(&format!("tag:{CLUSTER_TAG}"), cluster)];
        self.groups_where_as(filters, |sg| CompactGroup::new(&observed_group(sg), &mut strings))
            .await
    }

    async fn group_by_id(&self, id: &str) -> Result<Option<ObservedGroup>> {
        let call = self.ec2.describe_security_groups().group_ids(id).send().await;
        match self.track("ec2", "DescribeSecurityGroups", call) {
            Ok(out) => Ok(out.security_groups().first().map(observed_group)),
            Err(e) if e.is("InvalidGroup.NotFound") => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn groups_named(&self, vpc_id: &str, names: &[String]) -> Result<Vec<ObservedGroup>> {
        let by_name = Filter::builder()
            .name("group-name")
            .set_values(Some(names.to_vec()))
            .build();
        self.groups_where(vec![filter("vpc-id", vpc_id), by_name]).await
    }

    async fn groups_referencing(&self, group_id: &str) -> Result<Vec<ObservedGroup>> {
        let mut found: Vec<ObservedGroup> = Vec::new();
        for name in ["ip-permission.group-id", "egress.ip-permission.group-id"] {
            for g in self.groups_where(vec![filter(name, group_id)]).await? {
                if !found.iter().any(|f| f.id == g.id) {
                    found.push(g);
                }
            }
        }
        Ok(found)
    }

    async fn vpc_has_ipv6(&self, vpc_id: &str) -> Result<bool> {
        let call = self.ec2.describe_vpcs().vpc_ids(vpc_id).send().await;
        let out = self.track("ec2", "DescribeVpcs", call)?;
        let associated = |a: &aws_sdk_ec2::types::VpcIpv6CidrBlockAssociation| {
            a.ipv6_cidr_block_state()
                .and_then(|s| s.state())
                .is_some_and(|s| *s == aws_sdk_ec2::types::VpcCidrBlockStateCode::Associated)
        };
        Ok(out
            .vpcs()
            .iter()
            .any(|v| v.ipv6_cidr_block_association_set().iter().any(associated)))
    }

    async fn interfaces_using(&self, group_id: &str) -> Result<Vec<Interface>> {
        let mut pages = self
            .ec2
            .describe_network_interfaces()
            .filters(filter("group-id", group_id))
            .into_paginator()
            .send();
        let mut ids = Vec::new();
        while let Some(page) = pages.next().await {
            let page = self.track("ec2", "DescribeNetworkInterfaces", page)?;
            ids.extend(page.network_interfaces().iter().map(|n| Interface {
                id: n.network_interface_id().unwrap_or_default().into(),
                description: n.description().unwrap_or_default().into(),
                requester: n.requester_id().map(str::to_string),
            }));
        }
        Ok(ids)
    }

    async fn parameters_under(&self, prefix: &str) -> Result<BTreeMap<String, String>> {
        let mut pages = self
            .ssm
            .get_parameters_by_path()
            .path(prefix)
            .recursive(true)
            .into_paginator()
            .send();
        let mut params = BTreeMap::new();
        for n in 0.. {
            self.pace("ssm:GetParametersByPath", n).await;
            let Some(page) = pages.next().await else { break };
            let page = self.track("ssm", "GetParametersByPath", page)?;
            for p in page.parameters() {
                if let (Some(name), Some(value)) = (p.name(), p.value()) {
                    params.insert(name.to_string(), value.to_string());
                }
            }
        }
        self.recent.listed(params.keys().map(String::as_str));
        Ok(params)
    }

    async fn parameter(&self, name: &str) -> Result<Option<String>> {
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

    async fn parameter_tags(&self, name: &str) -> Result<BTreeMap<String, String>> {
        let call = self
            .ssm
            .list_tags_for_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .send()
            .await;
        let out = self.track("ssm", "ListTagsForResource", call)?;
        Ok(out
            .tag_list()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect())
    }

    async fn create_group(
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
        let call = self
            .ec2
            .create_security_group()
            .vpc_id(vpc_id)
            .group_name(name)
            .description(description)
            .tag_specifications(spec)
            .send()
            .await;
        let out = self.track("ec2", "CreateSecurityGroup", call).inspect_err(|e| {
            if matches!(e, AwsError::Transient { .. }) {
                // It may exist although the answer was lost: waited for like any new group.
                self.recent
                    .created(&Recent::group_name(vpc_id, name), tags.get(OWNER_TAG));
            }
        })?;
        let id = out.group_id.unwrap_or_default();
        self.recent.created(&id, tags.get(OWNER_TAG));
        Ok(id)
    }

    async fn authorize(&self, group_id: &str, direction: Direction, rules: &[Rule]) -> Result<()> {
        let perms = permissions(rules, true);
        match direction {
            Direction::Ingress => permission_call!(
                self,
                authorize_security_group_ingress,
                "AuthorizeSecurityGroupIngress",
                group_id,
                perms
            ),
            Direction::Egress => permission_call!(
                self,
                authorize_security_group_egress,
                "AuthorizeSecurityGroupEgress",
                group_id,
                perms
            ),
        }
    }

    async fn revoke(&self, group_id: &str, direction: Direction, rules: &[Rule]) -> Result<()> {
        let perms = permissions(rules, false);
        match direction {
            Direction::Ingress => permission_call!(
                self,
                revoke_security_group_ingress,
                "RevokeSecurityGroupIngress",
                group_id,
                perms
            ),
            Direction::Egress => permission_call!(
                self,
                revoke_security_group_egress,
                "RevokeSecurityGroupEgress",
                group_id,
                perms
            ),
        }
    }

    async fn update_descriptions(&self, group_id: &str, direction: Direction, rules: &[Rule]) -> Result<()> {
        let perms = permissions(rules, true);
        match direction {
            Direction::Ingress => permission_call!(
                self,
                update_security_group_rule_descriptions_ingress,
                "UpdateSecurityGroupRuleDescriptionsIngress",
                group_id,
                perms
            ),
            Direction::Egress => permission_call!(
                self,
                update_security_group_rule_descriptions_egress,
                "UpdateSecurityGroupRuleDescriptionsEgress",
                group_id,
                perms
            ),
        }
    }

    async fn tag_group(&self, group_id: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        let call = self
            .ec2
            .create_tags()
            .resources(group_id)
            .set_tags(Some(ec2_tags(tags)))
            .send()
            .await;
        self.track("ec2", "CreateTags", call).map(drop)
    }

    async fn untag_group(&self, group_id: &str, keys: &[String]) -> Result<()> {
        let tags = keys.iter().map(|k| Tag::builder().key(k).build()).collect();
        let call = self
            .ec2
            .delete_tags()
            .resources(group_id)
            .set_tags(Some(tags))
            .send()
            .await;
        self.track("ec2", "DeleteTags", call).map(drop)
    }

    async fn delete_group(&self, group_id: &str) -> Result<()> {
        let call = self.ec2.delete_security_group().group_id(group_id).send().await;
        let done = match self.track("ec2", "DeleteSecurityGroup", call) {
            Err(e) if e.is("InvalidGroup.NotFound") => Ok(()),
            other => other.map(drop),
        };
        if done.is_ok() {
            self.recent.deleted(group_id);
        }
        done
    }

    async fn create_parameter(&self, name: &str, value: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        let call = self
            .ssm
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::String)
            .set_tags(Some(ssm_tags(tags)))
            .send()
            .await;
        // Written, or perhaps written (an answer lost): either way waited for until listed.
        let done = self.track("ssm", "PutParameter", call);
        if matches!(done, Ok(_) | Err(AwsError::Transient { .. })) {
            self.recent.created(name, tags.get(OWNER_TAG));
        }
        done.map(drop)
    }

    async fn overwrite_parameter(&self, name: &str, value: &str) -> Result<()> {
        let call = self
            .ssm
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::String)
            .overwrite(true)
            .send()
            .await;
        self.track("ssm", "PutParameter", call).map(drop)
    }

    async fn tag_parameter(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        let call = self
            .ssm
            .add_tags_to_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .set_tags(Some(ssm_tags(tags)))
            .send()
            .await;
        self.track("ssm", "AddTagsToResource", call).map(drop)
    }

    async fn untag_parameter(&self, name: &str, keys: &[String]) -> Result<()> {
        let call = self
            .ssm
            .remove_tags_from_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .set_tag_keys(Some(keys.to_vec()))
            .send()
            .await;
        self.track("ssm", "RemoveTagsFromResource", call).map(drop)
    }

    async fn delete_parameter(&self, name: &str) -> Result<()> {
        match self.track(
            "ssm",
            "DeleteParameter",
            self.ssm.delete_parameter().name(name).send().await,
        ) {
            Err(e) if e.is("ParameterNotFound") => Ok(()),
            other => other.map(drop),
        }
        .inspect(|()| self.recent.deleted(name))
    }
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

fn ssm_tags(tags: &BTreeMap<String, String>) -> Vec<aws_sdk_ssm::types::Tag> {
    tags.iter()
        .filter_map(|(k, v)| aws_sdk_ssm::types::Tag::builder().key(k).value(v).build().ok())
        .collect()
}

fn permissions(rules: &[Rule], with_description: bool) -> Vec<IpPermission> {
    rules.iter().map(|r| ip_permission(r, with_description)).collect()
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

/// One rule → one AWS permission. Its group peer is an existing id (the executor resolved it).
fn ip_permission(rule: &Rule, with_description: bool) -> IpPermission {
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
                GroupRef::Pending(tier) => unreachable!("tier {tier}'s group is resolved before the call"),
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

#[cfg(test)]
mod tests {
    use aws_credential_types::provider::error::CredentialsError;
    use aws_sdk_ec2::error::{ConnectorError, SdkError};
    use aws_sdk_ec2::operation::create_security_group::CreateSecurityGroupError;
    use aws_sdk_sts::operation::assume_role::AssumeRoleError;

    use super::*;
    use crate::aws::assume::ASSUME_ROLE;

    /// An EC2 call whose credentials could not be had: STS's error inside the credentials
    /// provider's, inside the connector's, as the SDK nests them.
    fn ec2_without_credentials(
        sts: aws_sdk_sts::error::SdkError<AssumeRoleError>,
    ) -> SdkError<CreateSecurityGroupError> {
        let credentials = CredentialsError::provider_error(sts);
        SdkError::dispatch_failure(ConnectorError::other(credentials.into(), None))
    }

    #[test]
    fn a_failed_assume_role_is_reported_as_sts_whatever_call_needed_it() {
        let timeout = aws_sdk_sts::error::SdkError::timeout_error("STS did not answer");
        let err = classify("CreateSecurityGroup", &ec2_without_credentials(timeout));
        assert!(
            matches!(err, AwsError::Transient { operation, .. } if operation == ASSUME_ROLE),
            "{err}"
        );
        assert!(err.is_assume_role());
        let refused = aws_sdk_sts::error::SdkError::construction_failure("bad request");
        let err = classify("CreateSecurityGroup", &ec2_without_credentials(refused));
        assert!(
            matches!(&err, AwsError::Service { operation, .. } if *operation == ASSUME_ROLE),
            "{err}"
        );
    }

    #[test]
    fn a_fenced_role_is_fenced_and_other_dispatch_failures_are_the_calls_own() {
        let fenced = CredentialsError::provider_error(super::super::fence::Fenced);
        let err: SdkError<CreateSecurityGroupError> =
            SdkError::dispatch_failure(ConnectorError::other(fenced.into(), None));
        assert!(matches!(
            classify("CreateSecurityGroup", &err),
            AwsError::Fenced { .. }
        ));
        let io: SdkError<CreateSecurityGroupError> =
            SdkError::dispatch_failure(ConnectorError::io("connection refused".into()));
        let err = classify("CreateSecurityGroup", &io);
        assert!(
            matches!(
                err,
                AwsError::Transient {
                    operation: "CreateSecurityGroup",
                    ..
                }
            ),
            "{err}"
        );
        assert!(!err.is_assume_role());
    }
}
