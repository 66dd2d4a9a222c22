//! Creating and updating a set: the seed example end to end, in-place edits, adding and
//! removing tiers, quiet resyncs, and a set in a region of its own.

use std::time::Duration;

use serde_json::json;
use sg_provisioner::api::SecurityGroupSet;

use crate::support::aws::create_vpc;
use crate::support::controller::Controller;
use crate::support::fixture::{Fixture, group_id};
use crate::support::poll_async;
use crate::support::sg::{r, rules, solo_spec, tags};

#[tokio::test]
async fn seed_three_tier_example_reaches_ready_exactly_as_specified() {
    let f = Fixture::new("seed").await;
    // The seed reads its VPC from the VPC Provisioner's parameter.
    let vpc_param = "/vpc/globalbank-prod-c001-us-west-2-vpc/VPCId";
    f.ssm
        .put_parameter()
        .name(vpc_param)
        .value(&f.vpc_id)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .unwrap();
    let mut set: SecurityGroupSet = serde_saphyr::from_str(include_str!(
        "../../examples/globalbank-prod-c001-us-west-2-sg.yaml"
    ))
    .unwrap();
    set.metadata.namespace = Some(f.ns.clone());
    let name = "globalbank-prod-c001-us-west-2-sg";
    let _controller = Controller::start(&f.ns, &f.key, &[]);
    f.apply(&set).await;
    let ready = f.wait_ready(name).await;

    let status = ready.status.as_ref().unwrap();
    assert_eq!(status.vpc_id.as_deref(), Some(f.vpc_id.as_str()));
    assert_eq!(status.tiers_ready.as_deref(), Some("3/3"));
    let groups = f.groups(name).await;
    assert_eq!(groups.len(), 3, "one group per tier: {:?}", groups.keys());
    let (web, app, db) = (&groups["web"], &groups["app"], &groups["db"]);
    for (tier, g) in &groups {
        assert_eq!(
            g.group_id().unwrap(),
            group_id(&ready, tier),
            "status names the group AWS has"
        );
        assert_eq!(g.group_name().unwrap(), format!("{name}-{tier}"));
        assert_eq!(g.vpc_id(), Some(f.vpc_id.as_str()));
        let t = tags(g);
        assert_eq!(t["sgprovisioner.io/owner"], format!("{}/{name}", f.ns));
        assert_eq!(t["sgprovisioner.io/cluster"], "default");
        assert_eq!(t["sgprovisioner.io/tier"], *tier);
        assert_eq!(t["ManagedBy"], "sg-provisioner");
        assert_eq!(t["Name"], format!("{name}-{tier}"));
        assert_eq!(t["Environment"], "prod");
        assert_eq!(t["Tier"], *tier);
        // Published where EC2, RDS, ECS, Lambda and SageMaker look it up.
        let param = format!("/sg/{name}/{tier}/SecurityGroupId");
        assert_eq!(f.parameter(&param).await.as_deref(), g.group_id(), "{param}");
    }
    assert_eq!(web.description(), Some("Public web tier"));
    let (web_id, app_id, db_id) = (
        web.group_id().unwrap(),
        app.group_id().unwrap(),
        db.group_id().unwrap(),
    );
    let mut web_ingress = vec![
        r("tcp", 443, "0.0.0.0/0", "HTTPS from the internet"),
        r("tcp", 80, "0.0.0.0/0", "HTTP from the internet"),
    ];
    web_ingress.sort();
    assert_eq!(rules(web.ip_permissions()), web_ingress);
    let mut web_egress = vec![
        r("tcp", 443, "0.0.0.0/0", "HTTPS out"),
        r("tcp", 8080, app_id, "App tier"),
    ];
    web_egress.sort();
    assert_eq!(rules(web.ip_permissions_egress()), web_egress);
    assert_eq!(
        rules(app.ip_permissions()),
        vec![r("tcp", 8080, web_id, "From the web tier")]
    );
    assert_eq!(
        rules(app.ip_permissions_egress()),
        vec![r("tcp", 5432, db_id, "PostgreSQL on the db tier")]
    );
    assert_eq!(
        rules(db.ip_permissions()),
        vec![r("tcp", 5432, app_id, "PostgreSQL from the app tier")]
    );
    assert_eq!(
        rules(db.ip_permissions_egress()),
        vec![],
        "the default allow-all egress is gone"
    );

    f.delete_and_wait_gone(name).await;
    assert_eq!(f.group_count(name).await, 0);
}

#[tokio::test]
async fn no_op_resync_makes_no_writes_and_at_most_two_reads() {
    let f = Fixture::new("noop").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "1s"]);
    f.apply(&f.set(
        "quiet",
        json!({"tiers": [
            {"name": "a", "ingress": [{"protocol": "tcp", "ports": 443, "from": [{"tier": "b"}]}]},
            {"name": "b", "egress": [{"protocol": "tcp", "ports": 443, "to": [{"tier": "a"}]}]},
        ]}),
    ))
    .await;
    f.wait_ready("quiet").await;
    // Let a first resync pass, then measure several. Each resync reads the set's parameters
    // once (its groups may come from the region's shared view, fetched once per window).
    let counts = || async { f.emulator.counts().await };
    let resyncs_of = |c: &serde_json::Value| {
        c["by_operation"]["ssm"]["GetParametersByPath"]
            .as_u64()
            .unwrap_or(0)
    };
    let start = poll_async(Duration::from_secs(30), "a resync", || async {
        let c = counts().await;
        let d = resyncs_of(&c);
        (d >= 2).then_some(c)
    })
    .await;
    let end = poll_async(Duration::from_secs(30), "three more resyncs", || async {
        let c = counts().await;
        (resyncs_of(&c) >= resyncs_of(&start) + 3).then_some(c)
    })
    .await;
    let resyncs = resyncs_of(&end) - resyncs_of(&start);
    let reads = end["reads"].as_u64().unwrap() - start["reads"].as_u64().unwrap();
    assert_eq!(
        end["writes"], start["writes"],
        "a no-op resync writes nothing: {start} -> {end}"
    );
    assert!(
        reads <= 2 * resyncs,
        "{reads} reads in {resyncs} resyncs: {start} -> {end}"
    );
}

#[tokio::test]
async fn updates_authorize_before_revoke_and_edit_descriptions_in_place() {
    let f = Fixture::new("update").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    f.apply(&f.set("upd", solo_spec())).await;
    f.wait_ready("upd").await;

    // A description-only change: re-described in place, never revoke + authorize.
    let before = f.emulator.counts().await;
    f.apply(&f.set("upd", json!({"tiers": [{"name": "solo", "ingress": [{"description": "https from the office", "protocol": "tcp", "ports": 443, "from": [{"cidr": "10.1.0.0/16"}]}]}]}))).await;
    f.wait_ready("upd").await;
    let after = f.emulator.counts().await;
    let delta = |op: &str| {
        after["by_operation"]["ec2"][op].as_u64().unwrap_or(0)
            - before["by_operation"]["ec2"][op].as_u64().unwrap_or(0)
    };
    assert_eq!(
        delta("UpdateSecurityGroupRuleDescriptionsIngress"),
        1,
        "{before} -> {after}"
    );
    assert_eq!(
        delta("AuthorizeSecurityGroupIngress") + delta("RevokeSecurityGroupIngress"),
        0,
        "{before} -> {after}"
    );
    let g = f.groups("upd").await.remove("solo").unwrap();
    assert_eq!(
        rules(g.ip_permissions()),
        vec![r("tcp", 443, "10.1.0.0/16", "https from the office")]
    );

    // A port change: the new rule is authorized, the old revoked, in that order (the emulator's
    // request log is the witness).
    f.apply(&f.set("upd", json!({"tiers": [{"name": "solo", "ingress": [{"description": "https from the office", "protocol": "tcp", "ports": 8443, "from": [{"cidr": "10.1.0.0/16"}]}]}]}))).await;
    f.wait_ready("upd").await;
    let g = f.groups("upd").await.remove("solo").unwrap();
    assert_eq!(
        rules(g.ip_permissions()),
        vec![r("tcp", 8443, "10.1.0.0/16", "https from the office")]
    );

    // A reapply with no change writes nothing.
    let before = f.writes().await;
    f.apply(&f.set("upd", json!({"tiers": [{"name": "solo", "ingress": [{"description": "https from the office", "protocol": "tcp", "ports": 8443, "from": [{"cidr": "10.1.0.0/16"}]}]}]}))).await;
    f.wait_ready("upd").await;
    assert_eq!(f.writes().await, before);
}

#[tokio::test]
async fn adding_and_removing_a_tier_touches_exactly_that_group_and_parameter() {
    let f = Fixture::new("tiers").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    f.apply(&f.set("grow", solo_spec())).await;
    f.wait_ready("grow").await;
    let before = f.emulator.counts().await;
    let mut spec = solo_spec();
    spec["tiers"].as_array_mut().unwrap().push(
        json!({"name": "cache", "ingress": [{"protocol": "tcp", "ports": 6379, "from": [{"tier": "solo"}]}]}),
    );
    f.apply(&f.set("grow", spec)).await;
    let grown = f.wait_ready("grow").await;
    let after = f.emulator.counts().await;
    let delta = |s: &str, op: &str| {
        after["by_operation"][s][op].as_u64().unwrap_or(0)
            - before["by_operation"][s][op].as_u64().unwrap_or(0)
    };
    assert_eq!(delta("ec2", "CreateSecurityGroup"), 1);
    assert_eq!(delta("ssm", "PutParameter"), 1);
    assert_eq!(
        f.parameter("/sg/grow/cache/SecurityGroupId").await,
        Some(group_id(&grown, "cache"))
    );

    f.apply(&f.set("grow", solo_spec())).await;
    f.wait_ready("grow").await;
    let gone = f.emulator.counts().await;
    let delta = |s: &str, op: &str| {
        gone["by_operation"][s][op].as_u64().unwrap_or(0) - after["by_operation"][s][op].as_u64().unwrap_or(0)
    };
    assert_eq!(delta("ec2", "DeleteSecurityGroup"), 1);
    assert_eq!(delta("ssm", "DeleteParameter"), 1);
    assert_eq!(f.parameter("/sg/grow/cache/SecurityGroupId").await, None);
    assert_eq!(
        f.parameter("/sg/grow/solo/SecurityGroupId").await,
        Some(group_id(&grown, "solo"))
    );
    assert_eq!(f.group_count("grow").await, 1);
}

#[tokio::test]
async fn a_set_names_its_own_region() {
    let f = Fixture::new("region").await;
    // The controller's default region is the fixture's; this set lives in another one.
    let config = crate::support::aws::sdk_config(&format!("{}EAST", f.key)).await;
    let east = aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(&config)
            .region(aws_sdk_ec2::config::Region::new("us-east-1"))
            .build(),
    );
    let vpc = create_vpc(&east, "10.9.0.0/16").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    let mut spec = solo_spec();
    spec["region"] = json!("us-east-1");
    spec["vpc"] = json!({"id": vpc});
    f.apply(&f.set("eastern", spec)).await;
    let ready = f.wait_ready("eastern").await;
    let id = group_id(&ready, "solo");
    let found = east
        .describe_security_groups()
        .group_ids(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        found.security_groups()[0].vpc_id(),
        Some(vpc.as_str()),
        "created in us-east-1"
    );
    assert_eq!(f.group_count("eastern").await, 0, "nothing in the default region");
}

#[tokio::test]
async fn removed_tiers_that_reference_each_other_are_both_deleted() {
    let f = Fixture::new("unlink").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    let linked = json!({"tiers": [
        {"name": "solo", "ingress": [{"description": "https", "protocol": "tcp", "ports": 443, "from": [{"cidr": "10.1.0.0/16"}]}]},
        {"name": "app", "ingress": [{"protocol": "tcp", "ports": 8080, "from": [{"tier": "worker"}]}],
         "egress": [{"protocol": "tcp", "ports": 9000, "to": [{"tier": "worker"}]}]},
        {"name": "worker", "ingress": [{"protocol": "tcp", "ports": 9000, "from": [{"tier": "app"}]}],
         "egress": [{"protocol": "tcp", "ports": 8080, "to": [{"tier": "app"}]}]},
    ]});
    f.apply(&f.set("unlink", linked)).await;
    f.wait_ready("unlink").await;
    assert_eq!(f.group_count("unlink").await, 3);

    f.apply(&f.set("unlink", solo_spec())).await;
    f.wait_ready("unlink").await;
    assert_eq!(f.group_count("unlink").await, 1, "app and worker are gone");
    for tier in ["app", "worker"] {
        assert_eq!(
            f.parameter(&format!("/sg/unlink/{tier}/SecurityGroupId")).await,
            None
        );
    }
}

#[tokio::test]
async fn a_removed_set_tag_leaves_the_groups_and_the_parameters() {
    let f = Fixture::new("untag").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    let mut spec = solo_spec();
    spec["tags"] = json!({"Team": "net", "CostCenter": "42"});
    f.apply(&f.set("tagged", spec)).await;
    f.wait_ready("tagged").await;
    let param_tags = || async {
        let out = f
            .ssm
            .list_tags_for_resource()
            .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
            .resource_id("/sg/tagged/solo/SecurityGroupId")
            .send()
            .await
            .unwrap();
        out.tag_list()
            .iter()
            .map(|t| t.key().to_string())
            .collect::<Vec<_>>()
    };
    assert!(param_tags().await.contains(&"CostCenter".to_string()));

    let mut spec = solo_spec();
    spec["tags"] = json!({"Team": "net"});
    f.apply(&f.set("tagged", spec)).await;
    f.wait_ready("tagged").await;
    let group = f.groups("tagged").await.remove("solo").unwrap();
    assert!(!tags(&group).contains_key("CostCenter") && tags(&group)["Team"] == "net");
    let keys = param_tags().await;
    assert!(
        !keys.contains(&"CostCenter".to_string()) && keys.contains(&"Team".to_string()),
        "{keys:?}"
    );
}
