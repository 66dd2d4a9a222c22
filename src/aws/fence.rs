//! The leader's fence: AWS calls are sent only while this process is sure it still leads.
//!
//! Leader election sets a deadline after each successful renewal (the renewal's start plus the
//! renew deadline, which is shorter than the lease duration). An SDK interceptor checks it just
//! before each attempt goes on the wire, retries included, so a replica that was frozen
//! (SIGSTOP, a long GC pause of its node) or cut off from the API server past its renew deadline
//! sends nothing more, even from work that was in flight. The clock is monotonic: it runs on
//! while the process is stopped, so the first check after a resume fails.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

// The EC2 crate's re-exports of the smithy runtime, which the SSM client shares.
use aws_sdk_ec2::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_ec2::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_ec2::error::BoxError;

/// Refused: this process is not (or no longer surely) the leader.
#[derive(thiserror::Error, Debug, Clone, Copy)]
#[error("not the leader: the renew deadline passed without a renewal, so no AWS call is sent")]
pub struct Fenced;

/// When this process may last call AWS. Without leader election it never closes.
#[derive(Debug)]
pub struct Fence {
    base: Instant,
    /// Nanoseconds after `base` until which calls may be sent; 0: closed; u64::MAX: no election.
    open_until: AtomicU64,
}

impl Fence {
    /// No leader election: every call may be sent.
    pub fn unfenced() -> Arc<Fence> {
        Arc::new(Fence {
            base: Instant::now(),
            open_until: AtomicU64::new(u64::MAX),
        })
    }

    /// Leader election: closed until the first renewal opens it.
    pub fn closed() -> Arc<Fence> {
        Arc::new(Fence {
            base: Instant::now(),
            open_until: AtomicU64::new(0),
        })
    }

    /// Calls may be sent until `deadline` (never moved back by an older renewal).
    pub fn open_until(&self, deadline: Instant) {
        let nanos = deadline.saturating_duration_since(self.base).as_nanos();
        let nanos = u64::try_from(nanos).unwrap_or(u64::MAX - 1).max(1);
        self.open_until.fetch_max(nanos, Ordering::SeqCst);
    }

    /// No call is sent any more (leadership lost or given up).
    pub fn close(&self) {
        self.open_until.store(0, Ordering::SeqCst);
    }

    /// How long calls may still be sent; `None` when closed.
    pub fn remaining(&self) -> Option<Duration> {
        let until = self.open_until.load(Ordering::SeqCst);
        if until == u64::MAX {
            return Some(Duration::MAX);
        }
        let now = self.base.elapsed().as_nanos();
        (u128::from(until) > now).then(|| Duration::from_nanos(until - now as u64))
    }

    pub fn check(&self) -> Result<(), Fenced> {
        self.remaining().map(|_| ()).ok_or(Fenced)
    }
}

/// Checks the fence before every attempt of every SDK call.
#[derive(Debug, Clone)]
pub struct FenceInterceptor(pub Arc<Fence>);

impl Intercept for FenceInterceptor {
    fn name(&self) -> &'static str {
        "LeaderFence"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.check().map_err(BoxError::from)
    }
}

/// Whether an SDK error (or anything in its source chain) is the fence's refusal.
pub fn is_fenced(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if e.downcast_ref::<Fenced>().is_some() {
            return true;
        }
        next = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfenced_never_closes_and_closed_refuses() {
        assert!(Fence::unfenced().check().is_ok());
        assert!(Fence::closed().check().is_err());
    }

    #[test]
    fn a_renewal_opens_it_until_the_deadline_and_not_after() {
        let fence = Fence::closed();
        fence.open_until(Instant::now() + Duration::from_secs(10));
        assert!(fence.remaining().unwrap() > Duration::from_secs(9));
        // An older renewal finishing late does not move the deadline back.
        fence.open_until(Instant::now() + Duration::from_secs(1));
        assert!(fence.remaining().unwrap() > Duration::from_secs(9));
        fence.close();
        assert!(fence.check().is_err());
        fence.open_until(Instant::now() - Duration::from_millis(1));
        assert!(fence.check().is_err(), "a deadline in the past is closed");
    }

    #[test]
    fn the_refusal_is_found_through_an_error_chain() {
        #[derive(thiserror::Error, Debug)]
        #[error("dispatch failure")]
        struct Wrapper(#[source] Fenced);
        assert!(is_fenced(&Wrapper(Fenced)));
        assert!(!is_fenced(&std::io::Error::other("x")));
    }
}
