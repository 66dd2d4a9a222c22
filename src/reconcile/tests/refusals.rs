//! What the pre-flight refuses before any write: parameters and names that are not ours,
//! adoption across clusters or from a namespace that may not, a VPC that changed.

use std::collections::BTreeMap;

use super::*;

#[tokio::test]
async fn a_foreign_parameter_refuses_the_plan_before_any_write() {
    let aws = account();
    let set = seed();
    let name = model::parameter_name(&set.metadata.name.clone().unwrap(), "app");
    let tags = BTreeMap::from([(OWNER_TAG.to_string(), "other/set".to_string())]);
    let foreign = FakeParameter {
        value: "sg-0000ffff".into(),
        tags,
    };
    aws.state.lock().unwrap().parameters.insert(name.clone(), foreign);
    let err = run(&aws, &set, &changed(), Mode::Execute).await.unwrap_err();
    assert!(
        matches!(&err, Error::Refused(r) if matches!(&r[0], Refusal::ForeignParameter { name: n, .. } if *n == name))
    );
    assert_eq!(aws.writes(), Vec::<&str>::new(), "nothing written");
}

#[tokio::test]
async fn a_group_of_another_cluster_is_not_adopted() {
    let aws = account();
    let mut set = seed();
    let tags = BTreeMap::from([(CLUSTER_TAG.to_string(), "other".to_string())]);
    aws.add_group(ObservedGroup {
        id: "sg-0000abcd".into(),
        name: format!("{}-db", set.metadata.name.clone().unwrap()),
        vpc_id: "vpc-00000001".into(),
        tags,
        ..Default::default()
    });
    set.metadata.annotations.get_or_insert_default().insert(
        format!("{}db", crate::api::ADOPT_ANNOTATION),
        "sg-0000abcd".into(),
    );
    let err = run(&aws, &set, &changed(), Mode::Execute).await.unwrap_err();
    assert!(err.to_string().contains("cluster other"), "{err}");
    assert_eq!(aws.writes(), Vec::<&str>::new());
}

#[tokio::test]
async fn a_namespace_not_allowed_to_adopt_is_refused_before_any_write() {
    let aws = account();
    let mut set = seed();
    aws.add_group(ObservedGroup {
        id: "sg-0000abcd".into(),
        name: format!("{}-db", set.metadata.name.clone().unwrap()),
        vpc_id: "vpc-00000001".into(),
        ..Default::default()
    });
    set.metadata.annotations.get_or_insert_default().insert(
        format!("{}db", crate::api::ADOPT_ANNOTATION),
        "sg-0000abcd".into(),
    );
    let settings = crate::reconcile::Settings {
        cluster_name: "default".into(),
        resync: std::time::Duration::from_secs(300),
        limits: Limits::default(),
        namespaces: vec![],
        adoption_namespaces: vec!["platform-admin".into()],
        instance: "test".into(),
        concurrency: 1,
        rate_limits: Default::default(),
        allowed_roles: Default::default(),
    };
    let known = Known {
        adoption: settings.adoption("platform"),
        ..changed()
    };
    let err = run(&aws, &set, &known, Mode::Execute).await.unwrap_err();
    assert!(
        err.to_string().contains("namespace platform may not adopt"),
        "{err}"
    );
    assert_eq!(aws.writes(), Vec::<&str>::new());
    assert_eq!(
        crate::reconcile::Settings {
            adoption_namespaces: vec!["*".into()],
            ..settings
        }
        .adoption("x"),
        crate::diff::Adoption::Allowed
    );
}

#[tokio::test]
async fn a_name_taken_by_a_foreign_group_or_a_moved_vpc_refuses_before_any_write() {
    let aws = account();
    let set = seed();
    aws.add_group(ObservedGroup {
        id: "sg-0000f00d".into(),
        name: format!("{}-app", set.metadata.name.clone().unwrap()),
        vpc_id: "vpc-00000001".into(),
        ..Default::default()
    });
    let err = run(&aws, &set, &changed(), Mode::Execute).await.unwrap_err();
    assert!(
        matches!(&err, Error::Refused(r) if matches!(&r[0], Refusal::ForeignGroup { id, .. } if id == "sg-0000f00d")),
        "{err}"
    );
    assert_eq!(err.classify().reason, "GroupNotOwned");
    assert_eq!(
        aws.writes(),
        Vec::<&str>::new(),
        "web and db were not created either"
    );

    let mut moved = seed();
    moved.spec.vpc = crate::api::VpcRef {
        id: Some("vpc-00000002".into()),
        parameter_path: None,
    };
    let known = Known {
        vpc_id: Some("vpc-00000001".into()),
        ..changed()
    };
    let err = run(&aws, &moved, &known, Mode::Execute).await.unwrap_err();
    assert!(matches!(err, Error::VpcChanged { .. }), "{err}");
}
