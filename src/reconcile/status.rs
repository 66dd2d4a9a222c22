//! Pure: what the status should say, given the previous status and the reconcile's outcome.

use crate::api::{Condition, SecurityGroupSetStatus, TierStatus};
use crate::diff::Unresolved;

use super::error::Health;

pub enum Outcome {
    /// AWS matches the spec.
    Converged,
    /// Converged except for rules whose peer set has no group id yet.
    Waiting(Vec<Unresolved>),
    /// ObserveOnly: the changes Manage would make.
    Observed(Vec<String>),
    /// The reconcile failed.
    Failed {
        reason: &'static str,
        health: Health,
        message: String,
    },
    /// Deletion waits for something outside the set.
    Deleting { reason: &'static str, message: String },
}

impl Outcome {
    /// Whether the reconcile carried the whole generation out (or, ObserveOnly, looked at all
    /// of it): only then is `status.observedGeneration` moved on. The conditions always carry
    /// the generation they describe, so a failed or waiting generation is visible as seen, and
    /// the next success after a failure is still an `Applied` change, not drift.
    fn applies_the_generation(&self) -> bool {
        matches!(self, Outcome::Converged | Outcome::Observed(_))
    }
}

pub struct Facts {
    pub generation: Option<i64>,
    pub vpc_id: Option<String>,
    /// `None` keeps the previous tiers (a failure learns nothing new about them).
    pub tiers: Option<Vec<TierStatus>>,
    pub now: String,
}

pub fn next_status(
    previous: Option<&SecurityGroupSetStatus>,
    facts: Facts,
    outcome: Outcome,
) -> SecurityGroupSetStatus {
    let previous = previous.cloned().unwrap_or_default();
    let tiers = facts.tiers.unwrap_or(previous.tiers.clone());
    let (ready, reconciling, stalled) = conditions(&outcome, tiers.len());
    let conditions = [ready, reconciling, stalled]
        .into_iter()
        .map(|mut c| {
            c.observed_generation = facts.generation;
            let before = previous.conditions.iter().find(|p| p.type_ == c.type_);
            c.last_transition_time = match before {
                Some(p) if p.status == c.status => p.last_transition_time.clone(),
                _ => Some(facts.now.clone()),
            };
            c
        })
        .collect();
    let ready_count = tiers.iter().filter(|t| t.security_group_id.is_some()).count();
    SecurityGroupSetStatus {
        observed_generation: if outcome.applies_the_generation() {
            facts.generation
        } else {
            previous.observed_generation
        },
        vpc_id: facts.vpc_id.or(previous.vpc_id),
        conditions,
        tiers_ready: Some(format!("{ready_count}/{}", tiers.len())),
        plan: match outcome {
            Outcome::Observed(plan) => plan,
            _ => Vec::new(),
        },
        tiers,
    }
}

/// Ready, Reconciling and Stalled for an outcome (times and generation are set by the caller).
fn conditions(outcome: &Outcome, tier_count: usize) -> (Condition, Condition, Condition) {
    match outcome {
        Outcome::Converged => (
            cond(
                "Ready",
                true,
                "Converged",
                format!("{tier_count} security groups match the spec"),
            ),
            cond("Reconciling", false, "Converged", String::new()),
            cond("Stalled", false, "Converged", String::new()),
        ),
        Outcome::Waiting(unresolved) => {
            let names: Vec<_> = unresolved
                .iter()
                .map(|u| format!("{}/{} (tier {})", u.namespace, u.name, u.tier))
                .collect();
            let message = format!(
                "waiting for SecurityGroupSet {} to publish its group ids",
                names.join(", ")
            );
            (
                cond("Ready", false, "WaitingForSetRef", message.clone()),
                cond("Reconciling", true, "WaitingForSetRef", message),
                cond("Stalled", false, "WaitingForSetRef", String::new()),
            )
        }
        Outcome::Observed(plan) => {
            let message = if plan.is_empty() {
                "ObserveOnly: AWS matches the spec".to_string()
            } else {
                format!("ObserveOnly: {} change(s) pending, see status.plan", plan.len())
            };
            (
                cond("Ready", plan.is_empty(), "ObserveOnly", message),
                cond("Reconciling", false, "ObserveOnly", String::new()),
                cond("Stalled", false, "ObserveOnly", String::new()),
            )
        }
        Outcome::Failed {
            reason,
            health,
            message,
        } => (
            cond("Ready", false, reason, message.clone()),
            cond(
                "Reconciling",
                *health == Health::Reconciling,
                reason,
                message.clone(),
            ),
            cond("Stalled", *health == Health::Stalled, reason, message.clone()),
        ),
        Outcome::Deleting { reason, message } => (
            cond("Ready", false, reason, message.clone()),
            cond("Reconciling", true, reason, message.clone()),
            cond("Stalled", false, reason, String::new()),
        ),
    }
}

fn cond(type_: &str, status: bool, reason: &str, message: String) -> Condition {
    Condition {
        type_: type_.into(),
        status: if status { "True" } else { "False" }.into(),
        reason: reason.into(),
        message,
        observed_generation: None,
        last_transition_time: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(now: &str) -> Facts {
        Facts {
            generation: Some(2),
            vpc_id: Some("vpc-1".into()),
            tiers: Some(vec![TierStatus {
                name: "web".into(),
                security_group_id: Some("sg-1".into()),
                ..Default::default()
            }]),
            now: now.into(),
        }
    }

    fn get<'a>(s: &'a SecurityGroupSetStatus, t: &str) -> &'a Condition {
        s.conditions.iter().find(|c| c.type_ == t).unwrap()
    }

    #[test]
    fn converged_is_ready_and_keeps_transition_times() {
        let first = next_status(None, facts("t1"), Outcome::Converged);
        assert_eq!(get(&first, "Ready").status, "True");
        assert_eq!(get(&first, "Stalled").status, "False");
        assert_eq!(first.observed_generation, Some(2));
        assert_eq!(first.tiers_ready.as_deref(), Some("1/1"));
        let again = next_status(Some(&first), facts("t2"), Outcome::Converged);
        assert_eq!(again, first, "nothing changed: identical status, so no patch");
    }

    #[test]
    fn failures_map_to_kstatus() {
        let stalled = next_status(
            None,
            facts("t1"),
            Outcome::Failed {
                reason: "InvalidSpec",
                health: Health::Stalled,
                message: "spec.x: bad".into(),
            },
        );
        assert_eq!(get(&stalled, "Ready").status, "False");
        assert_eq!(get(&stalled, "Stalled").status, "True");
        assert_eq!(get(&stalled, "Stalled").reason, "InvalidSpec");
        assert_eq!(get(&stalled, "Reconciling").status, "False");
        assert_eq!(
            stalled.observed_generation, None,
            "a failed generation is not applied"
        );
        assert_eq!(
            get(&stalled, "Stalled").observed_generation,
            Some(2),
            "but it was seen"
        );
        let waiting = next_status(
            Some(&stalled),
            facts("t2"),
            Outcome::Waiting(vec![Unresolved {
                namespace: "ns".into(),
                name: "shared".into(),
                tier: "lb".into(),
            }]),
        );
        assert_eq!(get(&waiting, "Reconciling").status, "True");
        assert!(get(&waiting, "Reconciling").message.contains("ns/shared"));
        assert_eq!(
            get(&waiting, "Ready").last_transition_time.as_deref(),
            Some("t1"),
            "Ready stayed False"
        );
        assert_eq!(
            get(&waiting, "Stalled").last_transition_time.as_deref(),
            Some("t2"),
            "Stalled flipped"
        );
        assert_eq!(waiting.observed_generation, None, "waiting is not fully applied");
        let converged = next_status(Some(&waiting), facts("t3"), Outcome::Converged);
        assert_eq!(converged.observed_generation, Some(2));
    }

    #[test]
    fn observe_only_reports_the_plan() {
        let s = next_status(
            None,
            facts("t"),
            Outcome::Observed(vec!["+ create group x".into()]),
        );
        assert_eq!(s.plan, ["+ create group x"]);
        assert_eq!(get(&s, "Ready").status, "False");
        assert_eq!(get(&s, "Ready").reason, "ObserveOnly");
    }
}
