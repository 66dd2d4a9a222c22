//! The watch side of the controller: one watch per scope (all namespaces, or each watched one)
//! feeding a reflector store and the kube-runtime `Controller`.
//!
//! - Objects are read through `DeserializeGuard`: one set the controller cannot decode (stored
//!   before a schema change, say) is reported and skipped; it does not end the watch for all.
//! - Only changes to what the controller acts on start a reconcile: the generation (spec and
//!   deletion), annotations (adoption), labels and finalizers. The controller's own status
//!   writes do not, so a status write never defeats a backoff or a resync period.
//! - Other sets' group ids (`setRef`) are read from the same stores, not fetched per reconcile.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::Api;
use kube::core::DeserializeGuard;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::utils::{Predicate, WatchStreamExt, predicates};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use tracing::warn;

use super::events::{Kind, Note};
use super::{Context, Error, References, SetRefKey};
use crate::api::SecurityGroupSet;

/// A set as the watch delivers it: decoded, or the metadata of one that could not be.
pub type Guarded = DeserializeGuard<SecurityGroupSet>;

/// Runs the controller until `shutdown` resolves (SIGTERM / SIGINT), letting the reconciles
/// in flight finish.
pub async fn run<S>(ctx: Arc<Context>, shutdown: S)
where
    S: std::future::Future<Output = ()> + Clone + Send + Sync + 'static,
{
    let client = ctx.watch_client.clone();
    let apis: Vec<Api<Guarded>> = if ctx.settings.namespaces.is_empty() {
        vec![Api::all(client)]
    } else {
        let namespaces = ctx.settings.namespaces.iter();
        namespaces.map(|ns| Api::namespaced(client.clone(), ns)).collect()
    };
    let scopes: Vec<_> = apis.into_iter().map(|api| (api, reflector::store())).collect();
    let stores = scopes.iter().map(|(_, (reader, _))| reader.clone()).collect();
    if ctx.sets.set(stores).is_err() {
        warn!("the controller was started twice in one process; the second run shares the stores");
    }
    let controllers = scopes
        .into_iter()
        .map(|(api, (reader, writer))| controller(api, reader, writer, ctx.clone(), shutdown.clone()));
    let all = futures::future::join_all(controllers);
    tokio::pin!(all);
    tokio::select! {
        _ = &mut all => return,
        () = shutdown => {}
    }
    // kube-runtime's graceful shutdown waits for the reconciles in flight, but never ends when
    // the signal came before its first list finished: bound it (well within the pod's 30 s).
    if tokio::time::timeout(SHUTDOWN_GRACE, all).await.is_err() {
        warn!(grace = ?SHUTDOWN_GRACE, "reconciles still running at shutdown were cancelled");
    }
}

/// How long the reconciles in flight may finish after SIGTERM (each is safe to cut: the next
/// leader finds its groups by tag).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

async fn controller(
    api: Api<Guarded>,
    reader: Store<Guarded>,
    writer: reflector::store::Writer<Guarded>,
    ctx: Arc<Context>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let acted_on = predicates::generation
        .combine(predicates::annotations)
        .combine(predicates::labels)
        .combine(predicates::finalizers);
    let triggers = watcher(api, watcher::Config::default().any_semantic())
        .default_backoff()
        // managedFields are often the bulk of an object and nothing here reads them.
        .modify(|set| set.meta_mut().managed_fields = None)
        .reflect(writer)
        .applied_objects()
        .predicate_filter(acted_on, Default::default());
    let config = controller::Config::default().concurrency(ctx.settings.concurrency);
    Controller::for_stream(triggers, reader)
        .with_config(config)
        .graceful_shutdown_on(shutdown)
        .run(reconcile_guarded, error_policy_guarded, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                warn!(error = %e, "reconcile failed");
            }
        })
        .await;
}

async fn reconcile_guarded(guarded: Arc<Guarded>, ctx: Arc<Context>) -> Result<Action, Error> {
    match &guarded.0 {
        Ok(set) => super::reconcile(Arc::new(set.clone()), ctx).await,
        Err(invalid) => {
            report_undecodable(&guarded, &invalid.error, &ctx).await;
            // Nothing to do until the object changes (a fix, or a controller that reads it).
            Ok(Action::await_change())
        }
    }
}

fn error_policy_guarded(guarded: Arc<Guarded>, err: &Error, ctx: Arc<Context>) -> Action {
    match &guarded.0 {
        Ok(set) => super::error_policy(Arc::new(set.clone()), err, ctx),
        Err(_) => Action::await_change(),
    }
}

/// Log, metric and Event for a set the controller cannot read; its AWS resources are left as
/// they are (not even deleted: the policies that would say how are in the unreadable spec).
async fn report_undecodable(guarded: &Guarded, error: &str, ctx: &Context) {
    let name = format!(
        "{}/{}",
        guarded.namespace().unwrap_or_default(),
        guarded.name_any()
    );
    warn!(set = %name, %error, "cannot decode this SecurityGroupSet; skipping it");
    ctx.metrics.reconcile_failed("Undecodable");
    let note = Note {
        type_: EventType::Warning,
        reason: "Undecodable",
        action: "Decode",
        text: format!("the controller cannot read this object ({error}); fix it or re-apply it"),
    };
    let reference = kube::Resource::object_ref(guarded, &());
    ctx.events.publish(&reference, Kind::Report, note).await;
}

/// Another set's group ids, from its status in the stores the watches keep. A set in a
/// namespace the controller does not watch is read from the API server.
pub struct ClusterReferences<'a> {
    pub client: &'a Client,
    pub stores: &'a [Store<Guarded>],
    pub watched: &'a [String],
}

impl ClusterReferences<'_> {
    async fn find(&self, namespace: &str, name: &str) -> Result<Option<SecurityGroupSet>, Error> {
        let key = ObjectRef::<Guarded>::new(name).within(namespace);
        if let Some(found) = self.stores.iter().find_map(|s| s.get(&key)) {
            return Ok(found.0.as_ref().ok().cloned());
        }
        if self.watched.is_empty() || self.watched.iter().any(|w| w == namespace) {
            return Ok(None);
        }
        let api: Api<SecurityGroupSet> = Api::namespaced(self.client.clone(), namespace);
        Ok(api.get_opt(name).await?)
    }
}

impl References for ClusterReferences<'_> {
    async fn group_ids(&self, refs: &BTreeSet<SetRefKey>) -> Result<BTreeMap<SetRefKey, String>, Error> {
        let mut ids = BTreeMap::new();
        for (namespace, name, tier) in refs {
            let Some(other) = self.find(namespace, name).await? else {
                continue;
            };
            let id = other
                .status
                .iter()
                .flat_map(|s| &s.tiers)
                .find(|t| t.name == *tier)
                .and_then(|t| t.security_group_id.clone());
            if let Some(id) = id {
                ids.insert((namespace.clone(), name.clone(), tier.clone()), id);
            }
        }
        Ok(ids)
    }
}

/// `period` spread by ±10 %, so that sets created together do not resync together.
pub fn jittered(period: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let fraction = (random % 2001) as f64 / 1000.0 - 1.0; // in [-1, 1]
    period.mul_f64(1.0 + 0.1 * fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_ten_percent_and_varies() {
        let period = Duration::from_secs(300);
        let samples: BTreeSet<_> = (0..50).map(|_| jittered(period)).collect();
        assert!(
            samples
                .iter()
                .all(|d| *d >= period.mul_f64(0.9) && *d <= period.mul_f64(1.1))
        );
        assert!(samples.len() > 10, "spread, not one value: {samples:?}");
    }
}
