//! Leader election on a `coordination.k8s.io/v1` Lease that fences the leader's AWS calls.
//!
//! The algorithm is client-go's `leaderelection` (the one kube-controller-manager, ACK and the
//! Load Balancer Controller run): every retry period the holder renews the Lease; a standby
//! takes it once it has seen the same record, unchanged, for a whole lease duration (measured
//! on its own monotonic clock, so clock skew between nodes does not matter), or at once when
//! the holder released it. Writes use the Lease's resourceVersion, so two candidates never both
//! win.
//!
//! The fence (`crate::aws::fence`): each successful renewal lets AWS calls go out until the
//! renewal's *start* plus the renew deadline. A leader that cannot renew in time (frozen, cut
//! off from the API server, the API server down) therefore stops calling AWS before its Lease
//! can expire on any standby — the invariant is
//! `lease duration > renew deadline > 1.2 × retry period` (client-go's, checked at start) —
//! and then exits, cancelling its in-flight reconciles; its Deployment restarts it as a standby.
//!
//! Why not a crate: `kube-lease-manager` (used before) has no renew deadline and no hook on
//! renewal, and `kube-leader-election` 0.44 is built on kube 4 (this crate uses kube 5); the
//! fence needs the time of each successful renewal.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use tracing::{info, warn};

use crate::aws::fence::Fence;

/// The Lease timings (client-go's names and defaults: 15 s, 10 s, 2 s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// How long a standby waits, after the record last changed, before taking the Lease.
    pub lease_duration: Duration,
    /// How long after a renewal's start the leader may still call AWS without another one.
    pub renew_deadline: Duration,
    /// How often the leader renews and a standby looks.
    pub retry_period: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

impl Timing {
    /// `lease duration > renew deadline > 1.2 × retry period`, whole seconds for the Lease.
    pub fn check(&self) -> Result<(), String> {
        if self.lease_duration.as_secs() < 1 || self.lease_duration.subsec_nanos() != 0 {
            return Err("--leader-election-lease-duration must be whole seconds, at least 1s".into());
        }
        if self.lease_duration <= self.renew_deadline {
            return Err(format!(
                "--leader-election-lease-duration ({:?}) must be longer than --leader-election-renew-deadline ({:?}): \
                 the leader must stop before a standby may take over",
                self.lease_duration, self.renew_deadline
            ));
        }
        if self.renew_deadline.as_secs_f64() <= 1.2 * self.retry_period.as_secs_f64() {
            return Err(format!(
                "--leader-election-renew-deadline ({:?}) must be longer than 1.2 × --leader-election-retry-period ({:?})",
                self.renew_deadline, self.retry_period
            ));
        }
        Ok(())
    }
}

/// Where the Lease is and who we are.
#[derive(Clone, Debug)]
pub struct Election {
    pub namespace: String,
    pub lease_name: String,
    /// Unique per process: the instance name plus a random suffix, as client-go does.
    pub identity: String,
    pub timing: Timing,
}

impl Election {
    pub fn new(namespace: String, lease_name: String, instance: &str, timing: Timing) -> Self {
        let suffix = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Election {
            namespace,
            lease_name,
            identity: format!("{instance}_{:08x}", suffix as u32),
            timing,
        }
    }
}

/// The Lease record as last seen, and when this process first saw it so.
#[derive(Clone, Debug, PartialEq)]
struct Observed {
    holder: Option<String>,
    renew_time: Option<MicroTime>,
    duration: Duration,
    seen_at: Instant,
}

impl Observed {
    /// Held by someone else, who may still be renewing (the record changed within its duration).
    fn held_by_other(&self, me: &str) -> bool {
        let other = self.holder.as_deref().is_some_and(|h| h != me);
        other && self.seen_at.elapsed() < self.duration
    }
}

/// One candidate: reads and writes the Lease, opens the fence on every renewal.
pub struct Elector {
    api: Api<Lease>,
    election: Election,
    fence: Arc<Fence>,
    observed: Option<Observed>,
}

/// This process holds the Lease while this value lives and `lost` is being polled.
pub struct Leadership(Elector);

impl Elector {
    pub fn new(client: Client, election: Election, fence: Arc<Fence>) -> Self {
        Elector {
            api: Api::namespaced(client, &election.namespace),
            election,
            fence,
            observed: None,
        }
    }

    /// One client-go `tryAcquireOrRenew`: true when this process holds the Lease now.
    async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let started = Instant::now();
        let name = self.election.lease_name.clone();
        let won = match self.api.get_opt(&name).await? {
            None => self.create(&name).await?,
            Some(lease) => self.take_over(lease).await?,
        };
        if won {
            self.fence
                .open_until(started + self.election.timing.renew_deadline);
        }
        Ok(won)
    }

    fn spec(&self, previous: Option<&LeaseSpec>) -> LeaseSpec {
        let now = Some(MicroTime(jiff::Timestamp::now()));
        let me = self.election.identity.clone();
        let ours = previous.is_some_and(|p| p.holder_identity.as_ref() == Some(&me));
        let transitions = previous.and_then(|p| p.lease_transitions).unwrap_or(0);
        LeaseSpec {
            holder_identity: Some(me),
            lease_duration_seconds: Some(self.election.timing.lease_duration.as_secs() as i32),
            acquire_time: if ours {
                previous.and_then(|p| p.acquire_time.clone())
            } else {
                now.clone()
            },
            renew_time: now,
            lease_transitions: Some(if ours || previous.is_none() {
                transitions
            } else {
                transitions + 1
            }),
            ..LeaseSpec::default()
        }
    }

    async fn create(&mut self, name: &str) -> Result<bool, kube::Error> {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                ..ObjectMeta::default()
            },
            spec: Some(self.spec(None)),
        };
        match self.api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(e) if conflict(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn take_over(&mut self, lease: Lease) -> Result<bool, kube::Error> {
        let spec = lease.spec.clone().unwrap_or_default();
        self.observe(&spec);
        let me = self.election.identity.clone();
        if self.observed.as_ref().is_some_and(|o| o.held_by_other(&me)) {
            return Ok(false);
        }
        let updated = Lease {
            metadata: lease.metadata.clone(),
            spec: Some(self.spec(Some(&spec))),
        };
        match self
            .api
            .replace(&self.election.lease_name, &PostParams::default(), &updated)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if conflict(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Remembers the record, restarting its clock only when it changed.
    fn observe(&mut self, spec: &LeaseSpec) {
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let renew_time = spec.renew_time.clone();
        let unchanged = self
            .observed
            .as_ref()
            .is_some_and(|o| o.holder == holder && o.renew_time == renew_time);
        if !unchanged {
            let seconds = spec.lease_duration_seconds.unwrap_or(0).max(0) as u64;
            self.observed = Some(Observed {
                holder,
                renew_time,
                duration: Duration::from_secs(seconds),
                seen_at: Instant::now(),
            });
        }
    }

    /// One attempt, bounded in time; an error or a timeout counts as not won.
    async fn attempt(&mut self, limit: Duration) -> Result<bool, String> {
        match tokio::time::timeout(limit, self.try_acquire_or_renew()).await {
            Ok(Ok(won)) => Ok(won),
            Ok(Err(e)) => Err(format!("the Lease could not be read or written: {e}")),
            Err(_) => Err(format!("the API server did not answer within {limit:?}")),
        }
    }

    fn someone_else_holds(&self) -> bool {
        let me = &self.election.identity;
        self.observed.as_ref().is_some_and(|o| o.held_by_other(me))
    }
}

fn conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(status) if status.code == 409)
}

/// Waits until this process holds the Lease. `None`: a shutdown signal came first.
pub async fn acquire(mut elector: Elector, shutdown: Shutdown) -> anyhow::Result<Option<Leadership>> {
    let election = elector.election.clone();
    info!(
        lease = %format!("{}/{}", election.namespace, election.lease_name),
        identity = %election.identity,
        "waiting to become the leader"
    );
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(election.timing.retry_period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = &mut shutdown => {
                info!("shutdown requested while waiting to become the leader");
                return Ok(None);
            }
        }
        match elector.attempt(election.timing.renew_deadline).await {
            Ok(true) => {
                info!(identity = %election.identity, "became the leader");
                return Ok(Some(Leadership(elector)));
            }
            Ok(false) => {}
            Err(e) => warn!(error = %e, "leader election: retrying"),
        }
    }
}

impl Leadership {
    /// Renews the Lease for as long as it is polled; returns why leadership was lost, with the
    /// fence already closed.
    pub async fn lost(&mut self) -> String {
        let elector = &mut self.0;
        let timing = elector.election.timing;
        let mut tick = tokio::time::interval(timing.retry_period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_error = String::from("no renewal succeeded");
        loop {
            tick.tick().await;
            let Some(left) = elector.fence.remaining() else {
                elector.fence.close();
                return format!(
                    "not renewed within the renew deadline ({:?}): {last_error}",
                    timing.renew_deadline
                );
            };
            match elector.attempt(left.min(timing.renew_deadline)).await {
                Ok(true) => {}
                Ok(false) if elector.someone_else_holds() => {
                    elector.fence.close();
                    return "another process holds the Lease now".into();
                }
                Ok(false) => last_error = "the Lease changed under this process".into(),
                Err(e) => last_error = e,
            }
        }
    }

    /// Gives the Lease up (graceful shutdown), so that a standby takes over at once.
    pub async fn release(self) {
        let elector = self.0;
        elector.fence.close();
        match release(&elector).await {
            Ok(true) => info!(identity = %elector.election.identity, "released the leader Lease"),
            Ok(false) => info!("the Lease was no longer ours; nothing to release"),
            Err(e) => warn!(error = %e, "could not release the leader Lease; it expires by itself"),
        }
    }
}

/// client-go's release: an empty holder and a one-second duration, only while still ours.
async fn release(elector: &Elector) -> Result<bool, kube::Error> {
    let name = &elector.election.lease_name;
    let Some(mut lease) = elector.api.get_opt(name).await? else {
        return Ok(false);
    };
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    if spec.holder_identity.as_deref() != Some(elector.election.identity.as_str()) {
        return Ok(false);
    }
    spec.holder_identity = None;
    spec.lease_duration_seconds = Some(1);
    spec.renew_time = Some(MicroTime(jiff::Timestamp::now()));
    match elector.api.replace(name, &PostParams::default(), &lease).await {
        Ok(_) => Ok(true),
        Err(e) if conflict(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Resolves on SIGTERM or SIGINT; cloned by everything that stops on them.
pub type Shutdown = futures::future::Shared<futures::future::BoxFuture<'static, ()>>;

/// Listens for SIGTERM and SIGINT from now on: a signal that comes while the process is still
/// starting (between winning the Lease and starting the reconcilers) is not lost.
pub fn shutdown_signal() -> std::io::Result<Shutdown> {
    use futures::FutureExt;
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let signalled = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        info!("shutdown requested (SIGTERM or SIGINT)");
    };
    Ok(signalled.boxed().shared())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(lease: u64, renew: u64, retry_ms: u64) -> Timing {
        Timing {
            lease_duration: Duration::from_secs(lease),
            renew_deadline: Duration::from_secs(renew),
            retry_period: Duration::from_millis(retry_ms),
        }
    }

    #[test]
    fn identities_are_unique_per_process_start() {
        let a = Election::new("ns".into(), "l".into(), "pod", Timing::default());
        let b = Election::new("ns".into(), "l".into(), "pod", Timing::default());
        assert!(a.identity.starts_with("pod_"));
        assert_ne!(a.identity, b.identity);
    }

    #[test]
    fn the_timing_invariant_is_client_gos() {
        assert_eq!(Timing::default().check(), Ok(()));
        assert_eq!(timing(6, 4, 1000).check(), Ok(()));
        assert!(
            timing(10, 10, 2000)
                .check()
                .unwrap_err()
                .contains("longer than --leader-election-renew-deadline")
        );
        assert!(timing(15, 2, 2000).check().unwrap_err().contains("1.2 ×"));
        assert!(timing(0, 0, 0).check().is_err());
        let fractional = Timing {
            lease_duration: Duration::from_millis(1500),
            ..timing(1, 1, 1)
        };
        assert!(fractional.check().unwrap_err().contains("whole seconds"));
    }

    #[test]
    fn a_record_is_held_by_another_until_it_stays_unchanged_for_its_duration() {
        let seen = |holder: Option<&str>, ago: u64| Observed {
            holder: holder.map(str::to_string),
            renew_time: None,
            duration: Duration::from_secs(15),
            seen_at: Instant::now() - Duration::from_secs(ago),
        };
        assert!(seen(Some("other"), 1).held_by_other("me"));
        assert!(!seen(Some("other"), 16).held_by_other("me"), "expired");
        assert!(!seen(Some("me"), 1).held_by_other("me"));
        assert!(!seen(None, 1).held_by_other("me"), "released");
    }
}
