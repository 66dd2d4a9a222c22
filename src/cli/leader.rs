//! Leader election on a `coordination.k8s.io/v1` Lease, with the `kube-lease-manager` crate.
//!
//! With `--leader-elect`, `run` waits here until this process holds the Lease, and only then
//! builds the AWS clients and starts reconciling: a standby replica makes no AWS call at all.
//! The holder renews the Lease a third of its duration before it expires (duration 15 s,
//! renewal every 10 s by default); a standby reads the Lease every 2 s, so a killed leader is
//! replaced about one lease duration after its last renewal, and a released Lease (SIGTERM)
//! within about 2 s.
//!
//! Losing the Lease (another holder, or a renewal that fails) ends the process with an error:
//! its Deployment restarts it as a standby. kube-lease-manager does not step down by itself when
//! renewals keep failing, which is why any renewal error counts as a loss here. On SIGTERM the
//! leader releases the Lease, so the standby takes over at once rather than after expiry.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use kube::Client;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tracing::{info, warn};

/// Where the Lease is and who we are.
#[derive(Clone, Debug)]
pub struct Election {
    pub namespace: String,
    pub lease_name: String,
    /// Unique per process: the instance name plus a random suffix, as client-go does.
    pub identity: String,
    pub lease_duration: Duration,
}

impl Election {
    pub fn new(namespace: String, lease_name: String, instance: &str, lease_duration: Duration) -> Self {
        let suffix = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Election {
            namespace,
            lease_name,
            identity: format!("{instance}_{:08x}", suffix as u32),
            lease_duration,
        }
    }

    /// (duration, grace) in whole seconds: renew a third of the duration before expiry.
    fn seconds(&self) -> (u64, u64) {
        let duration = self.lease_duration.as_secs().max(3);
        (duration, (duration / 3).max(1))
    }
}

/// This process holds the Lease while this value lives and `lost` is being polled.
pub struct Leadership {
    manager: LeaseManager,
    election: Election,
}

/// How often a standby looks at the Lease (client-go's RetryPeriod).
const RETRY: Duration = Duration::from_secs(2);

async fn manager(client: &Client, election: &Election) -> kube_lease_manager::Result<LeaseManager> {
    let (duration, grace) = election.seconds();
    LeaseManagerBuilder::new(client.clone(), &election.lease_name)
        .with_namespace(&election.namespace)
        .with_identity(&election.identity)
        .with_field_manager(format!("sg-provisioner-{}", election.identity))
        .with_duration(duration)
        .with_grace(grace)
        .build()
        .await
}

/// Waits until this process holds the Lease. `None`: a shutdown signal came first.
///
/// kube-lease-manager's standby sleeps until the holder's Lease would expire, so it would not
/// notice a Lease released early (a leader stopped with SIGTERM). Each attempt here therefore
/// uses a fresh manager, which reads the Lease anew, for at most [`RETRY`]: a released Lease is
/// taken within about two seconds, an abandoned one when it expires.
pub async fn acquire(client: Client, election: Election) -> anyhow::Result<Option<Leadership>> {
    info!(
        lease = %format!("{}/{}", election.namespace, election.lease_name),
        identity = %election.identity,
        "waiting to become the leader"
    );
    let mut failures = 0u32;
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let attempt = async {
            let manager = manager(&client, &election).await?;
            match tokio::time::timeout(RETRY, manager.changed()).await {
                Ok(Ok(true)) => Ok(Some(manager)),
                Ok(Ok(false)) | Err(_) => Ok(None),
                Ok(Err(e)) => Err(e),
            }
        };
        tokio::select! {
            result = attempt => match result {
                Ok(Some(manager)) => {
                    info!(identity = %election.identity, "became the leader");
                    return Ok(Some(Leadership { manager, election }));
                }
                Ok(None) => failures = 0,
                Err(e) => {
                    failures += 1;
                    let wait = RETRY * failures.min(5);
                    warn!(error = %e, ?wait, "leader election: reading the Lease failed; retrying");
                    tokio::time::sleep(wait).await;
                }
            },
            () = &mut shutdown => {
                info!("shutdown requested while waiting to become the leader");
                return Ok(None);
            }
        }
    }
}

impl Leadership {
    /// Renews the Lease for as long as it is polled; returns why leadership was lost.
    pub async fn lost(&self) -> String {
        loop {
            match self.manager.changed().await {
                Ok(true) => continue,
                Ok(false) => return "another process holds the Lease now".into(),
                Err(e) => return format!("renewing the Lease failed: {e}"),
            }
        }
    }

    /// Gives the Lease up (graceful shutdown), so that a standby takes over at once.
    pub async fn release(self) {
        match self.manager.release().await {
            Ok(()) => info!(identity = %self.election.identity, "released the leader Lease"),
            Err(e) => warn!(error = %e, "could not release the leader Lease; it expires by itself"),
        }
    }
}

/// SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("install the SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_are_unique_per_process_start() {
        let a = Election::new("ns".into(), "l".into(), "pod", Duration::from_secs(15));
        let b = Election::new("ns".into(), "l".into(), "pod", Duration::from_secs(15));
        assert!(a.identity.starts_with("pod_"));
        assert_ne!(a.identity, b.identity);
    }

    #[test]
    fn grace_is_a_third_of_the_duration_and_below_it() {
        let e = |s| Election::new("n".into(), "l".into(), "i", Duration::from_secs(s)).seconds();
        assert_eq!(e(15), (15, 5));
        assert_eq!(e(30), (30, 10));
        assert_eq!(e(1), (3, 1));
    }
}
