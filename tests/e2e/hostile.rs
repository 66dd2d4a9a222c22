//! Sets that would take what is not theirs: each makes no AWS write at all (counted at the
//! emulator) and stalls naming the object, which is left exactly as it was.

use std::collections::BTreeMap;

use aws_sdk_ssm::types::ParameterType;

use crate::support::controller::Controller;
use crate::support::fixture::{Fixture, condition};
use crate::support::sg::{solo_spec, tags};

async fn hand_made_group(f: &Fixture, name: &str, tags: &[(&str, &str)]) -> String {
    crate::support::aws::hand_made_group(&f.ec2, &f.vpc_id, name, tags).await
}

/// Applies `name` (the solo spec, with `annotations`) and waits for `Stalled` with `reason`;
/// returns the message.
async fn stalls(f: &Fixture, name: &str, annotations: BTreeMap<String, String>, reason: &str) -> String {
    let mut set = f.set(name, solo_spec());
    set.metadata.annotations = Some(annotations);
    f.apply(&set).await;
    let stalled = f
        .wait_for(name, "Stalled", |s| {
            condition(s, "Stalled").is_some_and(|c| c.0 == "True")
        })
        .await;
    let (_, got, message) = condition(&stalled, "Stalled").unwrap();
    assert_eq!(got, reason, "{message}");
    message
}

fn adopt(id: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("sgprovisioner.io/adopt-solo".to_string(), id.to_string())])
}

#[tokio::test]
async fn adopting_another_clusters_or_owners_group_writes_nothing() {
    let f = Fixture::new("hostile-adopt").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    let owner = format!("{}/theirs", f.ns);
    let other_cluster = hand_made_group(
        &f,
        "theirs-solo",
        &[
            ("sgprovisioner.io/owner", &owner),
            ("sgprovisioner.io/cluster", "other"),
        ],
    )
    .await;
    let message = stalls(&f, "theirs", adopt(&other_cluster), "AdoptionRefused").await;
    assert!(
        message.contains(&other_cluster) && message.contains("cluster other"),
        "{message}"
    );

    let other_owner =
        hand_made_group(&f, "grab-solo", &[("sgprovisioner.io/owner", "payments/ledger")]).await;
    let message = stalls(&f, "grab", adopt(&other_owner), "AdoptionRefused").await;
    assert!(message.contains("owned by payments/ledger"), "{message}");

    assert_eq!(f.writes().await, 0, "no write at all");
    let g = f
        .ec2
        .describe_security_groups()
        .group_ids(&other_cluster)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags(&g.security_groups()[0])["sgprovisioner.io/cluster"],
        "other",
        "untouched"
    );
}

#[tokio::test]
async fn a_namespace_that_may_not_adopt_writes_nothing() {
    let f = Fixture::new("hostile-ns").await;
    let args = [
        "--resync-period",
        "300s",
        "--adoption-namespaces",
        "platform-admin",
    ];
    let _controller = Controller::start(&f.ns, &f.key, &args);
    let group = hand_made_group(&f, "claim-solo", &[]).await;
    let message = stalls(&f, "claim", adopt(&group), "AdoptionRefused").await;
    assert!(
        message.contains(&format!("namespace {} may not adopt", f.ns)),
        "{message}"
    );
    assert_eq!(f.writes().await, 0);
}

#[tokio::test]
async fn a_parameter_path_of_another_namespace_or_nobody_writes_nothing() {
    let f = Fixture::new("hostile-param").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    let put = |name: &str, tags: Vec<aws_sdk_ssm::types::Tag>| {
        f.ssm
            .put_parameter()
            .name(name)
            .value("sg-0123456789abcdef0")
            .r#type(ParameterType::String)
            .set_tags(Some(tags).filter(|t| !t.is_empty()))
            .send()
    };
    // Another namespace's set of the same name already publishes at /sg/clash/solo/....
    let tag = |k: &str, v: &str| {
        aws_sdk_ssm::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
            .unwrap()
    };
    let theirs = vec![
        tag("sgprovisioner.io/owner", "team-b/clash"),
        tag("sgprovisioner.io/cluster", "default"),
    ];
    put("/sg/clash/solo/SecurityGroupId", theirs).await.unwrap();
    let message = stalls(&f, "clash", BTreeMap::new(), "ParameterNotOwned").await;
    assert!(
        message.contains("/sg/clash/solo/SecurityGroupId") && message.contains("team-b/clash"),
        "{message}"
    );

    // A parameter made by hand, with no tags, at the path the set would publish.
    put("/sg/manual/solo/SecurityGroupId", vec![]).await.unwrap();
    let message = stalls(&f, "manual", BTreeMap::new(), "ParameterNotOwned").await;
    assert!(
        message.contains("/sg/manual/solo/SecurityGroupId") && message.contains("no owner tag"),
        "{message}"
    );

    assert_eq!(f.writes().await, 0, "not even a group was created");
    assert_eq!(f.group_count("clash").await + f.group_count("manual").await, 0);
    for name in [
        "/sg/clash/solo/SecurityGroupId",
        "/sg/manual/solo/SecurityGroupId",
    ] {
        assert_eq!(
            f.parameter(name).await.as_deref(),
            Some("sg-0123456789abcdef0"),
            "{name} untouched"
        );
    }
}

#[tokio::test]
async fn a_name_taken_by_a_group_that_is_not_ours_creates_no_group_at_all() {
    let f = Fixture::new("hostile-name").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    let taken = hand_made_group(&f, "taken-app", &[]).await;
    let spec = serde_json::json!({"tiers": [
        {"name": "web", "egress": [{"protocol": "tcp", "ports": 8080, "to": [{"tier": "app"}]}]},
        {"name": "app", "ingress": [{"protocol": "tcp", "ports": 8080, "from": [{"tier": "web"}]}]},
    ]});
    f.apply(&f.set("taken", spec)).await;
    let stalled = f
        .wait_for("taken", "Stalled", |s| {
            condition(s, "Stalled").is_some_and(|c| c.0 == "True")
        })
        .await;
    let (_, reason, message) = condition(&stalled, "Stalled").unwrap();
    assert_eq!(reason, "GroupNotOwned");
    assert!(
        message.contains(&taken) && message.contains("sgprovisioner.io/adopt-app"),
        "{message}"
    );
    assert_eq!(f.writes().await, 0, "web was not created either");
}
