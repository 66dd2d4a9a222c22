//! The usual changes: create, drift, tags, parameters, removed tiers, duplicates, teardown.

use super::*;
use crate::model;

#[test]
fn empty_account_creates_everything_groups_first() {
    let plan = diff(&desired(), &Observed::default(), &inputs());
    let kinds: Vec<String> = plan.actions.iter().map(|a| a.to_string()).collect();
    // Each new group is created, then its default allow-all egress revoked at once.
    for (i, tier) in ["web", "app", "db"].iter().enumerate() {
        assert!(kinds[2 * i].starts_with("+ create group"), "{kinds:#?}");
        assert_eq!(
            kinds[2 * i + 1],
            format!("- revoke egress {tier}: all to 0.0.0.0/0"),
            "{kinds:#?}"
        );
    }
    // Cross-tier peers point at the pending groups.
    let web_egress = plan
        .actions
        .iter()
        .find_map(|a| match a {
            Action::Authorize {
                tier,
                direction: Direction::Egress,
                rules,
                ..
            } if tier == "web" => Some(rules),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        web_egress[1].peer,
        ConcretePeer::Group(GroupRef::Pending("app".into()))
    );
    assert_eq!(
        plan.actions
            .iter()
            .filter(|a| matches!(a, Action::CreateParameter { .. }))
            .count(),
        3
    );
    let first_authorize = plan
        .actions
        .iter()
        .position(|a| matches!(a, Action::Authorize { .. }))
        .unwrap();
    assert_eq!(first_authorize, 6, "rules are authorized once every group exists");
}

#[test]
fn converged_set_plans_nothing() {
    assert_eq!(diff(&desired(), &converged(), &inputs()).actions, vec![]);
}

#[test]
fn description_only_change_is_made_in_place() {
    let mut observed = converged();
    observed.groups[0].ingress[0].description = Some("old words".into());
    let plan = diff(&desired(), &observed, &inputs());
    assert_eq!(plan.actions.len(), 1, "{:#?}", plan.actions);
    assert!(
        matches!(&plan.actions[0], Action::UpdateDescriptions { tier, rules, .. } if tier == "web" && rules[0].description.as_deref() == Some("HTTPS from the internet"))
    );
}

#[test]
fn drift_is_reverted_make_before_break() {
    let mut observed = converged();
    observed.groups[2]
        .ingress
        .push(rule(22, ConcretePeer::Cidr("0.0.0.0/0".into()), "oops"));
    observed.groups[1].egress.clear();
    let actions = diff(&desired(), &observed, &inputs()).actions;
    assert_eq!(actions.len(), 2, "{actions:#?}");
    assert!(
        matches!(&actions[0], Action::Authorize { tier, direction: Direction::Egress, .. } if tier == "app")
    );
    assert!(
        matches!(&actions[1], Action::Revoke { tier, rules, .. } if tier == "db" && rules[0].traffic == tcp(22))
    );
}

#[test]
fn tags_and_parameters_are_reconciled() {
    let mut observed = converged();
    observed.groups[0].tags.insert("Environment".into(), "dev".into());
    observed.groups[0].tags.insert("stray".into(), "x".into());
    observed.groups[0]
        .tags
        .insert("aws:cloudformation:stack".into(), "kept".into());
    set_value(&mut observed, "db", "sg-wrong");
    observed.parameters.remove(&model::parameter_name("gb", "app"));
    let actions: Vec<String> = diff(&desired(), &observed, &inputs())
        .actions
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(
        actions,
        [
            "~ tag web: Environment=prod",
            "~ untag web: stray",
            "+ parameter /sg/gb/app/SecurityGroupId = sg-app",
            "~ parameter /sg/gb/db/SecurityGroupId = sg-db",
        ]
    );
}

#[test]
fn parameter_tags_are_read_only_when_a_decision_needs_them() {
    let mut observed = converged();
    for p in observed.parameters.values_mut() {
        p.tags = None;
    }
    assert_eq!(
        diff(&desired(), &observed, &inputs()),
        Plan {
            groups: diff(&desired(), &converged(), &inputs()).groups,
            ..Default::default()
        },
        "a resync needs no tags"
    );
    set_value(&mut observed, "db", "sg-wrong");
    let plan = diff(&desired(), &observed, &inputs());
    assert_eq!(plan.unread_parameter_tags, [model::parameter_name("gb", "db")]);
}

#[test]
fn a_parameter_without_both_our_tags_is_refused_not_overwritten() {
    let mut observed = converged();
    set_value(&mut observed, "db", "sg-wrong");
    let p = observed
        .parameters
        .get_mut(&model::parameter_name("gb", "db"))
        .unwrap();
    p.tags.as_mut().unwrap().remove(model::CLUSTER_TAG);
    let plan = diff(&desired(), &observed, &inputs());
    assert!(plan.actions.is_empty(), "{:#?}", plan.actions);
    assert!(
        matches!(&plan.refusals[..], [Refusal::ForeignParameter { owner, .. }] if owner.contains("no cluster tag"))
    );
}

#[test]
fn removed_tier_deletes_exactly_its_group_and_parameter_after_revokes() {
    let mut d = desired();
    d.groups.retain(|g| g.tier != "db");
    d.groups[1].egress.clear(); // app no longer reaches db
    let actions = diff(&d, &converged(), &inputs()).actions;
    let shown: Vec<String> = actions.iter().map(|a| a.to_string()).collect();
    assert_eq!(
        shown,
        [
            "- revoke egress app: tcp/5432 to sg-db",
            "- delete group sg-db (tier db, tier removed)",
            "- delete parameter /sg/gb/db/SecurityGroupId",
        ]
    );
}

#[test]
fn duplicate_groups_keep_the_lowest_id_deterministically() {
    let mut observed = converged();
    let mut dup = observed.groups[0].clone();
    dup.id = "sg-zzz".into();
    dup.ingress.clear();
    observed.groups.push(dup);
    let plan = diff(&desired(), &observed, &inputs());
    assert_eq!(plan.groups["web"], GroupRef::Existing("sg-web".into()));
    assert_eq!(
        plan.actions,
        [Action::DeleteGroup {
            tier: "web".into(),
            group_id: "sg-zzz".into(),
            why: "duplicate"
        }]
    );
}

#[test]
fn group_in_another_vpc_is_replaced() {
    let mut observed = converged();
    observed.groups[2].vpc_id = "vpc-old".into();
    let plan = diff(&desired(), &observed, &inputs());
    assert_eq!(plan.groups["db"], GroupRef::Pending("db".into()));
    assert!(
        plan.actions
            .iter()
            .any(|a| matches!(a, Action::DeleteGroup { group_id, .. } if group_id == "sg-db"))
    );
}

#[test]
fn unresolved_set_ref_is_reported_and_left_out() {
    let mut d = desired();
    d.groups[1].ingress.push(from_shared_lb());
    let plan = diff(&d, &converged(), &inputs());
    assert_eq!(plan.actions, vec![]);
    assert_eq!(
        plan.unresolved,
        vec![Unresolved {
            namespace: "platform".into(),
            name: "shared".into(),
            tier: "lb".into()
        }]
    );

    let mut with_ref = inputs();
    with_ref
        .set_refs
        .insert(("platform".into(), "shared".into(), "lb".into()), "sg-lb".into());
    let plan = diff(&d, &converged(), &with_ref);
    assert!(
        matches!(&plan.actions[..], [Action::Authorize { rules, .. }] if rules[0].peer == group_peer("sg-lb"))
    );
}

#[test]
fn teardown_revokes_internal_references_then_deletes() {
    let ownership = desired().ownership;
    let plan = teardown(&converged(), &ownership);
    let actions: Vec<String> = plan.actions.iter().map(|a| a.to_string()).collect();
    assert_eq!(
        actions,
        [
            "- revoke egress web: tcp/8080 to sg-app",
            "- revoke ingress app: tcp/8080 from sg-web",
            "- revoke egress app: tcp/5432 to sg-db",
            "- revoke ingress db: tcp/5432 from sg-app",
            "- delete group sg-web (tier web, set deleted)",
            "- delete group sg-app (tier app, set deleted)",
            "- delete group sg-db (tier db, set deleted)",
            "- delete parameter /sg/gb/app/SecurityGroupId",
            "- delete parameter /sg/gb/db/SecurityGroupId",
            "- delete parameter /sg/gb/web/SecurityGroupId",
        ]
    );
}
