//! A set's account: the controller's own credentials, or an IAM role the set names
//! (`spec.aws.roleArn`), assumed with STS.
//!
//! aws-config's `AssumeRoleProvider` calls STS AssumeRole signed with the base configuration's
//! credentials (the controller's own: IRSA, EKS Pod Identity, the environment), passing the
//! set's ExternalId. The SDK's lazy identity cache holds the answer: the first call that needs
//! credentials fetches them, later calls reuse them until some time between [`REFRESH_BEFORE`]
//! and half of it before they expire (the cache adds up to half its margin as jitter, so that
//! many roles do not refresh at once), when the next call fetches new ones (no background loop). The EC2 and SSM clients of one
//! (region, role) share one provider and so one cache: one AssumeRole an hour per (role,
//! ExternalId, region), not one per call.
//!
//! The provider is fenced like every other AWS call (`fence`): a replica that is no longer
//! surely the leader does not ask STS either. A refused AssumeRole (AccessDenied: the trust
//! policy, or the ExternalId) is reported as a failure of `sts:AssumeRole` with STS's code,
//! whatever EC2 or SSM call needed the credentials.

use std::sync::Arc;
use std::time::Duration;

use aws_config::identity::IdentityCache;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use futures::FutureExt;

use super::fence::{Fence, Fenced};
use crate::metrics::Metrics;
use crate::model::Role;

/// The operation named in errors and metrics.
pub const ASSUME_ROLE: &str = "sts:AssumeRole";

/// Credentials are fetched again at most this long (and at least half of it) before they
/// expire: AssumeRole's default session lasts an hour; this leaves room for a slow STS and
/// clock skew.
pub const REFRESH_BEFORE: Duration = Duration::from_secs(300);

/// AssumeRole's `RoleSessionName`: `sg-provisioner-{cluster}`, in STS's characters
/// (`[\w+=,.@-]`, others become `-`), at most 64. It names the controller in the role
/// account's CloudTrail (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`).
pub fn session_name(cluster: &str) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    format!("sg-provisioner-{cluster}")
        .chars()
        .map(|c| if allowed(c) { c } else { '-' })
        .take(64)
        .collect()
}

/// `base` (region and endpoint included), with the role's credentials in place of its own.
pub fn role_config(
    base: &aws_config::SdkConfig,
    role: &Role,
    session: &str,
    fence: Arc<Fence>,
    metrics: Metrics,
) -> aws_config::SdkConfig {
    let mut builder = AssumeRoleProvider::builder(role.arn.clone())
        .configure(base)
        .session_name(session);
    if let Some(id) = &role.external_id {
        builder = builder.external_id(id.clone());
    }
    // Given a configuration, the builder does no I/O (it awaits only to load one otherwise).
    let provider = builder
        .build()
        .now_or_never()
        .expect("a configured AssumeRoleProvider is built without waiting");
    let provider = FencedRole {
        provider,
        fence,
        metrics,
    };
    base.to_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .identity_cache(IdentityCache::lazy().buffer_time(REFRESH_BEFORE).build())
        .build()
}

/// AssumeRole only while the fence is open; each call counted as `sts` `AssumeRole`.
struct FencedRole {
    provider: AssumeRoleProvider,
    fence: Arc<Fence>,
    metrics: Metrics,
}

impl std::fmt::Debug for FencedRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FencedRole")
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

impl ProvideCredentials for FencedRole {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            if self.fence.check().is_err() {
                self.metrics.aws_request("sts", "AssumeRole", "fenced");
                return Err(CredentialsError::provider_error(Fenced));
            }
            let result = self.provider.provide_credentials().await;
            let outcome = if result.is_ok() { "ok" } else { "error" };
            self.metrics.aws_request("sts", "AssumeRole", outcome);
            result
        })
    }
}

/// The refused or failed AssumeRole behind an EC2 or SSM call's error, if that is what it is.
pub fn assume_role_failure<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a aws_sdk_sts::error::SdkError<AssumeRoleError>> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(sts) = e.downcast_ref::<aws_sdk_sts::error::SdkError<AssumeRoleError>>() {
            return Some(sts);
        }
        next = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_name_is_in_stss_characters() {
        assert_eq!(session_name("default"), "sg-provisioner-default");
        assert_eq!(session_name("prod eu/1"), "sg-provisioner-prod-eu-1");
        assert_eq!(session_name(&"x".repeat(100)).len(), 64);
        assert_eq!(session_name("café"), "sg-provisioner-caf-");
    }
}
