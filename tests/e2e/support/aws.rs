//! AWS SDK clients and the emulator's control API for the end-to-end tests.
//!
//! Each test signs with its own access key, and the emulator counts calls and applies throttling
//! or faults per access key, so tests running in parallel do not see each other's traffic.

use aws_config::{BehaviorVersion, Region};
use aws_sdk_ec2::config::Credentials;
use serde_json::{Value, json};

pub async fn sdk_config(access_key: &str) -> aws_config::SdkConfig {
    let env = super::env();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(Region::new(env.region.clone()));
    if let Some(endpoint) = &env.aws_endpoint {
        loader = loader
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new(access_key, "testing", None, None, "e2e"));
    }
    loader.load().await
}

/// `access_key`'s configuration with a role's credentials instead: AssumeRole signed with
/// `access_key` (the emulator puts what the role's credentials sign in the role's account).
pub async fn role_config(
    access_key: &str,
    role_arn: &str,
    external_id: Option<&str>,
) -> aws_config::SdkConfig {
    let base = sdk_config(access_key).await;
    let mut provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
        .configure(&base)
        .session_name("e2e");
    if let Some(id) = external_id {
        provider = provider.external_id(id);
    }
    let provider = aws_sdk_ec2::config::SharedCredentialsProvider::new(provider.build().await);
    base.to_builder().credentials_provider(provider).build()
}

pub async fn ec2(access_key: &str) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&sdk_config(access_key).await)
}

/// The emulator's control API (`/_emulator`), scoped to one access key.
pub struct Emulator {
    base: String,
    access_key: String,
    http: reqwest::Client,
}

impl Emulator {
    /// Panics (never skips) when the tests run without the emulator.
    pub fn for_key(access_key: &str) -> Self {
        let base = super::env().emulator_control.clone().expect(
            "this test needs the AWS emulator's control API: set SG_EMULATOR_CONTROL_URL or run against the emulator",
        );
        Emulator {
            base,
            access_key: access_key.to_string(),
            http: reqwest::Client::new(),
        }
    }

    pub async fn counts(&self) -> Value {
        self.http
            .get(format!("{}/counts", self.base))
            .query(&[("access_key", &self.access_key)])
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("GET counts")
            .json()
            .await
            .expect("counts JSON")
    }

    /// AWS writes signed with this key so far.
    pub async fn writes(&self) -> u64 {
        self.counts().await["writes"].as_u64().unwrap_or(0)
    }

    /// Sets throttling / faults for this access key only.
    pub async fn configure(&self, config: Value) {
        self.http
            .post(format!("{}/config", self.base))
            .query(&[("access_key", &self.access_key)])
            .json(&config)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("POST config");
    }

    /// Zeroes this access key's counters.
    pub async fn reset_counts(&self) {
        self.http
            .post(format!("{}/counts/reset", self.base))
            .query(&[("access_key", &self.access_key)])
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("POST counts/reset");
    }

    /// The emulator's record of a role: its access key id, who assumed it, with which
    /// ExternalIds (`GET /_emulator/assumed-roles?role_arn=`; the key is not this one's).
    pub async fn assumed_role(&self, role_arn: &str) -> Value {
        self.http
            .get(format!("{}/assumed-roles", self.base))
            .query(&[("role_arn", role_arn)])
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("GET assumed-roles")
            .json()
            .await
            .expect("assumed-roles JSON")
    }

    /// The role's trust policy asks for this ExternalId (`None`: any caller may assume it).
    pub async fn trust(&self, role_arn: &str, external_id: Option<&str>) {
        let condition = external_id.map(|id| json!({"external_id": id}));
        self.roles(json!({"trust": {role_arn: condition}})).await;
    }

    async fn roles(&self, doc: Value) {
        self.http
            .post(format!("{}/assumed-roles", self.base))
            .json(&doc)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("POST assumed-roles");
    }

    pub async fn clear(&self) {
        self.configure(json!({"throttle": {"enabled": false}, "faults": null}))
            .await;
    }
}

/// The code of an SDK error (`DependencyViolation`, `RequestLimitExceeded`, ...).
pub fn error_code<E, R>(err: &aws_sdk_ec2::error::SdkError<E, R>) -> Option<String>
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata,
{
    err.as_service_error().and_then(|e| e.code()).map(str::to_string)
}

/// A new VPC's id.
pub async fn create_vpc(ec2: &aws_sdk_ec2::Client, cidr: &str) -> String {
    new_vpc(ec2, cidr, false).await
}

/// A new VPC's id; `dual_stack`: with an Amazon-provided IPv6 block too.
pub async fn new_vpc(ec2: &aws_sdk_ec2::Client, cidr: &str, dual_stack: bool) -> String {
    ec2.create_vpc()
        .cidr_block(cidr)
        .amazon_provided_ipv6_cidr_block(dual_stack)
        .send()
        .await
        .unwrap()
        .vpc
        .unwrap()
        .vpc_id
        .unwrap()
}

/// A network interface using `group_id`, in a new subnet `cidr` of `vpc_id`, described as
/// "e2e workload"; its id.
pub async fn attach_interface(ec2: &aws_sdk_ec2::Client, vpc_id: &str, cidr: &str, group_id: &str) -> String {
    let subnet = ec2
        .create_subnet()
        .vpc_id(vpc_id)
        .cidr_block(cidr)
        .send()
        .await
        .unwrap();
    let subnet_id = subnet.subnet.unwrap().subnet_id.unwrap();
    let eni = ec2
        .create_network_interface()
        .subnet_id(subnet_id)
        .groups(group_id)
        .description("e2e workload")
        .send()
        .await
        .unwrap();
    eni.network_interface.unwrap().network_interface_id.unwrap()
}

/// TCP `port` from 0.0.0.0/0: the out-of-band change drift tests make.
pub fn tcp_from_world(port: i32) -> aws_sdk_ec2::types::IpPermission {
    aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
        .ip_ranges(
            aws_sdk_ec2::types::IpRange::builder()
                .cidr_ip("0.0.0.0/0")
                .build(),
        )
        .build()
}

/// A group named `name` in `vpc_id` with `tags`, made by hand (not by the controller); its id.
pub async fn hand_made_group(
    ec2: &aws_sdk_ec2::Client,
    vpc_id: &str,
    name: &str,
    tags: &[(&str, &str)],
) -> String {
    use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
    let mut spec = TagSpecification::builder().resource_type(ResourceType::SecurityGroup);
    for (k, v) in tags {
        spec = spec.tags(Tag::builder().key(*k).value(*v).build());
    }
    ec2.create_security_group()
        .vpc_id(vpc_id)
        .group_name(name)
        .description("made by hand")
        .set_tag_specifications((!tags.is_empty()).then(|| vec![spec.build()]))
        .send()
        .await
        .unwrap()
        .group_id
        .unwrap()
}
