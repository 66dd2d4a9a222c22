//! A resync from the region's shared view: a set that matches it costs no call of its own; a
//! set that differs from it is observed afresh before anything is written.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::reconcile::shared::SharedView;

async fn resync_known(aws: &FakeAws, view: &SharedView) -> Known {
    Known {
        vpc_id: Some("vpc-00000001".into()),
        view: Some(view.get(aws, "default").await.unwrap()),
        ..Known::default()
    }
}

#[tokio::test]
async fn a_set_matching_the_view_makes_no_call_of_its_own() {
    let aws = account();
    plan_then_apply(&aws, &seed(), &changed()).await;
    let view = SharedView::new(Duration::from_secs(300));
    let known = resync_known(&aws, &view).await;
    assert_eq!(
        aws.reads(),
        ["DescribeSecurityGroups", "GetParametersByPath"],
        "one fetch of groups and parameters for the region"
    );
    aws.clear_calls();
    for _ in 0..3 {
        let done = run(&aws, &seed(), &known, Mode::Execute).await.unwrap();
        assert!(done.plan.actions.is_empty() && done.ids.len() == 3);
    }
    assert!(
        aws.reads().is_empty(),
        "no call per set and resync: {:?}",
        aws.reads()
    );
    let again = view.get(&aws, "default").await.unwrap();
    assert!(
        Arc::ptr_eq(&again, known.view.as_ref().unwrap()),
        "fetched once per window"
    );
}

#[tokio::test]
async fn a_set_that_differs_from_the_view_is_observed_afresh_then_repaired() {
    let aws = account();
    plan_then_apply(&aws, &seed(), &changed()).await;
    let extra = crate::diff::Rule {
        traffic: model::RuleMatch::from_aws("tcp", Some(22), Some(22)),
        peer: crate::diff::ConcretePeer::Cidr("0.0.0.0/0".into()),
        description: None,
    };
    aws.state.lock().unwrap().groups[0].ingress.push(extra);
    let view = SharedView::new(Duration::from_secs(300));
    let known = resync_known(&aws, &view).await;
    aws.clear_calls();
    let done = run(&aws, &seed(), &known, Mode::Execute).await.unwrap();
    let kinds: Vec<&str> = done.plan.actions.iter().map(Action::kind).collect();
    assert_eq!(kinds, ["revoke"]);
    assert!(
        aws.reads().contains(&"DescribeSecurityGroups"),
        "the set's own groups read before the write: {:?}",
        aws.reads()
    );
    assert_eq!(aws.writes(), ["RevokeSecurityGroupIngress"]);
}
