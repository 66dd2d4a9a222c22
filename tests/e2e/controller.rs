//! The controller, as a process, against the real API server and the emulator.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ec2::types::{IpPermission, IpRange, SecurityGroup};
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::{Value, json};
use sg_provisioner::api::SecurityGroupSet;

use crate::support::aws::{attach_interface, create_vpc, tcp_from_world};
use crate::support::controller::Controller;
use crate::support::fixture::{Fixture, condition, current, group_id};
use crate::support::poll_async;

fn tags(g: &SecurityGroup) -> BTreeMap<String, String> {
    g.tags()
        .iter()
        .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
        .collect()
}

/// (protocol, from, to, peer, description) for every rule of a direction, sorted.
fn rules(perms: &[IpPermission]) -> Vec<(String, i32, i32, String, String)> {
    let mut out = Vec::new();
    for p in perms {
        let (proto, from, to) = (
            p.ip_protocol().unwrap(),
            p.from_port().unwrap_or(-1),
            p.to_port().unwrap_or(-1),
        );
        let v4 = p.ip_ranges().iter().map(|r| (r.cidr_ip(), r.description()));
        let groups = p
            .user_id_group_pairs()
            .iter()
            .map(|r| (r.group_id(), r.description()));
        let v6 = p.ipv6_ranges().iter().map(|r| (r.cidr_ipv6(), r.description()));
        for (peer, description) in v4.chain(groups).chain(v6) {
            out.push((
                proto.to_string(),
                from,
                to,
                peer.unwrap().to_string(),
                description.unwrap_or("").to_string(),
            ));
        }
    }
    out.sort();
    out
}

fn r(proto: &str, port: i32, peer: &str, description: &str) -> (String, i32, i32, String, String) {
    (proto.into(), port, port, peer.into(), description.into())
}

/// One tier, HTTPS from a private range, no references: the simplest set to break.
fn solo_spec() -> serde_json::Value {
    json!({"tiers": [{"name": "solo", "ingress": [{"description": "https", "protocol": "tcp", "ports": 443, "from": [{"cidr": "10.1.0.0/16"}]}]}]})
}

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
    // Let a first resync pass, then measure several.
    let counts = || async { f.emulator.counts().await };
    let describes = |c: &serde_json::Value| {
        c["by_operation"]["ec2"]["DescribeSecurityGroups"]
            .as_u64()
            .unwrap_or(0)
    };
    let start = poll_async(Duration::from_secs(30), "a resync", || async {
        let c = counts().await;
        let d = describes(&c);
        (d >= 2).then_some(c)
    })
    .await;
    let end = poll_async(Duration::from_secs(30), "three more resyncs", || async {
        let c = counts().await;
        (describes(&c) >= describes(&start) + 3).then_some(c)
    })
    .await;
    let resyncs = describes(&end) - describes(&start);
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
async fn drift_is_reverted_and_reported_as_an_event() {
    let f = Fixture::new("drift").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "1s"]);
    f.apply(&f.set("drifty", solo_spec())).await;
    let ready = f.wait_ready("drifty").await;
    let id = group_id(&ready, "solo");
    let param = "/sg/drifty/solo/SecurityGroupId";

    // A rule added out of band is revoked; a rule removed is restored.
    let extra = tcp_from_world(22);
    f.ec2
        .authorize_security_group_ingress()
        .group_id(&id)
        .ip_permissions(extra)
        .send()
        .await
        .unwrap();
    let want = vec![r("tcp", 443, "10.1.0.0/16", "https")];
    poll_async(Duration::from_secs(30), "the stray rule revoked", || async {
        let g = f.groups("drifty").await.remove("solo")?;
        (rules(g.ip_permissions()) == want).then_some(())
    })
    .await;
    let ours = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(443)
        .to_port(443)
        .ip_ranges(IpRange::builder().cidr_ip("10.1.0.0/16").build())
        .build();
    f.ec2
        .revoke_security_group_ingress()
        .group_id(&id)
        .ip_permissions(ours)
        .send()
        .await
        .unwrap();
    poll_async(Duration::from_secs(30), "the missing rule restored", || async {
        let g = f.groups("drifty").await.remove("solo")?;
        (rules(g.ip_permissions()) == want).then_some(())
    })
    .await;

    // A parameter changed, then deleted, out of band is restored.
    f.ssm
        .put_parameter()
        .name(param)
        .value("sg-00000000")
        .overwrite(true)
        .send()
        .await
        .unwrap();
    poll_async(Duration::from_secs(30), "the parameter restored", || async {
        (f.parameter(param).await == Some(id.clone())).then_some(())
    })
    .await;
    f.ssm.delete_parameter().name(param).send().await.unwrap();
    poll_async(Duration::from_secs(30), "the parameter recreated", || async {
        (f.parameter(param).await == Some(id.clone())).then_some(())
    })
    .await;

    // A tag changed and a tag added out of band are put back and removed.
    let tag = |k: &str, v: &str| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build();
    f.ec2
        .create_tags()
        .resources(&id)
        .tags(tag("ManagedBy", "someone"))
        .tags(tag("stray", "x"))
        .send()
        .await
        .unwrap();
    poll_async(Duration::from_secs(30), "tags reconciled", || async {
        let t = tags(&f.groups("drifty").await.remove("solo")?);
        (t["ManagedBy"] == "sg-provisioner" && !t.contains_key("stray")).then_some(())
    })
    .await;

    // A group deleted out of band is recreated and its parameter follows.
    f.ec2.delete_security_group().group_id(&id).send().await.unwrap();
    let recreated = f
        .wait_for("drifty", "a new group id", |s| {
            s.status.as_ref().is_some_and(|st| {
                st.tiers
                    .iter()
                    .any(|t| t.security_group_id.as_deref().is_some_and(|g| g != id))
            })
        })
        .await;
    let new_id = group_id(&recreated, "solo");
    poll_async(Duration::from_secs(30), "the parameter to follow", || async {
        (f.parameter(param).await == Some(new_id.clone())).then_some(())
    })
    .await;
    assert_eq!(f.group_count("drifty").await, 1);

    let events: Api<Event> = Api::namespaced(f.client.clone(), &f.ns);
    let list = events.list(&ListParams::default()).await.unwrap();
    assert!(
        list.items
            .iter()
            .any(|e| e.reason.as_deref() == Some("DriftCorrected")),
        "a DriftCorrected Event"
    );
}

#[tokio::test]
async fn a_foreign_group_with_the_same_name_is_untouched_until_adopted() {
    let f = Fixture::new("foreign").await;
    let foreign = f
        .ec2
        .create_security_group()
        .vpc_id(&f.vpc_id)
        .group_name("mine-solo")
        .description("somebody else")
        .send()
        .await
        .unwrap()
        .group_id
        .unwrap();
    let before = f
        .ec2
        .describe_security_groups()
        .group_ids(&foreign)
        .send()
        .await
        .unwrap()
        .security_groups()[0]
        .clone();
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    f.apply(&f.set("mine", solo_spec())).await;
    let stalled = f
        .wait_for("mine", "Stalled", |s| {
            condition(s, "Stalled").is_some_and(|c| c.0 == "True")
        })
        .await;
    let (_, reason, message) = condition(&stalled, "Stalled").unwrap();
    assert_eq!(reason, "GroupNotOwned");
    assert!(
        message.contains(&foreign) && message.contains("sgprovisioner.io/adopt-solo"),
        "{message}"
    );
    let after = f
        .ec2
        .describe_security_groups()
        .group_ids(&foreign)
        .send()
        .await
        .unwrap()
        .security_groups()[0]
        .clone();
    assert_eq!(after, before, "the foreign group is not modified");

    // The user adopts it explicitly.
    let patch = json!({"metadata": {"annotations": {"sgprovisioner.io/adopt-solo": foreign}}});
    f.sets
        .patch("mine", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    // The controller watches every change, annotations included: no spec change is needed.
    let ready = f.wait_ready("mine").await;
    assert_eq!(group_id(&ready, "solo"), foreign);
    let adopted = f.groups("mine").await.remove("solo").unwrap();
    assert_eq!(tags(&adopted)["sgprovisioner.io/owner"], format!("{}/mine", f.ns));
    assert_eq!(
        rules(adopted.ip_permissions()),
        vec![r("tcp", 443, "10.1.0.0/16", "https")]
    );
}

#[tokio::test]
async fn kill_9_between_create_and_status_write_leaves_one_group_per_tier() {
    let f = Fixture::new("crash").await;
    // Hold the controller inside its first authorize: after CreateSecurityGroup, before status.
    f.emulator
        .configure(json!({"faults": {"rate": 1.0, "seed": 1, "kinds": ["slow"], "slow_seconds": 30, "operations": ["AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress"]}}))
        .await;
    let mut controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    f.apply(&f.set(
        "crashy",
        json!({"tiers": [
            {"name": "a", "ingress": [{"protocol": "tcp", "ports": 443, "from": [{"tier": "b"}]}]},
            {"name": "b", "ingress": [{"protocol": "tcp", "ports": 80, "from": [{"cidr": "10.0.0.0/8"}]}]},
        ]}),
    ))
    .await;
    poll_async(Duration::from_secs(30), "both groups created", || async {
        (f.count("ec2", "CreateSecurityGroup").await >= 2).then_some(())
    })
    .await;
    controller.kill9();
    let set = f.sets.get("crashy").await.unwrap();
    assert!(
        set.status
            .as_ref()
            .is_none_or(|s| s.tiers.iter().all(|t| t.security_group_id.is_none())),
        "killed before the status write"
    );

    f.emulator.clear().await;
    controller.restart();
    let ready = f.wait_ready("crashy").await;
    assert_eq!(f.group_count("crashy").await, 2, "no duplicate, no leak");
    assert_eq!(
        f.count("ec2", "CreateSecurityGroup").await,
        2,
        "the restart found the groups by tag"
    );
    for tier in ["a", "b"] {
        assert_eq!(
            f.parameter(&format!("/sg/crashy/{tier}/SecurityGroupId")).await,
            Some(group_id(&ready, tier))
        );
    }
}

#[tokio::test]
async fn deletion_waits_for_network_interfaces_then_completes() {
    let f = Fixture::new("delete").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    f.apply(&f.set("busy", solo_spec())).await;
    let ready = f.wait_ready("busy").await;
    let id = group_id(&ready, "solo");
    let eni = attach_interface(&f.ec2, &f.vpc_id, "10.0.1.0/24", &id).await;

    f.sets.delete("busy", &Default::default()).await.unwrap();
    let blocked = f
        .wait_for("busy", "deletion blocked", |s| {
            condition(s, "Ready").is_some_and(|c| c.1 == "DeletionBlocked")
        })
        .await;
    let (_, _, message) = condition(&blocked, "Ready").unwrap();
    assert!(message.contains(&eni), "status names the interface: {message}");
    assert!(
        f.parameter("/sg/busy/solo/SecurityGroupId").await.is_some(),
        "parameters stay while the group does"
    );

    f.ec2
        .delete_network_interface()
        .network_interface_id(&eni)
        .send()
        .await
        .unwrap();
    poll_async(Duration::from_secs(90), "the set to be gone", || async {
        matches!(f.sets.get_opt("busy").await, Ok(None)).then_some(())
    })
    .await;
    assert_eq!(f.group_count("busy").await, 0);
    assert_eq!(f.parameter("/sg/busy/solo/SecurityGroupId").await, None);
}

#[tokio::test]
async fn retain_leaves_aws_as_it_is() {
    let f = Fixture::new("retain").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    let mut spec = solo_spec();
    spec["deletionPolicy"] = json!("Retain");
    f.apply(&f.set("kept", spec)).await;
    let ready = f.wait_ready("kept").await;
    f.delete_and_wait_gone("kept").await;
    assert_eq!(f.group_count("kept").await, 1);
    assert_eq!(
        f.parameter("/sg/kept/solo/SecurityGroupId").await,
        Some(group_id(&ready, "solo"))
    );
}

#[tokio::test]
async fn observe_only_writes_nothing_and_reports_the_plan() {
    let f = Fixture::new("observe").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    let mut spec = solo_spec();
    spec["managementPolicy"] = json!("ObserveOnly");
    f.apply(&f.set("watcher", spec)).await;
    let observed = f
        .wait_for("watcher", "a plan", |s| {
            current(s) && s.status.as_ref().is_some_and(|st| !st.plan.is_empty())
        })
        .await;
    let plan = &observed.status.as_ref().unwrap().plan;
    assert!(
        plan.iter().any(|p| p.contains("create group watcher-solo")),
        "{plan:?}"
    );
    assert!(
        plan.iter()
            .any(|p| p.contains("parameter /sg/watcher/solo/SecurityGroupId")),
        "{plan:?}"
    );
    assert_eq!(condition(&observed, "Ready").unwrap().1, "ObserveOnly");
    assert_eq!(f.writes().await, 0);
}

#[tokio::test]
async fn an_invalid_spec_stalls_with_zero_aws_calls() {
    use crate::support::apiserver::PrivateApiServer;
    use crate::support::{aws::Emulator, k8s, unique};

    // A corpus case the CRD's CEL rules refuse at admission (a CIDR with host bits), stored
    // anyway: a private API server holds the CRD without its rules, as an older CRD or one
    // installed with validation off would (the shared server's CRD is everyone's).
    let dir = crate::support::repo_root().join("tests/corpus/invalid");
    let path = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-cidr-host-bits.yaml"))
        .expect("the corpus has a cidr-host-bits case");
    let file = path.to_string_lossy().to_string();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("# expect: spec.tiers[0].ingress[0].from[0].cidr: did you mean 10.0.0.0/16"));
    let server = PrivateApiServer::start().await;
    let client = server.client().await;
    server.install_crd_without_rules(&client).await;
    let ns = k8s::namespace(&client, "invalid").await;
    let sets: Api<SecurityGroupSet> = Api::namespaced(client, &ns);
    let mut set: SecurityGroupSet = serde_saphyr::from_str(&text).unwrap();
    set.metadata.namespace = Some(ns.clone());
    let name = set.metadata.name.clone().unwrap();
    sets.create(&Default::default(), &set)
        .await
        .expect("stored: the private server's CRD has no CEL rules");

    let key = unique("AKIAINVALID");
    let kubeconfig = server.kubeconfig.display().to_string();
    let _controller = Controller::start_with_env(
        &ns,
        &key,
        &["--resync-period", "300s"],
        &[("KUBECONFIG", kubeconfig.as_str())],
    );
    let stalled = poll_async(Duration::from_secs(60), "Stalled", || async {
        sets.get_opt(&name)
            .await
            .ok()
            .flatten()
            .filter(|s| current(s) && condition(s, "Stalled").is_some_and(|c| c.0 == "True"))
    })
    .await;
    let (_, reason, message) = condition(&stalled, "Stalled").unwrap();
    assert_eq!(reason, "InvalidSpec");
    // The same words as `sg-provisioner validate` (and, with tiers by index, the API server).
    let offline = sg_provisioner::cli::validate::check_text(&file, &text, &Default::default());
    let [finding] = offline.findings.as_slice() else {
        panic!("{:?}", offline.findings)
    };
    assert_eq!(
        format!("{}: {}", finding.path, finding.message),
        "spec.tiers[name=web].ingress[0].from[0].cidr: 10.0.0.1/16 has host bits set: did you mean 10.0.0.0/16?"
    );
    assert!(
        message.contains(&format!("{}: {}", finding.path, finding.message)),
        "{message}"
    );
    let counts = Emulator::for_key(&key).counts().await;
    assert_eq!(counts["writes"], 0, "no AWS write: {counts}");
    assert_eq!(counts["total"], 0, "no AWS call at all: {counts}");
}

#[tokio::test]
async fn set_ref_waits_for_the_other_set_then_resolves() {
    let f = Fixture::new("setref").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    f.apply(&f.set("consumer", json!({"tiers": [{"name": "app", "ingress": [{"protocol": "tcp", "ports": 9000, "from": [{"setRef": {"name": "shared", "tier": "lb"}}]}]}]}))).await;
    let waiting = f
        .wait_for("consumer", "waiting", |s| {
            condition(s, "Reconciling").is_some_and(|c| c.0 == "True" && c.1 == "WaitingForSetRef")
        })
        .await;
    assert!(
        condition(&waiting, "Reconciling").unwrap().2.contains("shared"),
        "the reason names the other set"
    );

    f.apply(&f.set("shared", json!({"tiers": [{"name": "lb", "ingress": [{"protocol": "tcp", "ports": 443, "from": [{"cidr": "10.0.0.0/8"}]}]}]}))).await;
    let shared = f.wait_ready("shared").await;
    f.wait_ready("consumer").await;
    let app = f.groups("consumer").await.remove("app").unwrap();
    assert_eq!(
        rules(app.ip_permissions()),
        vec![r("tcp", 9000, &group_id(&shared, "lb"), "")]
    );
}

#[tokio::test]
async fn converges_under_throttling_and_exposes_metrics() {
    let f = Fixture::new("throttle").await;
    f.emulator
        .configure(json!({"throttle": {"enabled": true, "scope": "category", "overrides": {"*": {"capacity": 3, "refill_per_sec": 3}}}}))
        .await;
    let controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    f.apply(&f.set("slowly", json!({"tiers": [
        {"name": "a", "ingress": [{"protocol": "tcp", "ports": 443, "from": [{"tier": "b"}]}], "egress": [{"protocol": "tcp", "ports": 443, "to": [{"tier": "b"}]}]},
        {"name": "b", "ingress": [{"protocol": "tcp", "ports": 443, "from": [{"tier": "a"}]}], "egress": [{"protocol": "tcp", "ports": 443, "to": [{"tier": "a"}]}]},
    ]}))).await;
    f.wait_ready("slowly").await;
    let counts = f.emulator.counts().await;
    assert!(
        counts["throttled"].as_u64().unwrap_or(0) > 0,
        "the emulator did throttle: {counts}"
    );
    assert_eq!(f.group_count("slowly").await, 2);

    // /metrics counts AWS requests by service, operation and outcome.
    let logs = controller.logs();
    let addr = logs
        .lines()
        .find_map(|l| l.split("addr=").nth(1))
        .map(|a| a.split_whitespace().next().unwrap().trim_matches('"').to_string())
        .expect("the metrics address in the log");
    let body = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains(r#"sgprovisioner_aws_requests_total{service="ec2",operation="CreateSecurityGroup",outcome="ok"} 2"#), "{body}");
    assert!(
        body.contains("outcome=\"throttled\"") || body.contains("sgprovisioner_reconciles_total"),
        "{body}"
    );
    assert_eq!(
        reqwest::get(format!("http://{addr}/healthz"))
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn a_missing_vpc_parameter_stalls_without_writes_then_recovers() {
    let f = Fixture::new("novpc").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    let path = format!("/vpc/{}/VPCId", f.ns);
    let mut set = f.set("later", solo_spec());
    set.spec.vpc = sg_provisioner::api::VpcRef {
        id: None,
        parameter_path: Some(path.clone()),
    };
    f.apply(&set).await;
    let stalled = f
        .wait_for("later", "Stalled", |s| {
            condition(s, "Stalled").is_some_and(|c| c.0 == "True")
        })
        .await;
    let (_, reason, message) = condition(&stalled, "Stalled").unwrap();
    assert_eq!(reason, "VpcParameterNotFound");
    assert!(message.contains(&path), "{message}");
    assert_eq!(f.writes().await, 0);

    // The VPC Provisioner publishes it; the slow retry (here nudged by an annotation) converges.
    f.ssm
        .put_parameter()
        .name(&path)
        .value(&f.vpc_id)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    let nudge = json!({"metadata": {"annotations": {"example.com/nudge": "1"}}});
    f.sets
        .patch("later", &PatchParams::default(), &Patch::Merge(&nudge))
        .await
        .unwrap();
    let ready = f.wait_ready("later").await;
    assert_eq!(ready.status.unwrap().vpc_id, Some(f.vpc_id.clone()));
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
async fn json_logs_name_the_set_on_every_reconcile_line() {
    let f = Fixture::new("logs").await;
    let controller = Controller::start(
        &f.ns,
        &f.key,
        &["--resync-period", "300s", "--log-format", "json"],
    );
    f.apply(&f.set("logged", solo_spec())).await;
    f.wait_ready("logged").await;
    let logs = controller.logs();
    let lines: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        !lines.is_empty() && lines.len() == logs.lines().count(),
        "every line is JSON:\n{logs}"
    );
    let ours: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["target"]
                .as_str()
                .is_some_and(|t| t.starts_with("sg_provisioner::reconcile"))
        })
        .collect();
    assert!(!ours.is_empty(), "the reconcile logged something:\n{logs}");
    let set = format!("{}/logged", f.ns);
    for line in &ours {
        assert_eq!(line["span"]["set"], set.as_str(), "{line}");
    }
}
