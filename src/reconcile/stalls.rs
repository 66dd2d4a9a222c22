//! Memory of actions that failed permanently, per set and generation, so that a `Stalled` set
//! does not send the same refused write again on every resync: the rest of the set is still
//! resynced (drift is repaired), the held action fails as it did without an AWS call.
//!
//! A new generation (the spec changed) forgets the set's entry. An entry also lapses after
//! [`LAPSE_PERIODS`] resync periods, so that what may heal outside the spec (a peer group or a
//! prefix list another team creates, a raised quota) is tried again now and then; a restart of
//! the controller forgets everything.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Error;
use super::execute::{Held, permanent_failures};

/// Resync periods an entry is kept.
pub const LAPSE_PERIODS: u32 = 3;

struct Stall {
    generation: Option<i64>,
    since: Instant,
    held: Held,
}

#[derive(Default)]
pub struct Stalls {
    sets: Mutex<HashMap<String, Stall>>,
}

impl Stalls {
    /// What to hold for this set at this generation.
    pub fn held(&self, key: &str, generation: Option<i64>, resync: Duration) -> Held {
        let mut sets = self.sets.lock().unwrap();
        match sets.get(key) {
            Some(s) if s.generation == generation && s.since.elapsed() < resync * LAPSE_PERIODS => {
                s.held.clone()
            }
            Some(_) => {
                sets.remove(key);
                Held::new()
            }
            None => Held::new(),
        }
    }

    /// After a reconcile: remembers its permanent failures; a success forgets the set.
    pub fn record(&self, key: &str, generation: Option<i64>, outcome: Result<(), &Error>) {
        let mut sets = self.sets.lock().unwrap();
        let Err(error) = outcome else {
            sets.remove(key);
            return;
        };
        // A failure before the held actions came up (a throttled read) keeps what is held.
        let failed = permanent_failures(error);
        if failed.is_empty() {
            return;
        }
        let entry = sets.entry(key.to_string()).or_insert_with(|| Stall {
            generation,
            since: Instant::now(),
            held: Held::new(),
        });
        if entry.generation != generation {
            *entry = Stall {
                generation,
                since: Instant::now(),
                held: Held::new(),
            };
        }
        entry.held.extend(failed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::AwsError;

    fn failed(action: &str, code: &str) -> Error {
        Error::Failed {
            tier: "web".into(),
            direction: None,
            action: action.into(),
            error: AwsError::Service {
                operation: "AuthorizeSecurityGroupIngress",
                code: code.into(),
                message: "no".into(),
            },
        }
    }

    #[test]
    fn a_permanent_failure_is_held_for_its_generation_only() {
        let stalls = Stalls::default();
        let resync = Duration::from_secs(300);
        stalls.record(
            "ns/a",
            Some(2),
            Err(&failed("+ ingress x", "InvalidGroup.NotFound")),
        );
        assert!(stalls.held("ns/a", Some(2), resync).contains_key("+ ingress x"));
        assert!(stalls.held("ns/b", Some(2), resync).is_empty(), "per set");
        assert!(
            stalls.held("ns/a", Some(3), resync).is_empty(),
            "a new generation retries"
        );
        assert!(
            stalls.held("ns/a", Some(2), resync).is_empty(),
            "and forgot the old one"
        );
    }

    #[test]
    fn transient_failures_and_successes_hold_nothing_and_entries_lapse() {
        let stalls = Stalls::default();
        let resync = Duration::from_secs(300);
        stalls.record(
            "ns/a",
            Some(1),
            Err(&failed("+ ingress x", "RequestLimitExceeded")),
        );
        assert!(stalls.held("ns/a", Some(1), resync).is_empty());
        stalls.record(
            "ns/a",
            Some(1),
            Err(&failed("+ ingress x", "InvalidGroup.NotFound")),
        );
        stalls.record(
            "ns/a",
            Some(1),
            Err(&failed("+ ingress y", "RequestLimitExceeded")),
        );
        assert_eq!(
            stalls.held("ns/a", Some(1), resync).len(),
            1,
            "kept through a transient"
        );
        assert!(stalls.held("ns/a", Some(1), Duration::ZERO).is_empty(), "lapsed");
        stalls.record(
            "ns/a",
            Some(1),
            Err(&failed("+ ingress x", "InvalidGroup.NotFound")),
        );
        stalls.record("ns/a", Some(1), Ok(()));
        assert!(stalls.held("ns/a", Some(1), Duration::from_secs(300)).is_empty());
    }
}
