//! The controller: finalizer → validate → plan → observe → diff → execute → status.
//!
//! `model` and `diff` are pure; this module does the I/O around them and nothing clever.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{self, finalizer};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use tracing::{Instrument, info, info_span, warn};

use crate::api::{
    DeletionPolicy, FINALIZER, ManagementPolicy, SecurityGroupSet, SecurityGroupSetStatus, TierStatus,
};
use crate::aws::Aws;
use crate::diff::{self, GroupRef, Inputs, Observed};
use crate::metrics::Metrics;
use crate::model::{self, DesiredSet, Direction, Limits, OWNER_TAG};

pub mod error;
pub mod execute;
pub mod status;

pub use error::{Error, Retry, Severity};
use status::{Facts, Outcome, next_status};

/// The adoption annotation prefix: `sgprovisioner.io/adopt-{tier}: sg-...`.
pub const ADOPT_ANNOTATION: &str = "sgprovisioner.io/adopt-";

#[derive(Clone, Debug)]
pub struct Settings {
    /// Written to the `sgprovisioner.io/cluster` tag: several clusters may share an account.
    pub cluster_name: String,
    /// Drift is found by this periodic resync.
    pub resync: Duration,
    pub limits: Limits,
    /// Watched namespaces; empty: all.
    pub namespaces: Vec<String>,
    /// Identifies this process in Events.
    pub instance: String,
}

pub struct Context {
    pub client: Client,
    pub settings: Settings,
    pub metrics: Metrics,
    recorder: Recorder,
    base_config: aws_config::SdkConfig,
    regions: Mutex<HashMap<String, Aws>>,
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    pub fn new(
        client: Client,
        settings: Settings,
        metrics: Metrics,
        base_config: aws_config::SdkConfig,
    ) -> Self {
        let reporter = Reporter {
            controller: "sg-provisioner".into(),
            instance: Some(settings.instance.clone()),
        };
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            settings,
            metrics,
            base_config,
            regions: Mutex::default(),
            failures: Mutex::default(),
        }
    }

    /// The SDK clients for a set's region (the controller's when the set names none).
    pub fn aws(&self, region: Option<&str>) -> Aws {
        let key = region.unwrap_or_default().to_string();
        let mut regions = self.regions.lock().unwrap();
        regions
            .entry(key)
            .or_insert_with(|| {
                let mut config = self.base_config.to_builder();
                if let Some(r) = region {
                    config = config.region(aws_config::Region::new(r.to_string()));
                }
                Aws::new(&config.build(), self.metrics.clone())
            })
            .clone()
    }

    async fn event(
        &self,
        set: &SecurityGroupSet,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) {
        let mut note = note;
        note.truncate(1000);
        let event = Event {
            type_,
            reason: reason.into(),
            note: Some(note),
            action: action.into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &set.object_ref(&())).await {
            warn!(error = %e, "could not publish an Event");
        }
    }
}

/// Runs the controller until SIGTERM / SIGINT.
pub async fn run(ctx: Arc<Context>) {
    let client = ctx.client.clone();
    let namespaces = ctx.settings.namespaces.clone();
    let streams: Vec<_> = if namespaces.is_empty() {
        vec![controller(Api::<SecurityGroupSet>::all(client), ctx.clone())]
    } else {
        namespaces
            .iter()
            .map(|ns| controller(Api::namespaced(client.clone(), ns), ctx.clone()))
            .collect()
    };
    futures::future::join_all(streams).await;
}

async fn controller(api: Api<SecurityGroupSet>, ctx: Arc<Context>) {
    Controller::new(api, watcher::Config::default().any_semantic())
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                warn!(error = %e, "reconcile failed");
            }
        })
        .await;
}

fn key(set: &SecurityGroupSet) -> String {
    format!("{}/{}", set.namespace().unwrap_or_default(), set.name_any())
}

/// One reconcile of one set, with its outcome recorded (metrics, status, Event) in one place.
pub async fn reconcile(set: Arc<SecurityGroupSet>, ctx: Arc<Context>) -> Result<Action, Error> {
    let span = info_span!("reconcile", set = %key(&set));
    async move {
        let started = Instant::now();
        let api: Api<SecurityGroupSet> =
            Api::namespaced(ctx.client.clone(), &set.namespace().unwrap_or_default());
        let result = finalizer(&api, FINALIZER, set.clone(), |event| async {
            match event {
                finalizer::Event::Apply(s) => apply(&s, &ctx).await,
                finalizer::Event::Cleanup(s) => cleanup(&s, &ctx).await,
            }
        })
        .await
        .map_err(|e| match e {
            finalizer::Error::ApplyFailed(e) | finalizer::Error::CleanupFailed(e) => e,
            finalizer::Error::AddFinalizer(e) | finalizer::Error::RemoveFinalizer(e) => Error::Kube(e),
            other => Error::Kube(kube::Error::Service(other.to_string().into())),
        });
        ctx.metrics.reconciled(started.elapsed().as_secs_f64());
        match &result {
            Ok(_) => {
                ctx.failures.lock().unwrap().remove(&key(&set));
            }
            Err(err) => report_failure(&set, err, &ctx).await,
        }
        result
    }
    .instrument(span)
    .await
}

/// Requeue policy, from the error's classification.
pub fn error_policy(set: Arc<SecurityGroupSet>, err: &Error, ctx: Arc<Context>) -> Action {
    match err.classify().retry {
        Retry::Backoff => {
            let mut failures = ctx.failures.lock().unwrap();
            let n = failures.entry(key(&set)).or_insert(0);
            *n += 1;
            Action::requeue(error::backoff(*n - 1))
        }
        Retry::Slowly(after) => Action::requeue(after),
        Retry::UntilSpecChanges => Action::await_change(),
    }
}

async fn report_failure(set: &SecurityGroupSet, err: &Error, ctx: &Context) {
    let class = err.classify();
    ctx.metrics.reconcile_failed(class.reason);
    warn!(reason = class.reason, error = %err, "reconcile failed");
    let outcome = if set.meta().deletion_timestamp.is_some() && class.severity == Severity::Reconciling {
        Outcome::Deleting {
            reason: class.reason,
            message: err.to_string(),
        }
    } else {
        Outcome::Failed {
            reason: class.reason,
            severity: class.severity,
            message: err.to_string(),
        }
    };
    let facts = Facts {
        generation: set.meta().generation,
        vpc_id: None,
        tiers: None,
        now: now(),
    };
    if let Err(e) = write_status(set, ctx, next_status(set.status.as_ref(), facts, outcome)).await {
        warn!(error = %e, "could not write status");
    }
    let type_ = if class.severity == Severity::Stalled {
        EventType::Warning
    } else {
        EventType::Normal
    };
    ctx.event(set, type_, class.reason, "Reconcile", err.to_string())
        .await;
}

fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap_or_else(|_| jiff::Timestamp::now())
        .to_string()
}

/// Patches status only when it changed.
async fn write_status(
    set: &SecurityGroupSet,
    ctx: &Context,
    status: SecurityGroupSetStatus,
) -> Result<(), Error> {
    if set.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let api: Api<SecurityGroupSet> =
        Api::namespaced(ctx.client.clone(), &set.namespace().unwrap_or_default());
    api.patch_status(
        &set.name_any(),
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({ "status": status })),
    )
    .await?;
    Ok(())
}

/// The set's VPC: the literal id, or the SSM parameter's value. Once resolved it is kept in
/// status: the VPC is fixed for the set's life, so the resync does not read SSM for it again.
pub async fn resolve_vpc(set: &SecurityGroupSet, aws: &Aws) -> Result<String, Error> {
    if let Some(id) = &set.spec.vpc.id {
        return Ok(id.clone());
    }
    if let Some(id) = set.status.as_ref().and_then(|s| s.vpc_id.clone()) {
        return Ok(id);
    }
    let path = set.spec.vpc.parameter_path.clone().unwrap_or_default();
    aws.parameter(&path)
        .await?
        .ok_or(Error::VpcParameterMissing(path))
}

/// Other sets' group ids, from their status. Missing ones stay unresolved (the set waits).
async fn resolve_set_refs(
    desired: &DesiredSet,
    ctx: &Context,
) -> Result<BTreeMap<(String, String, String), String>, Error> {
    let mut ids = BTreeMap::new();
    for (namespace, name, tier) in desired.set_refs() {
        let api: Api<SecurityGroupSet> = Api::namespaced(ctx.client.clone(), &namespace);
        let Some(other) = api.get_opt(&name).await? else {
            continue;
        };
        let id = other
            .status
            .iter()
            .flat_map(|s| &s.tiers)
            .find(|t| t.name == tier)
            .and_then(|t| t.security_group_id.clone());
        if let Some(id) = id {
            ids.insert((namespace, name, tier), id);
        }
    }
    Ok(ids)
}

/// One DescribeSecurityGroups for the whole set (by owner tag) and its parameters.
pub async fn observe(aws: &Aws, desired: &DesiredSet) -> Result<Observed, Error> {
    let prefix = format!("/sg/{}/", desired.set_name);
    let (groups, parameters) = futures::try_join!(
        aws.owned_groups(&desired.ownership),
        aws.parameters_under(&prefix)
    )?;
    Ok(Observed { groups, parameters })
}

async fn apply(set: &SecurityGroupSet, ctx: &Context) -> Result<Action, Error> {
    let (name, namespace) = (set.name_any(), set.namespace().unwrap_or_default());
    let errors = model::validate(&name, &set.spec, &ctx.settings.limits);
    if !errors.is_empty() {
        return Err(Error::InvalidSpec(errors));
    }
    let aws = ctx.aws(set.spec.region.as_deref());
    let vpc_id = resolve_vpc(set, &aws).await?;
    let desired = model::plan(&name, &namespace, &set.spec, &ctx.settings.cluster_name);
    let inputs = Inputs {
        vpc_id: vpc_id.clone(),
        set_refs: resolve_set_refs(&desired, ctx).await?,
    };

    let mut observed = observe(&aws, &desired).await?;
    let mut plan = diff::diff(&desired, &observed, &inputs);
    let observe_only = set.spec.management_policy == ManagementPolicy::ObserveOnly;

    if !observe_only && execute::adopt(set, &aws, &desired, &plan, &vpc_id).await? {
        observed = observe(&aws, &desired).await?;
        plan = diff::diff(&desired, &observed, &inputs);
    }

    let spec_changed = set.status.as_ref().and_then(|s| s.observed_generation) != set.meta().generation;
    let (outcome, ids) = if observe_only {
        let shown = plan.actions.iter().map(ToString::to_string).collect();
        let ids = existing_ids(&plan.groups);
        (Outcome::Observed(shown), ids)
    } else {
        let ids = execute::run(&aws, &desired, &plan, &observed, &vpc_id, spec_changed).await?;
        if !plan.actions.is_empty() {
            let summary: Vec<String> = plan.actions.iter().map(ToString::to_string).collect();
            info!(changes = summary.len(), "applied: {}", summary.join("; "));
            if spec_changed {
                ctx.event(set, EventType::Normal, "Applied", "Apply", summary.join("\n"))
                    .await;
            } else {
                ctx.event(
                    set,
                    EventType::Warning,
                    "DriftCorrected",
                    "Resync",
                    summary.join("\n"),
                )
                .await;
            }
        }
        if plan.unresolved.is_empty() {
            (Outcome::Converged, ids)
        } else {
            (Outcome::Waiting(plan.unresolved.clone()), ids)
        }
    };

    let tiers = desired
        .groups
        .iter()
        .map(|g| TierStatus {
            name: g.tier.clone(),
            security_group_id: ids.get(&g.tier).cloned(),
            parameter_name: Some(g.parameter_name.clone()),
            ingress_rules: g.rules(Direction::Ingress).len() as i32,
            egress_rules: g.rules(Direction::Egress).len() as i32,
        })
        .collect();
    let waiting = matches!(outcome, Outcome::Waiting(_));
    let facts = Facts {
        generation: set.meta().generation,
        vpc_id: Some(vpc_id),
        tiers: Some(tiers),
        now: now(),
    };
    write_status(set, ctx, next_status(set.status.as_ref(), facts, outcome)).await?;
    Ok(Action::requeue(if waiting {
        Duration::from_secs(15)
    } else {
        ctx.settings.resync
    }))
}

pub fn existing_ids(groups: &BTreeMap<String, GroupRef>) -> BTreeMap<String, String> {
    groups
        .iter()
        .filter_map(|(tier, g)| match g {
            GroupRef::Existing(id) => Some((tier.clone(), id.clone())),
            GroupRef::Pending(_) => None,
        })
        .collect()
}

async fn cleanup(set: &SecurityGroupSet, ctx: &Context) -> Result<Action, Error> {
    if set.spec.deletion_policy == DeletionPolicy::Retain {
        ctx.event(
            set,
            EventType::Normal,
            "Retained",
            "Delete",
            "deletionPolicy Retain: AWS left as it is".into(),
        )
        .await;
        return Ok(Action::await_change());
    }
    let (name, namespace) = (set.name_any(), set.namespace().unwrap_or_default());
    let aws = ctx.aws(set.spec.region.as_deref());
    let desired = model::plan(&name, &namespace, &set.spec, &ctx.settings.cluster_name);
    let observed = observe(&aws, &desired).await?;
    let steps = diff::teardown(&observed);
    execute::teardown(&aws, &steps, &desired.ownership.owner).await?;
    if !steps.is_empty() {
        ctx.event(
            set,
            EventType::Normal,
            "Deleted",
            "Delete",
            format!("{} AWS change(s) made", steps.len()),
        )
        .await;
    }
    Ok(Action::await_change())
}

/// The owner tag of a parameter or group, for messages about what is not ours.
fn owner_of(tags: &BTreeMap<String, String>) -> String {
    tags.get(OWNER_TAG)
        .map_or_else(|| "no owner tag".into(), |o| format!("owner {o}"))
}
