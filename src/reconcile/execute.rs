//! Carries out a plan's actions against AWS, in the plan's order.

use std::collections::BTreeMap;

use kube::ResourceExt;
use tracing::{info, warn};

use super::{ADOPT_ANNOTATION, Error, owner_of};
use crate::api::SecurityGroupSet;
use crate::aws::Aws;
use crate::diff::{Action, GroupRef, Observed, Plan, Rule};
use crate::model::{DesiredSet, Direction, OWNER_TAG};

/// Executes the plan; returns each tier's group id.
pub async fn run(
    aws: &Aws,
    desired: &DesiredSet,
    plan: &Plan,
    observed: &Observed,
    vpc_id: &str,
    spec_changed: bool,
) -> Result<BTreeMap<String, String>, Error> {
    let mut ids = super::existing_ids(&plan.groups);
    let group_id = |ids: &BTreeMap<String, String>, g: &GroupRef| match g {
        GroupRef::Existing(id) => id.clone(),
        GroupRef::Pending(tier) => ids.get(tier).cloned().unwrap_or_default(),
    };
    for action in &plan.actions {
        info!(%action, "executing");
        match action {
            Action::CreateGroup {
                tier,
                name,
                description,
                tags,
            } => {
                let id = match aws.create_group(vpc_id, name, description, tags).await {
                    Ok(id) => id,
                    Err(e) if e.is("InvalidGroup.Duplicate") => {
                        let foreign = aws.group_by_name(vpc_id, name).await?.unwrap_or_default();
                        return Err(Error::ForeignGroup {
                            tier: tier.clone(),
                            name: name.clone(),
                            id: foreign.id,
                            owner: owner_of(&foreign.tags),
                            annotation: format!("{ADOPT_ANNOTATION}{tier}"),
                        });
                    }
                    Err(e) if e.is("InvalidVpcID.NotFound") => return Err(Error::VpcMissing(vpc_id.into())),
                    Err(e) => return Err(e.into()),
                };
                ids.insert(tier.clone(), id);
            }
            Action::Authorize {
                group,
                direction,
                rules,
                ..
            } => {
                let id = group_id(&ids, group);
                one_by_one_on(
                    aws.authorize(&id, *direction, rules, &ids).await,
                    "InvalidPermission.Duplicate",
                    aws,
                    &id,
                    *direction,
                    rules,
                    &ids,
                    Aws::authorize,
                )
                .await?;
            }
            Action::Revoke {
                group,
                direction,
                rules,
                ..
            } => {
                let id = group_id(&ids, group);
                one_by_one_on(
                    aws.revoke(&id, *direction, rules, &ids).await,
                    "InvalidPermission.NotFound",
                    aws,
                    &id,
                    *direction,
                    rules,
                    &ids,
                    Aws::revoke,
                )
                .await?;
            }
            Action::UpdateDescriptions {
                group,
                direction,
                rules,
                ..
            } => {
                aws.update_descriptions(&group_id(&ids, group), *direction, rules, &ids)
                    .await?;
            }
            Action::Tag { group_id, tags, .. } => aws.tag(group_id, tags).await?,
            Action::Untag { group_id, keys, .. } => aws.untag(group_id, keys).await?,
            Action::PutParameter {
                name, group, tags, ..
            } => {
                let value = group_id(&ids, group);
                let exists = observed.parameters.contains_key(name)
                    || !aws.create_parameter(name, &value, tags).await?;
                if exists {
                    ensure_parameter_ours(aws, name, &desired.ownership.owner).await?;
                    aws.overwrite_parameter(name, &value).await?;
                    aws.tag_parameter(name, tags).await?;
                }
            }
            Action::DeleteGroup { group_id, .. } => delete_group(aws, group_id).await?,
            Action::DeleteParameter { name } => {
                if ensure_parameter_ours(aws, name, &desired.ownership.owner)
                    .await
                    .is_ok()
                {
                    aws.delete_parameter(name).await?;
                }
            }
        }
    }
    // A spec change may change the set's tags: bring the existing parameters' tags along.
    // (Only then: a resync with no change must not write.)
    if spec_changed {
        for group in &desired.groups {
            let rewritten = plan
                .actions
                .iter()
                .any(|a| matches!(a, Action::PutParameter { name, .. } if *name == group.parameter_name));
            if !rewritten && observed.parameters.contains_key(&group.parameter_name) {
                aws.tag_parameter(&group.parameter_name, &group.tags).await?;
            }
        }
    }
    Ok(ids)
}

/// A batched call that failed because some rules were already there (or already gone) is
/// retried one rule at a time, ignoring that error: the end state is what was asked.
#[allow(clippy::too_many_arguments)]
async fn one_by_one_on<F>(
    batched: Result<(), crate::aws::AwsError>,
    benign: &str,
    aws: &Aws,
    id: &str,
    direction: Direction,
    rules: &[Rule],
    ids: &BTreeMap<String, String>,
    call: F,
) -> Result<(), Error>
where
    F: AsyncFn(&Aws, &str, Direction, &[Rule], &BTreeMap<String, String>) -> Result<(), crate::aws::AwsError>,
{
    match batched {
        Err(e) if e.is(benign) => {
            for rule in rules {
                match call(aws, id, direction, std::slice::from_ref(rule), ids).await {
                    Err(e) if !e.is(benign) => return Err(e.into()),
                    _ => {}
                }
            }
            Ok(())
        }
        other => Ok(other?),
    }
}

/// Refuses to touch a parameter another set (or somebody else) tagged as theirs.
async fn ensure_parameter_ours(aws: &Aws, name: &str, owner: &str) -> Result<(), Error> {
    let tags = aws.parameter_tags(name).await?;
    match tags.get(OWNER_TAG) {
        Some(o) if o != owner => Err(Error::ForeignParameter {
            name: name.into(),
            owner: o.clone(),
        }),
        _ => Ok(()),
    }
}

/// Deletes a group; when it is in use, names what uses it.
async fn delete_group(aws: &Aws, group_id: &str) -> Result<(), Error> {
    match aws.delete_group(group_id).await {
        Err(e) if e.is("DependencyViolation") => {
            let interfaces = aws.interfaces_using(group_id).await?;
            let what = if interfaces.is_empty() {
                "referenced by another group's rules".to_string()
            } else {
                format!("in use by network interface(s) {}", interfaces.join(", "))
            };
            Err(Error::DeletionBlocked(vec![format!(
                "group {group_id} is {what}"
            )]))
        }
        other => Ok(other?),
    }
}

/// Deletion: revokes, then every group (collecting what blocks), then the parameters.
pub async fn teardown(aws: &Aws, steps: &[Action], owner: &str) -> Result<(), Error> {
    let none = BTreeMap::new();
    let mut blocked = Vec::new();
    for step in steps {
        match step {
            Action::Revoke {
                group: GroupRef::Existing(id),
                direction,
                rules,
                ..
            } => {
                one_by_one_on(
                    aws.revoke(id, *direction, rules, &none).await,
                    "InvalidPermission.NotFound",
                    aws,
                    id,
                    *direction,
                    rules,
                    &none,
                    Aws::revoke,
                )
                .await?;
            }
            Action::DeleteGroup { group_id, .. } => match delete_group(aws, group_id).await {
                Err(Error::DeletionBlocked(why)) => blocked.extend(why),
                other => other?,
            },
            // Consumers find the ids through the parameters: they go only once the groups are gone.
            Action::DeleteParameter { name } if blocked.is_empty() => {
                match ensure_parameter_ours(aws, name, owner).await {
                    Ok(()) => aws.delete_parameter(name).await?,
                    Err(e) => warn!(error = %e, "parameter left in place"),
                }
            }
            _ => {}
        }
    }
    if blocked.is_empty() {
        Ok(())
    } else {
        Err(Error::DeletionBlocked(blocked))
    }
}

/// Adopts groups the user named in `sgprovisioner.io/adopt-{tier}` annotations: tags them as
/// ours. Returns whether anything was adopted (then the caller observes again).
pub async fn adopt(
    set: &SecurityGroupSet,
    aws: &Aws,
    desired: &DesiredSet,
    plan: &Plan,
    vpc_id: &str,
) -> Result<bool, Error> {
    let mut adopted = false;
    for (tier, group) in &plan.groups {
        let GroupRef::Pending(_) = group else { continue };
        let Some(id) = set.annotations().get(&format!("{ADOPT_ANNOTATION}{tier}")) else {
            continue;
        };
        let wanted = desired.group(tier).expect("plan tiers come from the desired set");
        let refuse = |why: String| Error::AdoptionRefused {
            tier: tier.clone(),
            id: id.clone(),
            why,
        };
        let Some(found) = aws.group_by_id(id).await? else {
            return Err(refuse("no such group".into()));
        };
        if found.vpc_id != vpc_id {
            return Err(refuse(format!(
                "it is in {}, the set's VPC is {vpc_id}",
                found.vpc_id
            )));
        }
        if found.name != wanted.name {
            return Err(refuse(format!(
                "it is named {}, the tier's group must be named {}",
                found.name, wanted.name
            )));
        }
        if let Some(owner) = found.tags.get(OWNER_TAG)
            && *owner != desired.ownership.owner
        {
            return Err(refuse(format!("it is owned by {owner}")));
        }
        info!(tier, id, "adopting group");
        aws.tag(id, &wanted.tags).await?;
        adopted = true;
    }
    Ok(adopted)
}
