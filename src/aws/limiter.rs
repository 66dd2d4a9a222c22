//! Client-side token buckets in front of any [`AwsApi`], shaped like EC2's own.
//!
//! EC2 throttles per account and region, one bucket per API action sized by its category
//! ("Request throttling for the Amazon EC2 API", "Request token bucket sizes and refill
//! rates"): non-mutating 100 tokens / 20 per second, mutating 50 / 5, resource-intensive
//! (AuthorizeSecurityGroupIngress, RevokeSecurityGroupIngress) 50 / 5, CreateTags and
//! DeleteTags 100 / 10. SSM publishes no table; 40 / 40 stands in. Waiting here, shared by
//! every set of a region, keeps the controller under those rates instead of meeting
//! `RequestLimitExceeded` and backing off set by set. The account's other users share AWS's
//! buckets, so `--aws-rate-limit` lowers any category or action.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Jitter, Quota};

use super::{AwsApi, Interface, Result};
use crate::diff::compact::CompactGroup;
use crate::diff::{ObservedGroup, Rule};
use crate::metrics::Metrics;
use crate::model::{Direction, Ownership};

/// A bucket: refill per second and capacity (burst).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: u32,
}

/// The throttling category of an action, as EC2's page sorts them.
fn category(operation: &str) -> &'static str {
    match operation {
        "AuthorizeSecurityGroupIngress" | "RevokeSecurityGroupIngress" => "resource_intensive",
        "CreateTags" | "DeleteTags" => "tags",
        op if op.starts_with("ssm:") => "ssm",
        op if op.starts_with("Describe") => "non_mutating",
        _ => "mutating",
    }
}

/// The buckets of one region: each action its own, sized by its category unless overridden.
#[derive(Clone, Debug)]
pub struct RateLimits {
    /// Category or action → rate; an action's entry wins over its category's.
    pub rates: BTreeMap<String, Rate>,
    pub enabled: bool,
}

/// The share of AWS's refill rate the defaults use: calls reach AWS with some jitter (a burst
/// of them queued on one connection arrives closer together than it was sent), and at the full
/// rate each early arrival is a throttled call and a retry. Measured at 1,000 sets: 1,058
/// throttled writes at 100 %, see README "Scale benchmark".
pub const DEFAULT_SHARE: f64 = 0.9;

impl Default for RateLimits {
    fn default() -> Self {
        let rate = |per_second: f64, burst| Rate {
            per_second: per_second * DEFAULT_SHARE,
            burst,
        };
        let rates = [
            ("non_mutating", rate(20.0, 100)),
            ("mutating", rate(5.0, 50)),
            ("resource_intensive", rate(5.0, 50)),
            ("tags", rate(10.0, 100)),
            ("ssm", rate(40.0, 40)),
        ];
        RateLimits {
            rates: rates.into_iter().map(|(k, r)| (k.to_string(), r)).collect(),
            enabled: true,
        }
    }
}

impl RateLimits {
    /// `KEY=PER_SECOND/BURST` (KEY a category or an action), or `none` to switch them off.
    pub fn with(mut self, setting: &str) -> std::result::Result<Self, String> {
        if setting == "none" {
            self.enabled = false;
            return Ok(self);
        }
        let bad = || format!("{setting}: expected KEY=PER_SECOND/BURST, e.g. mutating=2.5/25, or none");
        let (key, value) = setting.split_once('=').ok_or_else(bad)?;
        let (per_second, burst) = value.split_once('/').ok_or_else(bad)?;
        let per_second: f64 = per_second.parse().map_err(|_| bad())?;
        let burst: u32 = burst.parse().map_err(|_| bad())?;
        if !(per_second > 0.0 && per_second.is_finite()) || burst == 0 {
            return Err(bad());
        }
        self.rates.insert(key.to_string(), Rate { per_second, burst });
        Ok(self)
    }

    fn rate(&self, operation: &str) -> Rate {
        let bare = operation.trim_start_matches("ssm:");
        self.rates
            .get(bare)
            .or_else(|| self.rates.get(category(operation)))
            .copied()
            .unwrap_or(Rate {
                per_second: 5.0,
                burst: 50,
            })
    }
}

/// An [`AwsApi`] whose every call first takes a token of its action's bucket.
#[derive(Clone)]
pub struct Limited<A> {
    inner: A,
    pacer: Arc<Pacer>,
}

/// The token buckets of one region (and account), shared by every set: an action's own, or
/// for SSM one for all its actions, as AWS counts them.
pub struct Pacer {
    limits: RateLimits,
    by_operation: std::sync::Mutex<HashMap<&'static str, Arc<DefaultDirectRateLimiter>>>,
    metrics: Metrics,
}

impl Pacer {
    pub fn new(limits: RateLimits, metrics: Metrics) -> Self {
        Pacer {
            limits,
            by_operation: Default::default(),
            metrics,
        }
    }

    /// Waits for a token of `operation`'s bucket (no wait when limits are off).
    pub async fn take(&self, operation: &'static str) {
        if !self.limits.enabled {
            return;
        }
        let bucket = self.bucket(operation);
        if bucket.check().is_ok() {
            return;
        }
        let started = std::time::Instant::now();
        bucket
            .until_ready_with_jitter(Jitter::up_to(Duration::from_millis(50)))
            .await;
        let waited = started.elapsed().as_secs_f64();
        self.metrics.rate_limited(operation, waited);
    }

    fn bucket(&self, operation: &'static str) -> Arc<DefaultDirectRateLimiter> {
        // SSM throttles per account and region, not per action (EC2 per action).
        let key = if category(operation) == "ssm" {
            "ssm:"
        } else {
            operation
        };
        let mut map = self.by_operation.lock().unwrap();
        map.entry(key)
            .or_insert_with(|| Arc::new(limiter(self.limits.rate(operation))))
            .clone()
    }
}

impl<A: AwsApi> Limited<A> {
    pub fn new(inner: A, limits: RateLimits, metrics: Metrics) -> Self {
        Self::with_pacer(inner, Arc::new(Pacer::new(limits, metrics)))
    }

    /// Behind `pacer`'s buckets, which `inner` may also use for the later pages of a read.
    pub fn with_pacer(inner: A, pacer: Arc<Pacer>) -> Self {
        Limited { inner, pacer }
    }

    pub fn inner(&self) -> &A {
        &self.inner
    }

    /// The buckets, for another client of the same account and region.
    pub fn pacer(&self) -> Arc<Pacer> {
        self.pacer.clone()
    }

    /// `inner` behind these same buckets (another role of the same account and region).
    pub fn share<B: AwsApi>(&self, inner: B) -> Limited<B> {
        Limited::with_pacer(inner, self.pacer.clone())
    }

    async fn take(&self, operation: &'static str) {
        self.pacer.take(operation).await
    }
}

fn limiter(rate: Rate) -> DefaultDirectRateLimiter {
    let period = Duration::from_secs_f64(1.0 / rate.per_second);
    let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
    let quota = Quota::with_period(period)
        .expect("a positive period")
        .allow_burst(burst);
    DefaultDirectRateLimiter::direct(quota)
}

fn rule_operation(verb: &'static str, direction: Direction) -> &'static str {
    match (verb, direction) {
        ("authorize", Direction::Ingress) => "AuthorizeSecurityGroupIngress",
        ("authorize", Direction::Egress) => "AuthorizeSecurityGroupEgress",
        ("revoke", Direction::Ingress) => "RevokeSecurityGroupIngress",
        ("revoke", Direction::Egress) => "RevokeSecurityGroupEgress",
        (_, Direction::Ingress) => "UpdateSecurityGroupRuleDescriptionsIngress",
        (_, Direction::Egress) => "UpdateSecurityGroupRuleDescriptionsEgress",
    }
}

/// Each method takes its action's token, then calls through.
macro_rules! limited {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $out:ty = $op:expr;)*) => {
        $(
            async fn $name(&self, $($arg: $ty),*) -> Result<$out> {
                self.take($op).await;
                self.inner.$name($($arg),*).await
            }
        )*
    };
}

impl<A: AwsApi> AwsApi for Limited<A> {
    limited! {
        owned_groups(ownership: &Ownership) -> Vec<ObservedGroup> = "DescribeSecurityGroups";
        cluster_groups(cluster: &str) -> Vec<CompactGroup> = "DescribeSecurityGroups";
        group_by_id(id: &str) -> Option<ObservedGroup> = "DescribeSecurityGroups";
        groups_named(vpc_id: &str, names: &[String]) -> Vec<ObservedGroup> = "DescribeSecurityGroups";
        groups_referencing(group_id: &str) -> Vec<ObservedGroup> = "DescribeSecurityGroups";
        vpc_has_ipv6(vpc_id: &str) -> bool = "DescribeVpcs";
        interfaces_using(group_id: &str) -> Vec<Interface> = "DescribeNetworkInterfaces";
        parameters_under(prefix: &str) -> BTreeMap<String, String> = "ssm:GetParametersByPath";
        parameter(name: &str) -> Option<String> = "ssm:GetParameter";
        parameter_tags(name: &str) -> BTreeMap<String, String> = "ssm:ListTagsForResource";
        create_group(vpc_id: &str, name: &str, description: &str, tags: &BTreeMap<String, String>) -> String = "CreateSecurityGroup";
        authorize(group_id: &str, direction: Direction, rules: &[Rule]) -> () = rule_operation("authorize", direction);
        revoke(group_id: &str, direction: Direction, rules: &[Rule]) -> () = rule_operation("revoke", direction);
        update_descriptions(group_id: &str, direction: Direction, rules: &[Rule]) -> () = rule_operation("describe", direction);
        tag_group(group_id: &str, tags: &BTreeMap<String, String>) -> () = "CreateTags";
        untag_group(group_id: &str, keys: &[String]) -> () = "DeleteTags";
        delete_group(group_id: &str) -> () = "DeleteSecurityGroup";
        create_parameter(name: &str, value: &str, tags: &BTreeMap<String, String>) -> () = "ssm:PutParameter";
        overwrite_parameter(name: &str, value: &str) -> () = "ssm:PutParameter";
        tag_parameter(name: &str, tags: &BTreeMap<String, String>) -> () = "ssm:AddTagsToResource";
        untag_parameter(name: &str, keys: &[String]) -> () = "ssm:RemoveTagsFromResource";
        delete_parameter(name: &str) -> () = "ssm:DeleteParameter";
    }

    fn unlisted_recent_creates(&self, owner: &str, listed: &[&str]) -> Vec<String> {
        self.inner.unlisted_recent_creates(owner, listed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_take_their_categorys_rate_unless_overridden() {
        let limits = RateLimits::default();
        assert_eq!(limits.rate("DescribeSecurityGroups").per_second, 18.0);
        assert_eq!(limits.rate("AuthorizeSecurityGroupIngress").burst, 50);
        assert_eq!(limits.rate("CreateTags").per_second, 9.0);
        assert_eq!(limits.rate("ssm:PutParameter").burst, 40);
        let limits = limits
            .with("mutating=2.5/25")
            .unwrap()
            .with("CreateSecurityGroup=1/2")
            .unwrap();
        assert_eq!(
            limits.rate("DeleteSecurityGroup"),
            Rate {
                per_second: 2.5,
                burst: 25
            }
        );
        assert_eq!(
            limits.rate("CreateSecurityGroup"),
            Rate {
                per_second: 1.0,
                burst: 2
            }
        );
        assert!(!RateLimits::default().with("none").unwrap().enabled);
        for bad in ["mutating", "mutating=5", "mutating=0/5", "mutating=5/0", "x=a/b"] {
            assert!(RateLimits::default().with(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_shared_limiter_takes_from_the_same_buckets() {
        use crate::aws::fake::FakeAws;
        let limits = RateLimits::default().with("DescribeVpcs=0.001/1").unwrap();
        let first = Limited::new(FakeAws::default(), limits.clone(), Metrics::default());
        let second = first.share(FakeAws::default());
        let apart = Limited::new(FakeAws::default(), limits, Metrics::default());
        assert!(
            first.pacer.bucket("DescribeVpcs").check().is_ok(),
            "the one token"
        );
        assert!(
            second.pacer.bucket("DescribeVpcs").check().is_err(),
            "another role, same account"
        );
        assert!(
            apart.pacer.bucket("DescribeVpcs").check().is_ok(),
            "another account"
        );
    }

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let bucket = limiter(Rate {
            per_second: 5.0,
            burst: 3,
        });
        assert!((0..3).all(|_| bucket.check().is_ok()), "the burst");
        assert!(bucket.check().is_err(), "then empty");
    }
}
