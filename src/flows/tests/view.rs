//! Desired and observed groups map into the same view: the same questions, the same answers.

use super::*;
use crate::diff::{ConcretePeer, GroupRef, ObservedGroup, Rule};
use crate::model::{OWNER_TAG, TIER_TAG};

fn desired() -> crate::model::DesiredSet {
    let set: SecurityGroupSet = serde_saphyr::from_str(SEED).unwrap();
    model::plan(&model::validate(&set, &Limits::default()).unwrap(), "default")
}

fn rule(protocol: &str, port: i32, peer: ConcretePeer) -> Rule {
    Rule {
        traffic: RuleMatch::from_aws(protocol, Some(port), Some(port)),
        peer,
        description: Some(format!("{protocol}/{port}")),
    }
}

fn group(id: &str, tier: &str, ingress: Vec<Rule>, egress: Vec<Rule>) -> ObservedGroup {
    ObservedGroup {
        id: id.into(),
        name: format!("globalbank-prod-c001-us-west-2-sg-{tier}"),
        vpc_id: "vpc-1".into(),
        tags: [
            (TIER_TAG.to_string(), tier.to_string()),
            (
                OWNER_TAG.to_string(),
                "platform/globalbank-prod-c001-us-west-2-sg".to_string(),
            ),
        ]
        .into(),
        ingress,
        egress,
        ..Default::default()
    }
}

fn sg(id: &str) -> ConcretePeer {
    ConcretePeer::Group(GroupRef::Existing(id.into()))
}

/// The seed as applied, except db also takes 5432 from an outside group, and app has no group.
fn observed() -> Vec<ObservedGroup> {
    vec![
        group(
            "sg-000000000000000b1",
            "web",
            vec![rule("tcp", 443, ConcretePeer::Cidr("0.0.0.0/0".into()))],
            vec![rule("tcp", 8080, sg("sg-000000000000000a1"))],
        ),
        group(
            "sg-000000000000000d1",
            "db",
            vec![
                rule("tcp", 5432, sg("sg-000000000000000a1")),
                rule("tcp", 5432, sg("sg-0ffffffffffffffff")),
            ],
            vec![],
        ),
        group("sg-000000000000000d2", "db", vec![], vec![]),
    ]
}

#[test]
fn desired_view_names_tiers_and_spec_fields() {
    let view = seed();
    assert_eq!(view.set, "platform/globalbank-prod-c001-us-west-2-sg");
    let tiers: Vec<_> = view.tiers.iter().map(|t| t.tier.as_str()).collect();
    assert_eq!(tiers, ["web", "app", "db"]);
    assert_eq!(
        view.tier("app").unwrap().egress[0].peer,
        RulePeer::Tier("db".into())
    );
    assert!(view.tiers.iter().all(|t| t.group_id.is_none()));
    assert!(
        view.tiers
            .iter()
            .flat_map(|t| t.ingress.iter().chain(&t.egress))
            .all(|r| r.origin.is_some())
    );
}

#[test]
fn observed_groups_map_ids_of_the_set_to_tiers() {
    let (view, notes) = FlowView::from_observed(&desired(), &observed());
    let db = view.tier("db").unwrap();
    assert_eq!(
        db.group_id.as_deref(),
        Some("sg-000000000000000d1"),
        "lowest id kept"
    );
    assert_eq!(db.ingress[1].peer, RulePeer::Group("sg-0ffffffffffffffff".into()));
    let web = view.tier("web").unwrap();
    assert_eq!(
        web.egress[0].peer,
        RulePeer::Group("sg-000000000000000a1".into()),
        "app has no group"
    );
    assert_eq!(
        notes,
        [
            "tier app has no group in AWS (not applied yet?): no rule lets traffic in or out of it",
            "tier db: 2 groups named globalbank-prod-c001-us-west-2-sg-db in AWS; using the lowest id, sg-000000000000000d1",
        ]
    );
}

#[test]
fn live_answers_use_group_ids() {
    let (view, _) = FlowView::from_observed(&desired(), &observed());
    let e = ask(&view, "sg-0ffffffffffffffff", "db", "5432");
    assert!(e.allowed);
    assert_eq!(e.ingress.group_id.as_deref(), Some("sg-000000000000000d1"));
    assert_eq!(
        e.ingress.allowed_by[0].rule.group_id.as_deref(),
        Some("sg-000000000000000d1")
    );
    let e = ask(&view, "sg-000000000000000b1", "internet", "443");
    assert_eq!(
        e.egress.tier.as_deref(),
        Some("web"),
        "the set's group id is its tier"
    );
    assert!(
        !ask(&view, "app", "db", "5432").allowed,
        "app has no group, so no egress"
    );
    assert!(
        ask(&seed(), "app", "db", "5432").allowed,
        "the file says otherwise"
    );
}
