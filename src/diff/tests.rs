use super::Quota;
use super::*;
use crate::api::SecurityGroupSet;
use crate::model::{self, SymbolicPeer};

fn desired() -> DesiredSet {
    let set: SecurityGroupSet = serde_saphyr::from_str(include_str!(
        "../../examples/globalbank-prod-c001-us-west-2-sg.yaml"
    ))
    .unwrap();
    let mut set = set;
    set.metadata.name = Some("gb".into());
    set.metadata.namespace = Some("platform".into());
    model::plan(
        &model::validate(&set, &model::Limits::default()).unwrap(),
        "default",
    )
}

fn inputs() -> Inputs {
    Inputs {
        vpc_id: "vpc-1".into(),
        ..Default::default()
    }
}

fn tcp(port: i32) -> RuleMatch {
    RuleMatch {
        protocol: "tcp".into(),
        from_port: port,
        to_port: port,
    }
}

fn rule(port: i32, peer: ConcretePeer, description: &str) -> Rule {
    Rule {
        traffic: tcp(port),
        peer,
        description: Some(description.into()),
    }
}

fn group_peer(id: &str) -> ConcretePeer {
    ConcretePeer::Group(GroupRef::Existing(id.into()))
}

/// What AWS holds once the seed set has converged (ids sg-web, sg-app, sg-db).
fn converged() -> Observed {
    let d = desired();
    let ids = [("web", "sg-web"), ("app", "sg-app"), ("db", "sg-db")];
    let groups = d
        .groups
        .iter()
        .zip(ids)
        .map(|(g, (_, id))| ObservedGroup {
            id: id.into(),
            name: g.name.clone(),
            vpc_id: "vpc-1".into(),
            description: g.description.clone(),
            tags: g.tags.clone(),
            ingress: vec![],
            egress: vec![],
        })
        .collect::<Vec<_>>();
    let mut observed = Observed {
        groups,
        ..Default::default()
    };
    let cidr = |c: &str| ConcretePeer::Cidr(c.into());
    observed.groups[0].ingress = vec![
        rule(443, cidr("0.0.0.0/0"), "HTTPS from the internet"),
        rule(80, cidr("0.0.0.0/0"), "HTTP from the internet"),
    ];
    observed.groups[0].egress = vec![
        rule(443, cidr("0.0.0.0/0"), "HTTPS out"),
        rule(8080, group_peer("sg-app"), "App tier"),
    ];
    observed.groups[1].ingress = vec![rule(8080, group_peer("sg-web"), "From the web tier")];
    observed.groups[1].egress = vec![rule(5432, group_peer("sg-db"), "PostgreSQL on the db tier")];
    observed.groups[2].ingress = vec![rule(5432, group_peer("sg-app"), "PostgreSQL from the app tier")];
    for (tier, id) in ids {
        let parameter = ObservedParameter {
            value: id.into(),
            tags: Some(d.group(tier).unwrap().tags.clone()),
        };
        observed
            .parameters
            .insert(model::parameter_name("gb", tier), parameter);
    }
    observed
}

/// A parameter's value as written by hand, tags as they were.
fn set_value(observed: &mut Observed, tier: &str, value: &str) {
    let p = observed
        .parameters
        .get_mut(&model::parameter_name("gb", tier))
        .unwrap();
    p.value = value.into();
}

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
    d.groups[1].ingress.push(model::DesiredRule {
        traffic: tcp(9000),
        peer: SymbolicPeer::SetRef {
            namespace: "platform".into(),
            name: "shared".into(),
            tier: "lb".into(),
        },
        description: None,
    });
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

#[test]
fn an_unresolved_set_ref_keeps_the_rule_that_is_already_there() {
    let mut d = desired();
    d.groups[1].ingress.push(model::DesiredRule {
        traffic: tcp(9000),
        peer: SymbolicPeer::SetRef {
            namespace: "platform".into(),
            name: "shared".into(),
            tier: "lb".into(),
        },
        description: None,
    });
    let mut observed = converged();
    observed.groups[1]
        .ingress
        .push(rule(9000, group_peer("sg-lb"), "from the shared lb"));
    let plan = diff(&d, &observed, &inputs());
    assert_eq!(plan.actions, vec![], "the rule stays while shared/lb has no id");
    assert_eq!(plan.unresolved.len(), 1);
    // Once the spec no longer asks for it, it goes.
    let plan = diff(&desired(), &observed, &inputs());
    assert!(
        matches!(&plan.actions[..], [Action::Revoke { rules, .. }] if rules[0].peer == group_peer("sg-lb"))
    );
}

#[test]
fn removed_tiers_that_name_each_other_are_unlinked_then_deleted() {
    let mut d = desired();
    d.groups.retain(|g| g.tier == "web");
    d.groups[0].egress.truncate(1); // web no longer reaches app
    let actions: Vec<String> = diff(&d, &converged(), &inputs())
        .actions
        .iter()
        .map(|a| a.to_string())
        .collect();
    assert_eq!(
        actions,
        [
            "- revoke egress web: tcp/8080 to sg-app",
            // app's rule from web does not block anything: app goes, web stays.
            "- revoke egress app: tcp/5432 to sg-db",
            "- revoke ingress db: tcp/5432 from sg-app",
            "- delete group sg-app (tier app, tier removed)",
            "- delete group sg-db (tier db, tier removed)",
            "- delete parameter /sg/gb/app/SecurityGroupId",
            "- delete parameter /sg/gb/db/SecurityGroupId",
        ]
    );
}

#[test]
fn a_group_in_use_is_held_with_its_rules_and_parameter() {
    let mut d = desired();
    d.groups.retain(|g| g.tier != "db");
    d.groups[1].egress.clear();
    let mut plan = diff(&d, &converged(), &inputs());
    let in_use = BTreeMap::from([(
        "sg-db".to_string(),
        "group sg-db is in use by network interface eni-1".to_string(),
    )]);
    hold(&mut plan, &in_use);
    let shown: Vec<String> = plan.actions.iter().map(|a| a.to_string()).collect();
    assert_eq!(
        shown,
        ["- revoke egress app: tcp/5432 to sg-db"],
        "the spec's own change still runs"
    );
    assert_eq!(plan.blocked, ["group sg-db is in use by network interface eni-1"]);
}

#[test]
fn a_full_group_makes_room_first_with_as_few_revokes_as_needed() {
    let mut observed = converged();
    // web's ingress holds 2 rules; the quota is 2; the spec swaps one of them.
    let mut d = desired();
    d.groups[0].ingress[1].traffic = tcp(8443);
    let quota = Quota {
        ingress: 2,
        egress: 60,
    };
    let plan = diff(&d, &observed, &Inputs { quota, ..inputs() });
    let shown: Vec<String> = plan.actions.iter().map(|a| a.to_string()).collect();
    assert_eq!(
        shown,
        [
            "- revoke ingress web (first, to stay within the rules quota): tcp/80 from 0.0.0.0/0",
            "+ authorize ingress web: tcp/8443 from 0.0.0.0/0",
        ]
    );
    // With room to spare, make-before-break as always.
    observed.groups[0].ingress.truncate(2);
    let plan = diff(&d, &observed, &inputs());
    assert!(
        matches!(&plan.actions[0], Action::Authorize { .. }),
        "{:#?}",
        plan.actions
    );
}

#[test]
fn in_a_dual_stack_vpc_both_default_egress_rules_go_at_once() {
    let plan = diff(
        &desired(),
        &Observed::default(),
        &Inputs {
            vpc_ipv6: true,
            ..inputs()
        },
    );
    assert!(
        matches!(&plan.actions[1], Action::Revoke { rules, .. } if *rules == [default_egress(), default_egress_v6()]),
        "{:#?}",
        &plan.actions[..2]
    );
}

#[test]
fn an_untagged_parameter_is_taken_over_only_with_the_tiers_adoption_annotation() {
    let mut observed = converged();
    set_value(&mut observed, "db", "sg-old");
    observed
        .parameters
        .get_mut(&model::parameter_name("gb", "db"))
        .unwrap()
        .tags = Some(BTreeMap::new());
    let plan = diff(&desired(), &observed, &inputs());
    assert!(
        matches!(&plan.refusals[..], [Refusal::ForeignParameter { .. }]),
        "{:#?}",
        plan.refusals
    );
    let mut d = desired();
    d.adopt.insert("db".into(), "sg-db".into());
    let plan = diff(&d, &observed, &inputs());
    assert!(plan.refusals.is_empty(), "{:#?}", plan.refusals);
    let kinds: Vec<&str> = plan.actions.iter().map(Action::kind).collect();
    assert_eq!(kinds, ["overwrite-parameter", "tag-parameter"]);
}
