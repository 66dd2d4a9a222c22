//! What must not cut live traffic or take what is not ours: kept references, held deletions,
//! the rules quota, IPv6 default egress, parameters of others.

use super::*;
use crate::model;

use crate::diff::Quota;

#[test]
fn an_unresolved_set_ref_keeps_the_rule_that_is_already_there() {
    let mut d = desired();
    d.groups[1].ingress.push(from_shared_lb());
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
