//! Carries a plan's actions out against AWS, in the plan's order: one call per action. Nothing
//! here decides what to write; it only resolves the ids of groups created earlier in the same
//! plan, repeats a batched rule call one rule at a time when AWS says part of the batch was
//! already done (the end state is the one asked for), and skips what depends on a failure.

use std::collections::{BTreeMap, BTreeSet};

use tracing::{info, warn};

use super::Error;
use crate::aws::{AwsApi, AwsError};
use crate::diff::{Action, ConcretePeer, GroupRef, Plan, Refusal, Rule, owner_of};
use crate::model::{Direction, Ownership};

/// Every action of the plan, in order; returns each tier's group id. A failed action stops
/// only what depends on it (see [`Failures`]); everything else still runs, and the error then
/// lists what failed and what was skipped.
///
/// `held`: actions that already failed permanently for this generation (by their text), with
/// AWS's answer. They are not sent again: they fail as they did, and stop what they stopped.
pub async fn run<A: AwsApi>(
    aws: &A,
    plan: &Plan,
    ownership: &Ownership,
    held: &Held,
) -> Result<BTreeMap<String, String>, Error> {
    let mut ids = super::existing_ids(&plan.groups);
    let mut failures = Failures::default();
    for action in &plan.actions {
        if failures.blocks(action) {
            failures.skipped.push(action.to_string());
            continue;
        }
        if let Some(error) = held.get(&action.to_string()) {
            failures.record(action, in_context(action, Error::Aws(error.clone())));
            continue;
        }
        info!(%action, "executing");
        match execute(aws, action, &mut ids, ownership).await {
            Ok(()) => failures.applied.push(action.to_string()),
            Err(e) => {
                warn!(%action, error = %e, "failed");
                failures.record(action, in_context(action, own_group_not_visible(e, &ids)));
            }
        }
    }
    failures.into_result().map(|()| ids)
}

/// Actions that failed permanently, by their text, with the error AWS gave.
pub type Held = BTreeMap<String, AwsError>;

/// The permanent failures in a plan's error (those that leave the set `Stalled`): what to hold.
pub fn permanent_failures(error: &Error) -> Held {
    let one = |e: &Error| match e {
        Error::Failed { action, error, .. } if e.classify().health == super::Health::Stalled => {
            Some((action.clone(), error.clone()))
        }
        _ => None,
    };
    match error {
        Error::Incomplete { failed, .. } => failed.iter().filter_map(|(_, e)| one(e)).collect(),
        other => one(other).into_iter().collect(),
    }
}

/// `InvalidGroup.NotFound` naming one of the set's own groups (observed, or created moments
/// ago) is EC2's eventual consistency, not a missing peer: retried soon, never held.
fn own_group_not_visible(error: Error, ids: &BTreeMap<String, String>) -> Error {
    match &error {
        Error::Aws(AwsError::Service { code, message, .. })
            if code == "InvalidGroup.NotFound"
                && ids
                    .values()
                    .any(|id| !id.is_empty() && message.contains(id.as_str())) =>
        {
            Error::NotYetVisible(error.to_string())
        }
        _ => error,
    }
}

/// An AWS error with the action it failed, so that status can name the spec field.
fn in_context(action: &Action, error: Error) -> Error {
    let Error::Aws(error) = error else { return error };
    let direction = match action {
        Action::Authorize { direction, .. }
        | Action::Revoke { direction, .. }
        | Action::UpdateDescriptions { direction, .. } => Some(*direction),
        _ => None,
    };
    Error::Failed {
        tier: action.tier().to_string(),
        direction,
        action: action.to_string(),
        error,
    }
}

/// What a failed action stops. A group's creation or adoption: everything of its tier and every
/// rule naming the new group. A rule change: the later rule changes of the same group and
/// direction (a revoke must not run when the authorization meant to replace it failed). A
/// group's deletion: its tier's parameter (consumers still find the id). A parameter write: the
/// tier's later parameter writes. A tag change stops nothing else.
#[derive(Default)]
struct Failures {
    groups: BTreeSet<String>,
    rules: BTreeSet<(String, Direction)>,
    parameters: BTreeSet<String>,
    failed: Vec<(String, Error)>,
    skipped: Vec<String>,
    applied: Vec<String>,
}

impl Failures {
    fn record(&mut self, action: &Action, error: Error) {
        let tier = action.tier().to_string();
        match action {
            Action::CreateGroup { .. } | Action::AdoptGroup { .. } | Action::DeleteGroup { .. } => {
                self.groups.insert(tier);
            }
            Action::Authorize { direction, .. }
            | Action::Revoke { direction, .. }
            | Action::UpdateDescriptions { direction, .. } => {
                self.rules.insert((tier, *direction));
            }
            Action::CreateParameter { .. }
            | Action::OverwriteParameter { .. }
            | Action::TagParameter { .. }
            | Action::UntagParameter { .. }
            | Action::DeleteParameter { .. } => {
                self.parameters.insert(tier);
            }
            Action::TagGroup { .. } | Action::UntagGroup { .. } => {}
        }
        self.failed.push((action.to_string(), error));
    }

    fn blocks(&self, action: &Action) -> bool {
        let tier = action.tier();
        let names_failed_group = |rules: &[Rule]| {
            rules.iter().any(
                |r| matches!(&r.peer, ConcretePeer::Group(GroupRef::Pending(t)) if self.groups.contains(t)),
            )
        };
        match action {
            _ if self.groups.contains(tier) => true,
            Action::Authorize { direction, rules, .. }
            | Action::Revoke { direction, rules, .. }
            | Action::UpdateDescriptions { direction, rules, .. } => {
                self.rules.contains(&(tier.to_string(), *direction)) || names_failed_group(rules)
            }
            Action::CreateParameter { .. }
            | Action::OverwriteParameter { .. }
            | Action::TagParameter { .. }
            | Action::UntagParameter { .. }
            | Action::DeleteParameter { .. } => self.parameters.contains(tier),
            _ => false,
        }
    }

    fn into_result(mut self) -> Result<(), Error> {
        match self.failed.len() {
            0 => Ok(()),
            // One failure and nothing else: the error as it is, classified as it is.
            1 if self.skipped.is_empty() && self.applied.is_empty() => Err(self.failed.remove(0).1),
            _ => Err(Error::Incomplete {
                failed: self.failed,
                skipped: self.skipped,
                applied: self.applied,
            }),
        }
    }
}

async fn execute<A: AwsApi>(
    aws: &A,
    action: &Action,
    ids: &mut BTreeMap<String, String>,
    ownership: &Ownership,
) -> Result<(), Error> {
    match action {
        Action::CreateGroup {
            tier,
            name,
            vpc_id,
            description,
            tags,
        } => {
            let id = create_group(aws, tier, name, vpc_id, description, tags, ownership).await?;
            ids.insert(tier.clone(), id);
        }
        Action::AdoptGroup { group_id, tags, .. } | Action::TagGroup { group_id, tags, .. } => {
            aws.tag_group(group_id, tags).await?
        }
        Action::UntagGroup { group_id, keys, .. } => aws.untag_group(group_id, keys).await?,
        Action::Authorize {
            group,
            direction,
            rules,
            ..
        }
        | Action::Revoke {
            group,
            direction,
            rules,
            ..
        }
        | Action::UpdateDescriptions {
            group,
            direction,
            rules,
            ..
        } => {
            let call = RuleCall::of(action);
            rule_call(aws, call, &id_of(group, ids), *direction, &resolved(rules, ids)).await?
        }
        Action::CreateParameter {
            name, group, tags, ..
        } => aws.create_parameter(name, &id_of(group, ids), tags).await?,
        Action::OverwriteParameter { name, group, .. } => {
            aws.overwrite_parameter(name, &id_of(group, ids)).await?
        }
        Action::TagParameter { name, tags, .. } => aws.tag_parameter(name, tags).await?,
        Action::UntagParameter { name, keys, .. } => aws.untag_parameter(name, keys).await?,
        Action::DeleteGroup { group_id, .. } => delete_group(aws, group_id).await?,
        Action::DeleteParameter { name, .. } => aws.delete_parameter(name).await?,
    }
    Ok(())
}

/// A group's id: as observed, or as created earlier in this plan.
fn id_of(group: &GroupRef, ids: &BTreeMap<String, String>) -> String {
    match group {
        GroupRef::Existing(id) => id.clone(),
        GroupRef::Pending(tier) => ids.get(tier).cloned().unwrap_or_default(),
    }
}

/// The rules with every group peer named by id.
fn resolved(rules: &[Rule], ids: &BTreeMap<String, String>) -> Vec<Rule> {
    rules
        .iter()
        .map(|r| match &r.peer {
            ConcretePeer::Group(g @ GroupRef::Pending(_)) => Rule {
                peer: ConcretePeer::Group(GroupRef::Existing(id_of(g, ids))),
                ..r.clone()
            },
            _ => r.clone(),
        })
        .collect()
}

#[derive(Clone, Copy)]
enum RuleCall {
    Authorize,
    Revoke,
    Describe,
}

impl RuleCall {
    fn of(action: &Action) -> Self {
        match action {
            Action::Authorize { .. } => RuleCall::Authorize,
            Action::Revoke { .. } => RuleCall::Revoke,
            _ => RuleCall::Describe,
        }
    }

    /// The error that means "part of this was already done".
    fn already_done(self) -> Option<&'static str> {
        match self {
            RuleCall::Authorize => Some("InvalidPermission.Duplicate"),
            RuleCall::Revoke => Some("InvalidPermission.NotFound"),
            RuleCall::Describe => None,
        }
    }

    async fn send<A: AwsApi>(self, aws: &A, id: &str, d: Direction, rules: &[Rule]) -> Result<(), AwsError> {
        match self {
            RuleCall::Authorize => aws.authorize(id, d, rules).await,
            RuleCall::Revoke => aws.revoke(id, d, rules).await,
            RuleCall::Describe => aws.update_descriptions(id, d, rules).await,
        }
    }
}

/// One batched call; when AWS refuses it because some rules were already there (or already
/// gone), the same rules one at a time, ignoring that error.
async fn rule_call<A: AwsApi>(
    aws: &A,
    call: RuleCall,
    id: &str,
    d: Direction,
    rules: &[Rule],
) -> Result<(), Error> {
    let benign = call.already_done();
    match call.send(aws, id, d, rules).await {
        Err(e) if benign.is_some_and(|b| e.is(b)) => {
            for rule in rules {
                match call.send(aws, id, d, std::slice::from_ref(rule)).await {
                    Err(e) if !benign.is_some_and(|b| e.is(b)) => return Err(e.into()),
                    _ => {}
                }
            }
            Ok(())
        }
        other => Ok(other?),
    }
}

/// Creates a group; a name AWS already has is explained (whose group it is).
async fn create_group<A: AwsApi>(
    aws: &A,
    tier: &str,
    name: &str,
    vpc_id: &str,
    description: &str,
    tags: &BTreeMap<String, String>,
    ownership: &Ownership,
) -> Result<String, Error> {
    match aws.create_group(vpc_id, name, description, tags).await {
        Ok(id) => Ok(id),
        Err(e) if e.is("InvalidGroup.Duplicate") => {
            let named = aws.groups_named(vpc_id, &[name.to_string()]).await?;
            let Some(found) = named.into_iter().next() else {
                // The name is taken by a group no describe shows yet (created moments ago).
                return Err(Error::NotYetVisible(format!(
                    "group {name} exists but is not listed yet"
                )));
            };
            if ownership.owns(&found.tags) {
                // Ours after all: it appeared after the observation (another reconcile, or a
                // describe that lagged). The next reconcile finds it.
                return Err(Error::ObservedTooEarly(format!(
                    "group {name} ({}) already exists",
                    found.id
                )));
            }
            // The pre-flight's own refusal, found late (the group appeared after the check).
            Err(Error::Refused(vec![Refusal::ForeignGroup {
                tier: tier.into(),
                name: name.into(),
                id: found.id,
                owner: owner_of(&found.tags),
            }]))
        }
        Err(e) if e.is("InvalidVpcID.NotFound") => Err(Error::VpcMissing(vpc_id.into())),
        Err(e) => Err(e.into()),
    }
}

/// Deletes a group; when it is in use, names what uses it.
async fn delete_group<A: AwsApi>(aws: &A, group_id: &str) -> Result<(), Error> {
    match aws.delete_group(group_id).await {
        Err(e) if e.is("DependencyViolation") => {
            let interfaces = aws.interfaces_using(group_id).await?;
            let what = if interfaces.is_empty() {
                "referenced by another group's rules".to_string()
            } else {
                {
                    let shown: Vec<String> = interfaces.iter().map(ToString::to_string).collect();
                    format!("in use by network interface(s) {}", shown.join(", "))
                }
            };
            Err(Error::DeletionBlocked(vec![format!(
                "group {group_id} is {what}"
            )]))
        }
        other => Ok(other?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn not_found(id: &str) -> Error {
        Error::Aws(AwsError::Service {
            operation: "AuthorizeSecurityGroupIngress",
            code: "InvalidGroup.NotFound".into(),
            message: format!("The security group '{id}' does not exist"),
        })
    }

    #[test]
    fn a_missing_own_group_is_eventual_consistency_and_a_missing_peer_is_not() {
        let ids = BTreeMap::from([("web".to_string(), "sg-0123".to_string())]);
        let own = own_group_not_visible(not_found("sg-0123"), &ids);
        assert!(matches!(own, Error::NotYetVisible(_)), "{own:?}");
        assert_eq!(own.classify().reason, "AwsEventuallyConsistent");
        assert_eq!(own.classify().health, super::super::Health::Reconciling);
        let peer = own_group_not_visible(not_found("sg-0999"), &ids);
        assert_eq!(peer.classify().reason, "PeerNotFound");
    }
}
