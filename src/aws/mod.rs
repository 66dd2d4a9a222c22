//! The AWS port: every EC2 and SSM call the controller makes, as one trait. `sdk` is the real
//! adapter over the AWS SDKs; `fake` an in-memory account for unit tests of the stage driver.
//! Adapters translate shapes and classify errors; nothing here decides what to do.
//!
//! Rules passed to a write name their group peers by id (`GroupRef::Existing`): the executor
//! resolves the groups a plan creates before it calls.

use std::collections::BTreeMap;
use std::future::Future;

use crate::diff::compact::CompactGroup;
use crate::diff::{ObservedGroup, Rule};
use crate::model::{Direction, Ownership};

pub mod assume;
#[cfg(test)]
pub mod fake;
pub mod fence;
pub mod limiter;
pub mod recent;
mod sdk;

pub use sdk::Aws;

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
    /// Not sent: this replica's leadership lapsed (see [`fence`]).
    #[error("{operation}: {}", fence::Fenced)]
    Fenced { operation: &'static str },
}

impl AwsError {
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Throttled { code, .. } | AwsError::Service { code, .. } => Some(code),
            AwsError::Transient { .. } | AwsError::Fenced { .. } => None,
        }
    }

    pub fn is(&self, code: &str) -> bool {
        self.code() == Some(code)
    }

    /// STS did not give the set's role's credentials (`spec.aws.roleArn`).
    pub fn is_assume_role(&self) -> bool {
        let operation = match self {
            AwsError::Throttled { operation, .. }
            | AwsError::Transient { operation, .. }
            | AwsError::Service { operation, .. }
            | AwsError::Fenced { operation } => operation,
        };
        *operation == assume::ASSUME_ROLE
    }
}

pub type Result<T> = std::result::Result<T, AwsError>;

/// A network interface, as much as a person needs to find what it belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Interface {
    pub id: String,
    pub description: String,
    /// The service that made it for you (`amazon-elb`, `amazon-rds`, ...), when AWS says.
    pub requester: Option<String>,
}

impl std::fmt::Display for Interface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.id)?;
        let mut about = Vec::new();
        if !self.description.is_empty() {
            about.push(format!("{:?}", self.description));
        }
        if let Some(r) = &self.requester {
            about.push(format!("requester {r}"));
        }
        if !about.is_empty() {
            write!(f, " ({})", about.join(", "))?;
        }
        Ok(())
    }
}

/// The calls of one account and region. Futures are `Send` so the controller can run
/// reconciles on any worker thread.
pub trait AwsApi: Send + Sync {
    // --- reads ---
    /// Every group with both our owner and cluster tags: one call (a page at a time) per set.
    fn owned_groups(&self, ownership: &Ownership) -> impl Future<Output = Result<Vec<ObservedGroup>>> + Send;
    /// Every group with this cluster's tag, whichever set owns it: the shared view a resync
    /// reads instead of one call per set (`reconcile::shared`).
    /// Kept compact as each page arrives: at 1,000 sets this is 3,000 groups.
    fn cluster_groups(&self, cluster: &str) -> impl Future<Output = Result<Vec<CompactGroup>>> + Send;
    /// A group by id, whoever owns it; `None` when it does not exist.
    fn group_by_id(&self, id: &str) -> impl Future<Output = Result<Option<ObservedGroup>>> + Send;
    /// The groups of a VPC with one of `names`, whoever owns them (name collisions): one call.
    fn groups_named(
        &self,
        vpc_id: &str,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<ObservedGroup>>> + Send;
    /// Groups with a rule (ingress or egress) that names `group_id`, whoever owns them.
    fn groups_referencing(&self, group_id: &str) -> impl Future<Output = Result<Vec<ObservedGroup>>> + Send;
    /// Whether a VPC has an IPv6 block: AWS then gives new groups a second default egress rule.
    fn vpc_has_ipv6(&self, vpc_id: &str) -> impl Future<Output = Result<bool>> + Send;
    /// Network interfaces that use a group (what blocks its deletion).
    fn interfaces_using(&self, group_id: &str) -> impl Future<Output = Result<Vec<Interface>>> + Send;
    /// Parameter name → value, everything under `prefix`.
    fn parameters_under(&self, prefix: &str)
    -> impl Future<Output = Result<BTreeMap<String, String>>> + Send;
    /// A parameter's value; `None` when it does not exist.
    fn parameter(&self, name: &str) -> impl Future<Output = Result<Option<String>>> + Send;
    fn parameter_tags(&self, name: &str) -> impl Future<Output = Result<BTreeMap<String, String>>> + Send;

    /// What this process created for `owner` moments ago that `listed` lacks (AWS lists a new
    /// group or parameter only after a few seconds): no AWS call.
    fn unlisted_recent_creates(&self, owner: &str, listed: &[&str]) -> Vec<String> {
        let _ = (owner, listed);
        Vec::new()
    }

    // --- writes: one call each, one per plan action ---
    /// Creates a group with its tags in the same call; returns its id.
    fn create_group(
        &self,
        vpc_id: &str,
        name: &str,
        description: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<String>> + Send;
    fn authorize(
        &self,
        group_id: &str,
        direction: Direction,
        rules: &[Rule],
    ) -> impl Future<Output = Result<()>> + Send;
    fn revoke(
        &self,
        group_id: &str,
        direction: Direction,
        rules: &[Rule],
    ) -> impl Future<Output = Result<()>> + Send;
    fn update_descriptions(
        &self,
        group_id: &str,
        direction: Direction,
        rules: &[Rule],
    ) -> impl Future<Output = Result<()>> + Send;
    fn tag_group(
        &self,
        group_id: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<()>> + Send;
    fn untag_group(&self, group_id: &str, keys: &[String]) -> impl Future<Output = Result<()>> + Send;
    /// Deletes a group; one that is already gone counts as deleted.
    fn delete_group(&self, group_id: &str) -> impl Future<Output = Result<()>> + Send;
    /// Creates a parameter with its tags (fails with `ParameterAlreadyExists` if it exists).
    fn create_parameter(
        &self,
        name: &str,
        value: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<()>> + Send;
    fn overwrite_parameter(&self, name: &str, value: &str) -> impl Future<Output = Result<()>> + Send;
    fn tag_parameter(
        &self,
        name: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<()>> + Send;
    fn untag_parameter(&self, name: &str, keys: &[String]) -> impl Future<Output = Result<()>> + Send;
    /// Deletes a parameter; one that is already gone counts as deleted.
    fn delete_parameter(&self, name: &str) -> impl Future<Output = Result<()>> + Send;
}
