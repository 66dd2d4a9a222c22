//! Prometheus metrics: AWS requests by service, operation and outcome; reconciles, their
//! duration and their errors by reason.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AwsRequest {
    service: &'static str,
    operation: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Operation {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorReason {
    reason: String,
}

/// Cheap to clone; every clone records into the same registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    aws_requests: Family<AwsRequest, Counter>,
    reconciles: Counter,
    reconcile_errors: Family<ErrorReason, Counter>,
    reconcile_duration: Histogram,
    rate_limited: Family<Operation, Counter>,
    rate_limited_seconds: Family<Operation, Counter<f64, std::sync::atomic::AtomicU64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("sgprovisioner");
        let aws_requests = Family::<AwsRequest, Counter>::default();
        let reconciles = Counter::default();
        let reconcile_errors = Family::<ErrorReason, Counter>::default();
        let reconcile_duration = Histogram::new(exponential_buckets(0.01, 2.0, 12));
        registry.register(
            "aws_requests",
            "AWS API requests by service, operation and outcome",
            aws_requests.clone(),
        );
        registry.register("reconciles", "Reconciles run", reconciles.clone());
        registry.register(
            "reconcile_errors",
            "Reconciles that failed, by reason",
            reconcile_errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Reconcile duration",
            reconcile_duration.clone(),
        );
        let rate_limited = Family::<Operation, Counter>::default();
        let rate_limited_seconds = Family::<Operation, Counter<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "aws_rate_limited",
            "AWS calls that waited for the controller's own token bucket, by operation",
            rate_limited.clone(),
        );
        registry.register(
            "aws_rate_limited_seconds",
            "Time AWS calls waited for the controller's own token bucket, by operation",
            rate_limited_seconds.clone(),
        );
        Metrics {
            rate_limited,
            rate_limited_seconds,
            registry: Arc::new(registry),
            aws_requests,
            reconciles,
            reconcile_errors,
            reconcile_duration,
        }
    }
}

impl Metrics {
    pub fn aws_request(&self, service: &'static str, operation: &'static str, outcome: &'static str) {
        self.aws_requests
            .get_or_create(&AwsRequest {
                service,
                operation,
                outcome,
            })
            .inc();
    }

    pub fn reconciled(&self, seconds: f64) {
        self.reconciles.inc();
        self.reconcile_duration.observe(seconds);
    }

    /// A call waited `seconds` for a token of the client-side bucket of `operation`.
    pub fn rate_limited(&self, operation: &'static str, seconds: f64) {
        let label = Operation { operation };
        self.rate_limited.get_or_create(&label).inc();
        self.rate_limited_seconds.get_or_create(&label).inc_by(seconds);
    }

    pub fn reconcile_failed(&self, reason: &str) {
        self.reconcile_errors
            .get_or_create(&ErrorReason {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("metrics encode to a String");
        out
    }
}
