//! The stage driver: resolve inputs → observe → diff → pre-flight → execute. The controller
//! (`run`) and the pipeline commands (`plan`, `apply`, `destroy`) all call [`converge`] and
//! [`teardown`]; they differ only in where inputs come from (a [`References`] source, the VPC
//! id kept in status) and where the result goes (status and Events, or stdout).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;

use super::shared::View;
use super::{Error, execute};
use crate::api::DeletionPolicy;
use crate::aws::AwsApi;
use crate::aws::recent::Recent;
use crate::diff::{self, Action, Adoption, Inputs, Observed, ObservedParameter, Plan, Quota};
use crate::model::{self, DesiredSet, Ownership, SetIdentity, ValidatedSet, VpcSource};

/// `(namespace, set, tier)` of another set's tier.
pub type SetRefKey = (String, String, String);

/// Where other sets' group ids come from: their status in a cluster, their published
/// parameters without one.
pub trait References: Send + Sync {
    /// The ids known so far; a missing one leaves its rules out (the set waits).
    fn group_ids(
        &self,
        refs: &BTreeSet<SetRefKey>,
    ) -> impl Future<Output = Result<BTreeMap<SetRefKey, String>, Error>> + Send;
}

/// Whether the driver may write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Carry the plan out (unless the set is `ObserveOnly`).
    Execute,
    /// Compute and return the plan only (`sg-provisioner plan`).
    PlanOnly,
}

/// What the caller knows from before: status, and whether the spec changed since.
#[derive(Clone, Debug, Default)]
pub struct Known {
    /// The VPC id resolved by an earlier reconcile (kept in status: a set's VPC never changes).
    pub vpc_id: Option<String>,
    /// A spec change re-reads the parameters' tags, to bring them along; a resync does not.
    pub spec_changed: bool,
    /// Whether the set may adopt groups (the controller's `--adoption-namespaces`).
    pub adoption: Adoption,
    /// The account's rules quota (the controller's `--max-*-rules`).
    pub quota: Quota,
    /// Actions that failed permanently for this generation: not sent again (see `execute`).
    pub held: execute::Held,
    /// A resync may start from the region's shared view (`shared`): when the set matches it,
    /// nothing of the set's own is read.
    pub view: Option<Arc<View>>,
}

/// The outcome of [`converge`].
#[derive(Clone, Debug)]
pub struct Converged {
    pub vpc_id: String,
    pub desired: DesiredSet,
    pub plan: Plan,
    /// Each tier's group id (after the plan ran, when it ran).
    pub ids: BTreeMap<String, String>,
    /// False for `PlanOnly` and `ObserveOnly`: nothing was written.
    pub executed: bool,
}

pub async fn converge<A: AwsApi, R: References>(
    aws: &A,
    refs: &R,
    set: &ValidatedSet,
    cluster: &str,
    known: &Known,
    mode: Mode,
) -> Result<Converged, Error> {
    let desired = model::plan(set, cluster);
    let vpc_id = resolve_vpc(aws, &set.vpc, known.vpc_id.as_deref()).await?;
    let mut inputs = Inputs {
        set_refs: refs.group_ids(&desired.set_refs()).await?,
        vpc_id: vpc_id.clone(),
        adoption: known.adoption.clone(),
        vpc_ipv6: false,
        quota: known.quota,
    };
    if let Some(plan) = unchanged_in_view(&desired, known, &inputs) {
        let ids = super::existing_ids(&plan.groups);
        let executed = mode == Mode::Execute && !set.identity.observe_only();
        return Ok(Converged {
            vpc_id,
            desired,
            plan,
            ids,
            executed,
        });
    }
    let mut observed = observe(
        aws,
        &desired.ownership,
        &desired.parameter_prefix(),
        known.spec_changed,
    )
    .await?;
    observe_adoptable(aws, &desired, &mut observed, &vpc_id).await?;
    inputs.vpc_ipv6 = observe_for_creation(aws, &desired, &mut observed, &vpc_id).await?;
    let mut plan = diff_reading_tags(aws, &mut observed, |o| diff::diff(&desired, o, &inputs)).await?;
    preflight(&plan)?;
    hold_groups_in_use(aws, &mut plan, &observed).await?;
    let executed = mode == Mode::Execute && !set.identity.observe_only();
    let ids = if executed {
        execute::run(aws, &plan, &desired.ownership, &known.held).await?
    } else {
        super::existing_ids(&plan.groups)
    };
    if executed && !plan.blocked.is_empty() {
        // The rest is done; the held deletions are retried with backoff.
        return Err(Error::DeletionBlocked(plan.blocked.clone()));
    }
    Ok(Converged {
        vpc_id,
        desired,
        plan,
        ids,
        executed,
    })
}

/// The (empty) plan, when the shared view shows the set as the spec wants it. Anything else,
/// a difference or a refusal, is left to a fresh observation of the set.
fn unchanged_in_view(desired: &DesiredSet, known: &Known, inputs: &Inputs) -> Option<Plan> {
    let view = known.view.as_ref().filter(|_| !known.spec_changed)?;
    let observed = view.observed(&desired.ownership, &desired.parameter_prefix());
    let plan = diff::diff(desired, &observed, inputs);
    let quiet = plan.actions.is_empty()
        && plan.refusals.is_empty()
        && plan.unread_parameter_tags.is_empty()
        && plan.blocked.is_empty();
    quiet.then_some(plan)
}

/// The outcome of [`teardown`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Teardown {
    /// `deletionPolicy: Retain`: AWS is left as it is.
    Retained,
    /// `ObserveOnly`: the controller never writes for the set, not even to delete it.
    ObserveOnly,
    /// The deletion plan; `executed` when it was carried out.
    Planned { plan: Plan, executed: bool },
}

pub async fn teardown<A: AwsApi>(
    aws: &A,
    set: &SetIdentity,
    cluster: &str,
    mode: Mode,
) -> Result<Teardown, Error> {
    if set.deletion_policy == DeletionPolicy::Retain {
        return Ok(Teardown::Retained);
    }
    if set.observe_only() {
        return Ok(Teardown::ObserveOnly);
    }
    let ownership = Ownership::of(set, cluster);
    let mut observed = observe(aws, &ownership, &format!("/sg/{}/", set.name), true).await?;
    let names: Vec<String> = observed
        .groups
        .iter()
        .map(|g| Recent::group_name(&g.vpc_id, &g.name))
        .collect();
    let listed = observed
        .groups
        .iter()
        .map(|g| g.id.as_str())
        .chain(names.iter().map(String::as_str));
    let listed: Vec<&str> = listed
        .chain(observed.parameters.keys().map(String::as_str))
        .collect();
    let unlisted = aws.unlisted_recent_creates(&ownership.owner, &listed);
    if !unlisted.is_empty() {
        // Created moments ago and not listed yet: deleting "everything listed" would leave it.
        return Err(Error::NotYetVisible(format!(
            "created moments ago, not listed yet: {}",
            unlisted.join(", ")
        )));
    }
    let mut plan = diff_reading_tags(aws, &mut observed, |o| diff::teardown(o, &ownership)).await?;
    hold_groups_in_use(aws, &mut plan, &observed).await?;
    let executed = mode == Mode::Execute;
    if executed && !plan.blocked.is_empty() {
        // Nothing is revoked while anything still uses a group: its traffic keeps flowing.
        return Err(Error::DeletionBlocked(plan.blocked));
    }
    if executed {
        execute::run(aws, &plan, &ownership, &execute::Held::new()).await?;
    }
    Ok(Teardown::Planned { plan, executed })
}

/// The set's VPC: the literal id, the one kept from before, or the SSM parameter's value.
pub async fn resolve_vpc<A: AwsApi>(
    aws: &A,
    source: &VpcSource,
    known: Option<&str>,
) -> Result<String, Error> {
    match (source, known) {
        // The CRD refuses the change; a set stored without that rule must not move either.
        (VpcSource::Id(id), Some(was)) if id != was => Err(Error::VpcChanged {
            was: was.into(),
            now: id.clone(),
        }),
        (VpcSource::Id(id), _) => Ok(id.clone()),
        (VpcSource::Parameter(_), Some(id)) => Ok(id.into()),
        (VpcSource::Parameter(path), None) => aws
            .parameter(path)
            .await?
            .ok_or_else(|| Error::VpcParameterMissing(path.clone())),
    }
}

/// One DescribeSecurityGroups for the whole set (by owner and cluster tag) and one
/// GetParametersByPath; the parameters' tags too when `with_tags`.
pub async fn observe<A: AwsApi>(
    aws: &A,
    ownership: &Ownership,
    prefix: &str,
    with_tags: bool,
) -> Result<Observed, Error> {
    let (groups, values) = futures::try_join!(aws.owned_groups(ownership), aws.parameters_under(prefix))?;
    let mut observed = Observed {
        groups,
        parameters: values
            .into_iter()
            .map(|(name, value)| (name, ObservedParameter { value, tags: None }))
            .collect(),
        adoptable: BTreeMap::new(),
        same_name: Vec::new(),
    };
    if with_tags {
        let names: Vec<String> = observed.parameters.keys().cloned().collect();
        read_parameter_tags(aws, &mut observed, &names).await?;
    }
    Ok(observed)
}

/// The groups adoption annotations name, for tiers without a group of ours.
async fn observe_adoptable<A: AwsApi>(
    aws: &A,
    desired: &DesiredSet,
    observed: &mut Observed,
    vpc_id: &str,
) -> Result<(), Error> {
    let (kept, _) = diff::choose_groups(desired, observed, vpc_id);
    let wanted: Vec<(String, String)> = desired
        .adopt
        .iter()
        .filter(|(tier, _)| !kept.contains_key(*tier))
        .map(|(tier, id)| (tier.clone(), id.clone()))
        .collect();
    for (tier, id) in wanted {
        let found = aws.group_by_id(&id).await?;
        observed.adoptable.insert(tier, found);
    }
    Ok(())
}

/// What only groups about to be created need: the groups that already have their names (not
/// ours: a collision refuses the plan; ours but not yet in the view: retry), and whether the VPC
/// is dual-stack (their default egress depends on it). Nothing is read when no group is to be
/// created.
async fn observe_for_creation<A: AwsApi>(
    aws: &A,
    desired: &DesiredSet,
    observed: &mut Observed,
    vpc_id: &str,
) -> Result<bool, Error> {
    let (kept, _) = diff::choose_groups(desired, observed, vpc_id);
    let to_create: Vec<String> = desired
        .groups
        .iter()
        .filter(|g| !kept.contains_key(&g.tier) && !observed.adoptable.contains_key(&g.tier))
        .map(|g| g.name.clone())
        .collect();
    if to_create.is_empty() {
        return Ok(false);
    }
    let ours: BTreeSet<&str> = observed.groups.iter().map(|g| g.id.as_str()).collect();
    let named = aws.groups_named(vpc_id, &to_create).await?;
    let (late, foreign): (Vec<_>, Vec<_>) = named
        .into_iter()
        .filter(|g| !ours.contains(g.id.as_str()))
        .partition(|g| desired.ownership.owns(&g.tags));
    // Ours by its tags but not in the owner-tag view yet (EC2 lists new groups by tag late, or
    // the shared view is older than it): not a foreign group, so retry rather than stall.
    if let Some(group) = late.first() {
        return Err(Error::ObservedTooEarly(format!(
            "group {} ({}) is ours but not listed by its tags yet",
            group.name, group.id
        )));
    }
    observed.same_name = foreign;
    Ok(aws.vpc_has_ipv6(vpc_id).await?)
}

async fn read_parameter_tags<A: AwsApi>(
    aws: &A,
    observed: &mut Observed,
    names: &[String],
) -> Result<(), Error> {
    for name in names {
        let tags = aws.parameter_tags(name).await?;
        if let Some(p) = observed.parameters.get_mut(name) {
            p.tags = Some(tags);
        }
    }
    Ok(())
}

/// Diffs; when the diff needs parameter tags it was not given, reads exactly those and diffs
/// again (the second diff has every tag it can ask for).
async fn diff_reading_tags<A: AwsApi>(
    aws: &A,
    observed: &mut Observed,
    diff: impl Fn(&Observed) -> Plan,
) -> Result<Plan, Error> {
    let plan = diff(observed);
    if plan.unread_parameter_tags.is_empty() {
        return Ok(plan);
    }
    read_parameter_tags(aws, observed, &plan.unread_parameter_tags).await?;
    Ok(diff(observed))
}

/// Finds what still uses each group the plan deletes (network interfaces, rules of groups that
/// are not the set's own) and holds those deletions back, naming the users.
async fn hold_groups_in_use<A: AwsApi>(aws: &A, plan: &mut Plan, observed: &Observed) -> Result<(), Error> {
    let ours: BTreeSet<&str> = observed.groups.iter().map(|g| g.id.as_str()).collect();
    let doomed: Vec<String> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::DeleteGroup { group_id, .. } => Some(group_id.clone()),
            _ => None,
        })
        .collect();
    let mut in_use = BTreeMap::new();
    for id in doomed {
        let mut users: Vec<String> = aws
            .interfaces_using(&id)
            .await?
            .iter()
            .map(|i| format!("network interface {i}"))
            .collect();
        for g in aws.groups_referencing(&id).await? {
            if !ours.contains(g.id.as_str()) {
                users.push(format!(
                    "a rule of group {} ({}, {})",
                    g.id,
                    g.name,
                    diff::owner_of(&g.tags)
                ));
            }
        }
        if !users.is_empty() {
            in_use.insert(
                id.clone(),
                format!("group {id} is in use by {}", users.join(", ")),
            );
        }
    }
    diff::hold(plan, &in_use);
    Ok(())
}

/// Every check that can refuse the plan, before its first write.
pub fn preflight(plan: &Plan) -> Result<(), Error> {
    if plan.refusals.is_empty() {
        Ok(())
    } else {
        Err(Error::Refused(plan.refusals.clone()))
    }
}
