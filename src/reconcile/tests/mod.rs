//! The stage driver against the in-memory account: the plan lists exactly the writes made;
//! `refusals`: what the pre-flight refuses, with nothing written.

use std::collections::{BTreeMap, BTreeSet};

use super::Error;
use super::driver::{self, Known, Mode, References, SetRefKey, Teardown};
use crate::api::{ManagementPolicy, SecurityGroupSet};
use crate::aws::fake::{FakeAws, FakeParameter};
use crate::diff::{Action, ObservedGroup, Plan, Refusal};
use crate::model::{self, CLUSTER_TAG, Limits, OWNER_TAG};

struct NoRefs;

impl References for NoRefs {
    async fn group_ids(&self, _: &BTreeSet<SetRefKey>) -> Result<BTreeMap<SetRefKey, String>, Error> {
        Ok(BTreeMap::new())
    }
}

const VPC_PARAM: &str = "/vpc/globalbank-prod-c001-us-west-2-vpc/VPCId";

fn seed() -> SecurityGroupSet {
    let mut set: SecurityGroupSet = serde_saphyr::from_str(include_str!(
        "../../../examples/globalbank-prod-c001-us-west-2-sg.yaml"
    ))
    .unwrap();
    set.metadata.namespace = Some("platform".into());
    set
}

fn account() -> FakeAws {
    let aws = FakeAws::default();
    let vpc = FakeParameter {
        value: "vpc-00000001".into(),
        tags: BTreeMap::new(),
    };
    aws.state.lock().unwrap().parameters.insert(VPC_PARAM.into(), vpc);
    aws
}

fn changed() -> Known {
    Known {
        vpc_id: None,
        spec_changed: true,
        ..Known::default()
    }
}

async fn run(
    aws: &FakeAws,
    set: &SecurityGroupSet,
    known: &Known,
    mode: Mode,
) -> Result<driver::Converged, Error> {
    let validated = model::validate(set, &Limits::default()).expect("valid");
    driver::converge(aws, &NoRefs, &validated, "default", known, mode).await
}

fn sorted(mut ops: Vec<&'static str>) -> Vec<&'static str> {
    ops.sort();
    ops
}

fn operations(plan: &Plan) -> Vec<&'static str> {
    sorted(plan.actions.iter().map(Action::operation).collect())
}

/// Plans, then executes, and checks the writes made are the plan's actions, as multisets.
async fn plan_then_apply(aws: &FakeAws, set: &SecurityGroupSet, known: &Known) -> Plan {
    let planned = run(aws, set, known, Mode::PlanOnly).await.unwrap().plan;
    assert_eq!(aws.writes(), Vec::<&str>::new(), "plan writes nothing");
    let done = run(aws, set, known, Mode::Execute).await.unwrap();
    assert_eq!(done.plan, planned, "the same AWS state gives the same plan");
    assert_eq!(
        sorted(aws.writes()),
        operations(&planned),
        "writes are the plan's actions"
    );
    aws.clear_calls();
    planned
}

mod refusals;
mod view;

#[tokio::test]
async fn create_then_resync_writes_the_plan_then_nothing() {
    let aws = account();
    let plan = plan_then_apply(&aws, &seed(), &changed()).await;
    // 3 groups, 3 default-egress revokes, 3 parameters, and the authorizations.
    assert_eq!(
        plan.actions.iter().filter(|a| a.kind() == "create-group").count(),
        3
    );
    assert_eq!(
        plan.actions
            .iter()
            .filter(|a| a.kind() == "create-parameter")
            .count(),
        3
    );

    let done = run(&aws, &seed(), &Known::default(), Mode::Execute)
        .await
        .unwrap();
    assert!(done.plan.actions.is_empty(), "{:#?}", done.plan.actions);
    assert_eq!(aws.writes(), Vec::<&str>::new());
    assert_eq!(
        sorted(aws.reads()),
        ["DescribeSecurityGroups", "GetParameter", "GetParametersByPath"],
        "the VPC parameter is read only because the test keeps no status"
    );
    assert_eq!(done.ids.len(), 3);
}

#[tokio::test]
async fn update_and_drift_repair_write_exactly_the_plan() {
    let aws = account();
    plan_then_apply(&aws, &seed(), &changed()).await;
    let mut set = seed();
    set.spec.tags.insert("CostCenter".into(), "42".into());
    set.spec.tiers[0].ingress.remove(1);
    let plan = plan_then_apply(&aws, &set, &changed()).await;
    let kinds: BTreeSet<&str> = plan.actions.iter().map(Action::kind).collect();
    assert!(
        kinds.contains("revoke") && kinds.contains("tag") && kinds.contains("tag-parameter"),
        "{kinds:?}"
    );

    // Out of band: a rule added, a parameter changed.
    {
        let mut state = aws.state.lock().unwrap();
        let extra = crate::diff::Rule {
            traffic: model::RuleMatch::from_aws("tcp", Some(22), Some(22)),
            peer: crate::diff::ConcretePeer::Cidr("0.0.0.0/0".into()),
            description: None,
        };
        state.groups[0].ingress.push(extra);
        let name = model::parameter_name(&set.metadata.name.clone().unwrap(), "db");
        state.parameters.get_mut(&name).unwrap().value = "sg-00000000".into();
    }
    let plan = plan_then_apply(&aws, &set, &Known::default()).await;
    let kinds: Vec<&str> = plan.actions.iter().map(Action::kind).collect();
    assert_eq!(kinds, ["revoke", "overwrite-parameter"]);
}

#[tokio::test]
async fn adoption_tags_the_named_group_then_manages_it() {
    let aws = account();
    let mut set = seed();
    let name = format!("{}-db", set.metadata.name.clone().unwrap());
    aws.add_group(ObservedGroup {
        id: "sg-0000abcd".into(),
        name,
        vpc_id: "vpc-00000001".into(),
        ..Default::default()
    });
    set.metadata.annotations.get_or_insert_default().insert(
        format!("{}db", crate::api::ADOPT_ANNOTATION),
        "sg-0000abcd".into(),
    );
    let plan = plan_then_apply(&aws, &set, &changed()).await;
    let adopt = plan
        .actions
        .iter()
        .position(|a| matches!(a, Action::AdoptGroup { group_id, .. } if group_id == "sg-0000abcd"));
    let first_authorize = plan.actions.iter().position(|a| a.kind() == "authorize");
    assert!(
        adopt.is_some() && adopt < first_authorize,
        "adopted before its rules change: {:#?}",
        plan.actions
    );
    assert_eq!(
        plan.actions.iter().filter(|a| a.kind() == "create-group").count(),
        2
    );
}

#[tokio::test]
async fn observe_only_plans_and_writes_nothing() {
    let aws = account();
    let mut set = seed();
    set.spec.management_policy = ManagementPolicy::ObserveOnly;
    let done = run(&aws, &set, &changed(), Mode::Execute).await.unwrap();
    assert!(!done.executed);
    assert!(!done.plan.actions.is_empty());
    assert_eq!(aws.writes(), Vec::<&str>::new());
    let identity = model::SetIdentity::of(&set);
    let teardown = driver::teardown(&aws, &identity, "default", Mode::Execute)
        .await
        .unwrap();
    assert_eq!(teardown, Teardown::ObserveOnly);
}

#[tokio::test]
async fn teardown_writes_its_plan_and_keeps_parameters_while_a_group_is_in_use() {
    let aws = account();
    let set = seed();
    plan_then_apply(&aws, &set, &changed()).await;
    let identity = model::SetIdentity::of(&set);
    let web = aws.state.lock().unwrap().groups[0].id.clone();
    aws.state
        .lock()
        .unwrap()
        .interfaces
        .insert(web, vec!["eni-1".into()]);
    let err = driver::teardown(&aws, &identity, "default", Mode::Execute)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::DeletionBlocked(why) if why[0].contains("eni-1")),
        "{err}"
    );
    assert_eq!(aws.state.lock().unwrap().parameters.len(), 4, "parameters kept");

    aws.state.lock().unwrap().interfaces.clear();
    aws.clear_calls();
    let Teardown::Planned { plan, .. } = driver::teardown(&aws, &identity, "default", Mode::PlanOnly)
        .await
        .unwrap()
    else {
        panic!("planned")
    };
    driver::teardown(&aws, &identity, "default", Mode::Execute)
        .await
        .unwrap();
    assert_eq!(sorted(aws.writes()), operations(&plan));
    let state = aws.state.lock().unwrap();
    assert!(state.groups.is_empty());
    assert_eq!(
        state.parameters.keys().collect::<Vec<_>>(),
        [VPC_PARAM],
        "only the VPC's own"
    );
}

#[test]
fn event_notes_are_cut_at_a_character_boundary() {
    let note = format!("{}é and more", "x".repeat(999));
    let cut = super::truncate_utf8(&note, 1000);
    assert_eq!(cut.len(), 999, "the 2-byte é would end at byte 1001");
    assert_eq!(super::truncate_utf8("short", 1000), "short");
}

#[tokio::test]
async fn a_dual_stack_vpc_ends_with_exactly_the_declared_egress() {
    let aws = account();
    aws.state
        .lock()
        .unwrap()
        .dual_stack_vpcs
        .push("vpc-00000001".into());
    plan_then_apply(&aws, &seed(), &changed()).await;
    let state = aws.state.lock().unwrap();
    let db = state.groups.iter().find(|g| g.name.ends_with("-db")).unwrap();
    assert!(
        db.egress.is_empty(),
        "the db tier declares no egress: {:?}",
        db.egress
    );
}

#[tokio::test]
async fn a_failed_authorize_stops_only_what_depends_on_it() {
    let aws = account();
    let mut set = seed();
    plan_then_apply(&aws, &set, &changed()).await;
    // Out of band: SSH from anywhere on db. In the spec: web also accepts a group that does not exist.
    let ssh = crate::diff::Rule {
        traffic: model::RuleMatch::from_aws("tcp", Some(22), Some(22)),
        peer: crate::diff::ConcretePeer::Cidr("0.0.0.0/0".into()),
        description: None,
    };
    aws.state.lock().unwrap().groups[2].ingress.push(ssh);
    let missing = crate::api::Peer::SecurityGroupId("sg-0000dead".into());
    set.spec.tiers[0].ingress[0].from.push(missing);
    set.spec.tiers[0].ingress.remove(1); // ... and drops its HTTP rule (a revoke after that authorize)
    let err = run(&aws, &set, &changed(), Mode::Execute).await.unwrap_err();
    let Error::Incomplete { failed, skipped, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        failed[0].0.starts_with("+ authorize ingress web")
            && failed[0].1.to_string().contains("InvalidGroup.NotFound"),
        "{err}"
    );
    assert!(
        skipped[0].starts_with("- revoke ingress web"),
        "the revoke waits for its replacement: {err}"
    );
    let state = aws.state.lock().unwrap();
    assert!(
        state.groups[2].ingress.iter().all(|r| r.traffic.from_port != 22),
        "the public SSH rule is gone anyway"
    );
}
