//! The controller: finalizer → validate → the stage driver (`driver`: resolve inputs, observe,
//! diff, pre-flight, execute) → status and Events.
//!
//! `model` and `diff` are pure; this module does the I/O around them and nothing clever.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{EventType, Reporter};
use kube::runtime::finalizer::{self, finalizer};
use kube::runtime::reflector::Store;
use kube::{Client, Resource, ResourceExt};
use tracing::{Instrument, info, info_span, warn};

use crate::api::{DeletionPolicy, FINALIZER, SecurityGroupSet, SecurityGroupSetStatus, TierStatus};
use crate::aws::fence::Fence;
use crate::aws::limiter::{Limited, Pacer, RateLimits};
use crate::aws::{Aws, assume};
use crate::diff::outputs::ObservedConfigMaps;
use crate::diff::{self, Adoption, GroupRef, Quota};
use crate::metrics::Metrics;
use crate::model::{self, AllowedRoles, Direction, Limits, Role, SetIdentity};
pub use events::truncate_utf8;
use events::{Events, Kind, Note};

pub mod codes;
pub mod driver;
pub mod error;
pub mod events;
pub mod execute;
pub mod outputs;
pub mod runner;
pub mod shared;
pub mod stalls;
pub mod status;
#[cfg(test)]
mod tests;

pub use driver::{Converged, Known, Mode, References, SetRefKey, Teardown};
pub use error::{Error, Health, Retry};
pub use runner::run;
use status::{Facts, Outcome, next_status};

#[derive(Clone, Debug)]
pub struct Settings {
    /// Written to the `sgprovisioner.io/cluster` tag: several clusters may share an account.
    pub cluster_name: String,
    /// Drift is found by this periodic resync.
    pub resync: Duration,
    pub limits: Limits,
    /// Watched namespaces; empty: all.
    pub namespaces: Vec<String>,
    /// Namespaces whose sets may adopt groups by annotation; `*`: every namespace.
    pub adoption_namespaces: Vec<String>,
    /// Identifies this process in Events.
    pub instance: String,
    /// At most this many sets reconcile at once (0: no limit).
    pub concurrency: u16,
    /// The client-side token buckets of each region and account, shared by every set there.
    pub rate_limits: RateLimits,
    /// The roles sets may name (`spec.aws.roleArn`); empty: none.
    pub allowed_roles: AllowedRoles,
}

impl Settings {
    /// Whether sets in `namespace` may adopt groups.
    pub fn adoption(&self, namespace: &str) -> Adoption {
        let allowed = &self.adoption_namespaces;
        if allowed.iter().any(|n| n == "*" || n == namespace) {
            Adoption::Allowed
        } else {
            Adoption::Forbidden(format!(
                "namespace {namespace} may not adopt groups (the controller's --adoption-namespaces allows: {})",
                if allowed.is_empty() {
                    "none".to_string()
                } else {
                    allowed.join(", ")
                }
            ))
        }
    }
}

/// A region's clients for one account (behind that account's token buckets) and its shared view.
#[derive(Clone)]
pub struct Region {
    pub aws: Limited<Aws>,
    pub view: Arc<shared::SharedView>,
}

pub struct Context {
    /// Requests with a bounded answer time.
    pub client: Client,
    /// Watches (long-lived, idle for minutes: no read timeout).
    pub watch_client: Client,
    pub settings: Settings,
    pub metrics: Metrics,
    events: Events,
    base_config: aws_config::SdkConfig,
    /// By region (empty: the controller's) and role (none: the controller's own credentials).
    regions: Mutex<HashMap<(String, Option<Role>), Region>>,
    failures: Mutex<HashMap<String, u32>>,
    /// Actions that failed permanently, per set: not sent again for the same generation.
    stalls: stalls::Stalls,
    /// Every watched set, as the watches see it (filled by [`run`]).
    sets: OnceLock<Vec<Store<runner::Guarded>>>,
    /// Closed when leadership lapses: no AWS call, status write or Event after that.
    pub fence: Arc<Fence>,
}

impl Context {
    pub fn new(
        client: Client,
        settings: Settings,
        metrics: Metrics,
        base_config: aws_config::SdkConfig,
        fence: Arc<Fence>,
    ) -> Self {
        let reporter = Reporter {
            controller: "sg-provisioner".into(),
            instance: Some(settings.instance.clone()),
        };
        Context {
            events: Events::new(client.clone(), reporter),
            watch_client: client.clone(),
            client,
            settings,
            metrics,
            base_config,
            regions: Mutex::default(),
            failures: Mutex::default(),
            stalls: stalls::Stalls::default(),
            sets: OnceLock::new(),
            fence,
        }
    }

    /// Watches go through `client` unless given their own.
    pub fn with_watch_client(mut self, client: Client) -> Self {
        self.watch_client = client;
        self
    }

    /// The SDK clients of a set (its region and role), behind its account's token buckets.
    pub fn aws(&self, set: &SetIdentity) -> Limited<Aws> {
        self.region(set).aws
    }

    /// A set's region (the controller's when the set names none) in the set's account: the
    /// role's when it names one (credentials from STS), else the controller's own. Made on
    /// first use and kept: one credentials cache, shared view and set of buckets each.
    pub fn region(&self, set: &SetIdentity) -> Region {
        let key = (set.region.clone().unwrap_or_default(), set.role.clone());
        let mut regions = self.regions.lock().unwrap();
        if let Some(region) = regions.get(&key) {
            return region.clone();
        }
        let mut config = self.base_config.to_builder();
        if let Some(r) = &set.region {
            config = config.region(aws_config::Region::new(r.clone()));
        }
        let mut config = config.build();
        if let Some(role) = &set.role {
            let session = assume::session_name(&self.settings.cluster_name);
            config = assume::role_config(&config, role, &session, self.fence.clone(), self.metrics.clone());
        }
        let aws = Aws::fenced(&config, self.metrics.clone(), self.fence.clone());
        // AWS throttles per account and region: two roles of one account share its buckets.
        let account = set.role.as_ref().and_then(Role::account);
        let same_account = regions.iter().find(|((r, other), _)| {
            *r == key.0 && account.is_some() && other.as_ref().and_then(Role::account) == account
        });
        let pacer = match same_account {
            Some((_, region)) => region.aws.pacer(),
            None => Arc::new(Pacer::new(
                self.settings.rate_limits.clone(),
                self.metrics.clone(),
            )),
        };
        let aws = Limited::with_pacer(aws.paced(pacer.clone()), pacer);
        let region = Region {
            aws,
            // A resync reads a view at most one period old: drift is found within two.
            view: Arc::new(shared::SharedView::new(self.settings.resync)),
        };
        regions.insert(key, region.clone());
        region
    }

    /// An Event about a set (see [`events`] for the two kinds).
    async fn event(&self, set: &SecurityGroupSet, kind: Kind, note: Note<'_>) {
        self.events.publish(&set.object_ref(&()), kind, note).await;
    }
}

fn key(set: &SecurityGroupSet) -> String {
    format!("{}/{}", set.namespace().unwrap_or_default(), set.name_any())
}

/// One reconcile of one set, with its outcome recorded (metrics, status, Event) in one place.
pub async fn reconcile(set: Arc<SecurityGroupSet>, ctx: Arc<Context>) -> Result<Action, Error> {
    let span = info_span!("reconcile", set = %key(&set));
    async move {
        if ctx.fence.check().is_err() {
            // Leadership lapsed; the process is stopping and the new leader has the set.
            return Ok(Action::await_change());
        }
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
            // A stale leader writes no status: the new leader's would be overwritten.
            Err(_) if ctx.fence.check().is_err() => {}
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
        // Never slower than the resync: a slow retry is a resync that holds the failed writes.
        Retry::Slowly(after) => Action::requeue(runner::jittered(after.min(ctx.settings.resync))),
        // The failed writes are held (`stalls`): a resync still repairs drift elsewhere.
        Retry::UntilSpecChanges => Action::requeue(runner::jittered(ctx.settings.resync)),
    }
}

async fn report_failure(set: &SecurityGroupSet, err: &Error, ctx: &Context) {
    let class = err.classify();
    ctx.metrics.reconcile_failed(class.reason);
    warn!(reason = class.reason, error = %err, "reconcile failed");
    // The spec field first, when the error is about one: that is what the user must change.
    let message = match err.field_path(&set.spec) {
        Some(field) => format!("{field}: {err}"),
        None => err.to_string(),
    };
    let outcome = if set.meta().deletion_timestamp.is_some() && class.health == Health::Reconciling {
        Outcome::Deleting {
            reason: class.reason,
            message: message.clone(),
        }
    } else {
        Outcome::Failed {
            reason: class.reason,
            health: class.health,
            message: message.clone(),
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
    let type_ = if class.health == Health::Stalled {
        EventType::Warning
    } else {
        EventType::Normal
    };
    let note = Note {
        type_,
        reason: class.reason,
        action: "Reconcile",
        text: message,
    };
    ctx.event(set, Kind::Report, note).await;
}

fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap_or_else(|_| jiff::Timestamp::now())
        .to_string()
}

/// The field manager of everything the controller writes to a set.
const FIELD_MANAGER: &str = "sg-provisioner";

/// Writes status only when it changed, by server-side apply of the whole status: a field the
/// new status lacks (a stale plan, a removed tier) is removed, not kept as a merge would.
async fn write_status(
    set: &SecurityGroupSet,
    ctx: &Context,
    status: SecurityGroupSetStatus,
) -> Result<(), Error> {
    if set.status.as_ref() == Some(&status) || ctx.fence.check().is_err() {
        return Ok(());
    }
    let api: Api<SecurityGroupSet> =
        Api::namespaced(ctx.client.clone(), &set.namespace().unwrap_or_default());
    let body = serde_json::json!({
        "apiVersion": SecurityGroupSet::api_version(&()),
        "kind": SecurityGroupSet::kind(&()),
        "status": status,
    });
    api.patch_status(
        &set.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(body),
    )
    .await?;
    Ok(())
}

async fn apply(set: &SecurityGroupSet, ctx: &Context) -> Result<Action, Error> {
    let validated = model::validate(set, &ctx.settings.limits).map_err(Error::InvalidSpec)?;
    // Before any AWS call, STS's included: a role the admin did not allow is never assumed.
    if let Some(refusal) = role_refusal(&validated.identity, ctx) {
        return Err(Error::RoleNotAllowed(refusal));
    }
    let mut known = known(set, ctx, &validated);
    // A resync of a set that is Ready at this generation: nothing changed since it last
    // converged. It starts from the shared view and, naming no ConfigMap, reads none.
    let resync = !known.spec_changed && known.held.is_empty() && is_ready(set);
    // The ConfigMap output's pre-flight: one that is not the set's refuses the whole plan.
    let config_map = validated.config_map.as_deref();
    let seen = if resync && config_map.is_none() {
        ObservedConfigMaps::default()
    } else {
        // Fresh at a spec change: the one that removes an output must find what it published.
        outputs::observe(&ctx.client, set, config_map, known.spec_changed).await?
    };
    if let Some(refused) = config_map.and_then(|n| diff::outputs::refusal(n, &seen, &outputs::set_uid(set))) {
        return Err(Error::Refused(vec![refused]));
    }
    let region = ctx.region(&validated.identity);
    let aws = region.aws.clone();
    let status = set.status.as_ref();
    if resync {
        known.view = Some(region.view.get(&aws, &ctx.settings.cluster_name).await?);
    }
    let refs = runner::ClusterReferences {
        client: &ctx.client,
        stores: ctx.sets.get().map(Vec::as_slice).unwrap_or_default(),
        watched: &ctx.settings.namespaces,
    };
    let cluster = &ctx.settings.cluster_name;
    let done = driver::converge(&aws, &refs, &validated, cluster, &known, Mode::Execute).await;
    let generation = set.meta().generation;
    ctx.stalls
        .record(&key(set), generation, done.as_ref().map(|_| ()));
    let done = done?;
    let mut summary: Vec<String> = done.plan.actions.iter().map(ToString::to_string).collect();
    // After the plan: the groups exist. A failed write is reported after what AWS was given.
    let published = outputs::sync(&ctx.client, set, config_map, &done, &seen).await;
    summary.extend(published.as_ref().into_iter().flatten().cloned());
    let outcome = if !done.executed {
        published?;
        Outcome::Observed(summary)
    } else {
        report_applied(set, ctx, &summary, known.spec_changed).await;
        published?;
        if done.plan.unresolved.is_empty() {
            Outcome::Converged
        } else {
            Outcome::Waiting(done.plan.unresolved.clone())
        }
    };
    let waiting = matches!(outcome, Outcome::Waiting(_));
    let facts = Facts {
        generation,
        vpc_id: Some(done.vpc_id.clone()),
        tiers: Some(tier_status(&done)),
        now: now(),
    };
    write_status(set, ctx, next_status(status, facts, outcome)).await?;
    Ok(Action::requeue(if waiting {
        Duration::from_secs(15)
    } else {
        runner::jittered(ctx.settings.resync)
    }))
}

/// What the driver is told from before: status, the controller's settings, held writes.
fn known(set: &SecurityGroupSet, ctx: &Context, validated: &model::ValidatedSet) -> Known {
    let status = set.status.as_ref();
    Known {
        vpc_id: status.and_then(|s| s.vpc_id.clone()),
        spec_changed: status.and_then(|s| s.observed_generation) != set.meta().generation,
        adoption: ctx.settings.adoption(&validated.identity.namespace),
        quota: Quota::from(&ctx.settings.limits),
        held: ctx
            .stalls
            .held(&key(set), set.meta().generation, ctx.settings.resync),
        view: None,
    }
}

fn is_ready(set: &SecurityGroupSet) -> bool {
    set.status
        .iter()
        .flat_map(|s| &s.conditions)
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// The Event for what a reconcile wrote: `Applied` after a spec change, else `DriftCorrected`.
async fn report_applied(set: &SecurityGroupSet, ctx: &Context, summary: &[String], spec_changed: bool) {
    if summary.is_empty() {
        return;
    }
    info!(changes = summary.len(), "applied: {}", summary.join("; "));
    let (type_, reason, action) = if spec_changed {
        (EventType::Normal, "Applied", "Apply")
    } else {
        (EventType::Warning, "DriftCorrected", "Resync")
    };
    let note = Note {
        type_,
        reason,
        action,
        text: summary.join("\n"),
    };
    ctx.event(set, Kind::Record, note).await;
}

fn tier_status(done: &Converged) -> Vec<TierStatus> {
    done.desired
        .groups
        .iter()
        .map(|g| TierStatus {
            name: g.tier.clone(),
            security_group_id: done.ids.get(&g.tier).cloned(),
            parameter_name: Some(g.parameter_name.clone()),
            ingress_rules: g.rules(Direction::Ingress).len() as i32,
            egress_rules: g.rules(Direction::Egress).len() as i32,
        })
        .collect()
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
    // Said before any AWS call: a set being deleted is not Ready, however long teardown takes.
    // Once status says so (Deleting, or what blocks it), a retry does not rewrite it: each
    // status write is a watch event, and a new reconcile.
    let ready = set
        .status
        .iter()
        .flat_map(|s| &s.conditions)
        .find(|c| c.type_ == "Ready");
    if ready.is_none_or(|c| c.status != "False") {
        write_deleting(set, ctx).await?;
    }
    let identity = SetIdentity::of(set);
    let makes_calls = identity.deletion_policy == DeletionPolicy::Delete && !identity.observe_only();
    if let Some(refusal) = role_refusal(&identity, ctx).filter(|_| makes_calls) {
        return cleanup_without_role(set, ctx, refusal).await;
    }
    let aws = ctx.aws(&identity);
    let (reason, mut lines) =
        match driver::teardown(&aws, &identity, &ctx.settings.cluster_name, Mode::Execute).await? {
            Teardown::Retained => (
                "Retained",
                vec!["deletionPolicy Retain: AWS left as it is".to_string()],
            ),
            Teardown::ObserveOnly => (
                "Retained",
                vec!["managementPolicy ObserveOnly: AWS left as it is".to_string()],
            ),
            Teardown::Planned { plan, .. } => {
                ("Deleted", plan.actions.iter().map(ToString::to_string).collect())
            }
        };
    // Last, whatever the policies (the set owns it: a garbage collector would delete it too),
    // so that while the groups are there, so are their ids.
    lines.extend(outputs::remove_all(&ctx.client, set).await?);
    if !lines.is_empty() {
        let note = Note {
            type_: EventType::Normal,
            reason,
            action: "Delete",
            text: lines.join("\n"),
        };
        ctx.event(set, Kind::Record, note).await;
    }
    Ok(Action::await_change())
}

/// Why the set's role may not be used, when it names one the controller does not allow.
fn role_refusal(identity: &SetIdentity, ctx: &Context) -> Option<String> {
    let role = identity.role.as_ref()?;
    ctx.settings.allowed_roles.refusal(role)
}

/// Deletion of a set whose role is not allowed: no AWS call is made. A set that never got
/// past the allow-list (no VPC or group id in its status) has nothing in AWS: its finalizer
/// goes. Otherwise its groups are in the role's account: deletion waits, `Stalled`, until the
/// role is allowed again (or the finalizer is removed by hand, leaving them).
async fn cleanup_without_role(
    set: &SecurityGroupSet,
    ctx: &Context,
    refusal: String,
) -> Result<Action, Error> {
    let status = set.status.as_ref();
    let wrote =
        status.is_some_and(|s| s.vpc_id.is_some() || s.tiers.iter().any(|t| t.security_group_id.is_some()));
    if wrote {
        return Err(Error::RoleNotAllowed(format!(
            "{refusal}; the set's groups are in that account, so its deletion waits for the role"
        )));
    }
    let note = format!("{refusal}; nothing was made in AWS for this set (no AWS call)");
    let note = Note {
        type_: EventType::Normal,
        reason: "Deleted",
        action: "Delete",
        text: note,
    };
    ctx.event(set, Kind::Record, note).await;
    Ok(Action::await_change())
}

async fn write_deleting(set: &SecurityGroupSet, ctx: &Context) -> Result<(), Error> {
    let deleting = Outcome::Deleting {
        reason: "Deleting",
        message: "deleting: its groups and parameters go first, then the finalizer".into(),
    };
    let facts = Facts {
        generation: set.meta().generation,
        vpc_id: None,
        tiers: None,
        now: now(),
    };
    write_status(set, ctx, next_status(set.status.as_ref(), facts, deleting)).await
}
