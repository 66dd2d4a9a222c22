//! Reconcile errors and the one place that maps each to a condition, an Event and a retry policy.

use std::time::Duration;

use super::codes;
pub use super::codes::{Classified, Health, Retry};
use crate::api::SecurityGroupSetSpec;
use crate::aws::AwsError;
use crate::diff::Refusal;
use crate::model::{Direction, FieldError};

#[derive(thiserror::Error, Debug)]
pub enum Error {
    #[error("invalid spec: {}", join(.0))]
    InvalidSpec(Vec<FieldError>),
    #[error("{0}")]
    Aws(#[from] AwsError),
    /// An AWS call of the plan failed: the action and what it was for are kept, to name the
    /// spec field.
    #[error("{error} (while: {action})")]
    Failed {
        tier: String,
        direction: Option<Direction>,
        action: String,
        error: AwsError,
    },
    #[error("Kubernetes API: {0}")]
    Kube(#[source] kube::Error),
    #[error("VPC parameter {0} not found in SSM")]
    VpcParameterMissing(String),
    #[error("VPC {0} does not exist")]
    VpcMissing(String),
    #[error(
        "spec.vpc.id: the set's groups are in {was}, not {now}: the VPC is immutable; {}",
        crate::limits::IMMUTABLE_HOWTO
    )]
    VpcChanged { was: String, now: String },
    /// The pre-flight refused the plan: nothing was written.
    #[error("{}", join(.0))]
    Refused(Vec<Refusal>),
    /// A write found AWS ahead of the observation the plan was made from.
    #[error("AWS changed since it was read: {0}")]
    ObservedTooEarly(String),
    /// AWS answered that one of the set's own groups does not exist, or a group name is taken
    /// by a group no describe shows yet: EC2 is eventually consistent for a few seconds after
    /// a create (https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html).
    #[error("not visible yet (EC2 is eventually consistent): {0}")]
    NotYetVisible(String),
    #[error("deletion blocked: {}", .0.join("; "))]
    DeletionBlocked(Vec<String>),
    /// `spec.aws.roleArn` is not in the controller's `--allowed-role-arns`: refused before
    /// any AWS call (no STS call either).
    #[error("{0}")]
    RoleNotAllowed(String),
    /// Several actions failed, or one did and others depended on it; the rest were applied.
    #[error("{}", incomplete(failed, skipped, applied))]
    Incomplete {
        failed: Vec<(String, Error)>,
        skipped: Vec<String>,
        /// What the same reconcile did carry out.
        applied: Vec<String>,
    },
}

fn incomplete(failed: &[(String, Error)], skipped: &[String], applied: &[String]) -> String {
    let failed: Vec<String> = failed.iter().map(|(a, e)| format!("{a}: {e}")).collect();
    let mut text = format!("failed: {}", failed.join("; "));
    if !skipped.is_empty() {
        text.push_str(&format!("; not tried, they depend on it: {}", skipped.join("; ")));
    }
    if !applied.is_empty() {
        text.push_str(&format!("; applied: {}", applied.join("; ")));
    }
    text
}

fn join<T: ToString>(errors: &[T]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// The spec field the error is about, when one is (`spec.tiers[0].ingress[1].from[0].cidr`).
    pub fn field_path(&self, spec: &SecurityGroupSetSpec) -> Option<String> {
        if self.aws_error().is_some_and(AwsError::is_assume_role) {
            return Some("spec.aws.roleArn".into());
        }
        match self {
            Error::Failed {
                tier,
                direction,
                error: AwsError::Service { code, message, .. },
                ..
            } => codes::field_path(spec, tier, *direction, code, message),
            Error::Incomplete { failed, .. } => failed[0].1.field_path(spec),
            Error::VpcChanged { .. } => Some("spec.vpc.id".into()),
            Error::Refused(refusals) => match refusals.first() {
                Some(Refusal::ForeignConfigMap { .. }) => Some("spec.outputs.configMap.name".into()),
                _ => None,
            },
            Error::RoleNotAllowed(_) => Some("spec.aws.roleArn".into()),
            _ => None,
        }
    }

    /// The AWS error this is (the first failure's, for several).
    fn aws_error(&self) -> Option<&AwsError> {
        match self {
            Error::Aws(e) | Error::Failed { error: e, .. } => Some(e),
            Error::Incomplete { failed, .. } => failed[0].1.aws_error(),
            _ => None,
        }
    }
}

impl From<kube::Error> for Error {
    fn from(e: kube::Error) -> Self {
        Error::Kube(e)
    }
}

impl Error {
    pub fn classify(&self) -> Classified {
        let c = |reason, health, retry| Classified {
            reason,
            health,
            retry,
        };
        let slowly = Retry::Slowly(Duration::from_secs(60));
        match self {
            Error::InvalidSpec(_) => c("InvalidSpec", Health::Stalled, Retry::UntilSpecChanges),
            Error::Aws(AwsError::Throttled { .. }) => c("AwsThrottled", Health::Reconciling, Retry::Backoff),
            Error::Aws(AwsError::Transient { .. }) => {
                c("AwsUnavailable", Health::Reconciling, Retry::Backoff)
            }
            // STS refused the set's role (trust policy, ExternalId): fixed outside the
            // controller, or in spec.aws.
            Error::Aws(e @ AwsError::Service { .. }) if e.is_assume_role() => {
                c("AssumeRoleFailed", Health::Stalled, slowly)
            }
            Error::Aws(AwsError::Service { code, .. }) => codes::classify(code),
            // The process stops: the new leader takes the set over.
            Error::Aws(AwsError::Fenced { .. }) => c("NotLeader", Health::Reconciling, Retry::Backoff),
            Error::Failed { error, .. } => Error::Aws(error.clone()).classify(),
            Error::Kube(kube::Error::Api(s)) if s.code == 403 => c("Forbidden", Health::Stalled, slowly),
            Error::Kube(_) => c("KubernetesError", Health::Reconciling, Retry::Backoff),
            Error::VpcParameterMissing(_) => c("VpcParameterNotFound", Health::Stalled, slowly),
            Error::VpcMissing(_) => c("VpcNotFound", Health::Stalled, slowly),
            Error::VpcChanged { .. } => c("InvalidSpec", Health::Stalled, Retry::UntilSpecChanges),
            Error::Refused(refusals) => match refusals.first() {
                Some(Refusal::AdoptionRefused { .. }) => c("AdoptionRefused", Health::Stalled, slowly),
                Some(Refusal::ForeignGroup { .. }) => c("GroupNotOwned", Health::Stalled, slowly),
                Some(Refusal::ForeignConfigMap { .. }) => c("ConfigMapNotOwned", Health::Stalled, slowly),
                _ => c("ParameterNotOwned", Health::Stalled, slowly),
            },
            Error::ObservedTooEarly(_) => c("AwsChanged", Health::Reconciling, Retry::Backoff),
            // Seconds, not a growing backoff: AWS catches up by itself, and soon.
            Error::NotYetVisible(_) => c(
                "AwsEventuallyConsistent",
                Health::Reconciling,
                Retry::Slowly(Duration::from_secs(2)),
            ),
            Error::DeletionBlocked(_) => c("DeletionBlocked", Health::Reconciling, Retry::Backoff),
            // Each retry is checked again without an AWS call; the list changes with a restart.
            Error::RoleNotAllowed(_) => c("RoleNotAllowed", Health::Stalled, Retry::UntilSpecChanges),
            // The first failure decides, as if it had been alone.
            Error::Incomplete { failed, .. } => failed[0].1.classify(),
        }
    }
}

/// Backoff with jitter for the `n`th consecutive failure (0-based): 1 s doubling to 5 min.
pub fn backoff(failures: u32) -> Duration {
    use backon::BackoffBuilder;
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(1))
        .with_max_delay(Duration::from_secs(300))
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build()
        .nth(failures.min(16) as usize)
        .unwrap_or(Duration::from_secs(300))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_table() {
        let throttled = Error::Aws(AwsError::Throttled {
            operation: "X",
            code: "RequestLimitExceeded".into(),
        });
        assert_eq!(throttled.classify().retry, Retry::Backoff);
        assert_eq!(throttled.classify().health, Health::Reconciling);
        let invalid = Error::InvalidSpec(vec![]);
        assert_eq!(invalid.classify().retry, Retry::UntilSpecChanges);
        assert_eq!(invalid.classify().reason, "InvalidSpec");
        let vpc = Error::VpcParameterMissing("/vpc/x".into());
        assert!(matches!(vpc.classify().retry, Retry::Slowly(_)));
        let denied = Error::Aws(AwsError::Service {
            operation: "X",
            code: "UnauthorizedOperation".into(),
            message: String::new(),
        });
        assert_eq!(denied.classify().health, Health::Stalled);
    }

    #[test]
    fn role_errors_stall_naming_the_role_field() {
        let spec: SecurityGroupSetSpec = serde_json::from_value(serde_json::json!({
            "vpc": {"id": "vpc-00000001"}, "tiers": [{"name": "web"}],
            "aws": {"roleArn": "arn:aws:iam::123456789012:role/x"},
        }))
        .unwrap();
        let not_allowed = Error::RoleNotAllowed("role x is not allowed".into());
        let class = not_allowed.classify();
        assert_eq!((class.reason, class.health), ("RoleNotAllowed", Health::Stalled));
        assert_eq!(class.retry, Retry::UntilSpecChanges);
        assert_eq!(not_allowed.field_path(&spec).as_deref(), Some("spec.aws.roleArn"));

        let denied = AwsError::Service {
            operation: crate::aws::assume::ASSUME_ROLE,
            code: "AccessDenied".into(),
            message: "not authorized to perform: sts:AssumeRole".into(),
        };
        for err in [
            Error::Aws(denied.clone()),
            Error::Failed {
                tier: "web".into(),
                direction: None,
                action: "+ group web".into(),
                error: denied.clone(),
            },
        ] {
            let class = err.classify();
            assert_eq!(
                (class.reason, class.health),
                ("AssumeRoleFailed", Health::Stalled),
                "{err}"
            );
            assert_eq!(err.field_path(&spec).as_deref(), Some("spec.aws.roleArn"));
        }
        // STS throttled or unreachable: retried like any AWS call, still about the role.
        let throttled = Error::Aws(AwsError::Throttled {
            operation: crate::aws::assume::ASSUME_ROLE,
            code: "Throttling".into(),
        });
        assert_eq!(throttled.classify().retry, Retry::Backoff);
        assert_eq!(throttled.field_path(&spec).as_deref(), Some("spec.aws.roleArn"));
        // EC2's own AccessDenied is not the role's.
        let ec2 = Error::Aws(AwsError::Service {
            operation: "CreateSecurityGroup",
            code: "UnauthorizedOperation".into(),
            message: String::new(),
        });
        assert_eq!(ec2.classify().reason, "AwsAccessDenied");
        assert_eq!(ec2.field_path(&spec), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(0) <= Duration::from_secs(3));
        assert!(backoff(5) >= Duration::from_secs(30));
        assert!(backoff(40) <= Duration::from_secs(600));
    }
}
