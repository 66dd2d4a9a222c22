//! Sets that cannot proceed stall, with a reason and no AWS writes: an invalid spec, a missing
//! VPC parameter.

use std::time::Duration;

use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use sg_provisioner::api::SecurityGroupSet;

use crate::support::controller::Controller;
use crate::support::fixture::{Fixture, condition, current};
use crate::support::poll_async;
use crate::support::sg::solo_spec;

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
async fn a_failing_authorize_does_not_hold_back_the_sets_other_changes() {
    use crate::support::aws::tcp_from_world;
    use crate::support::fixture::group_id;
    let f = Fixture::new("partial").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    let two = |extra: Option<&str>| {
        let mut from = vec![json!({"cidr": "10.1.0.0/16"})];
        from.extend(extra.map(|g| json!({"securityGroupId": g})));
        json!({"tiers": [
            {"name": "web", "ingress": [{"protocol": "tcp", "ports": 443, "from": from}]},
            {"name": "db", "ingress": [{"protocol": "tcp", "ports": 5432, "from": [{"tier": "web"}]}]},
        ]})
    };
    f.apply(&f.set("partial", two(None))).await;
    let ready = f.wait_ready("partial").await;
    // Out of band: SSH from the internet on db.
    let db = group_id(&ready, "db");
    f.ec2
        .authorize_security_group_ingress()
        .group_id(&db)
        .ip_permissions(tcp_from_world(22))
        .send()
        .await
        .unwrap();
    // The spec now names a group that does not exist: that authorize can never succeed.
    f.apply(&f.set("partial", two(Some("sg-0123456789abcdef0"))))
        .await;
    let failed = f
        .wait_for("partial", "the failure reported", |s| {
            current(s) && condition(s, "Ready").is_some_and(|c| c.0 == "False")
        })
        .await;
    let message = condition(&failed, "Ready").unwrap().2;
    assert!(message.contains("InvalidGroup.NotFound"), "{message}");
    poll_async(
        Duration::from_secs(30),
        "the public SSH rule revoked anyway",
        || async {
            let g = f.groups("partial").await.remove("db")?;
            g.ip_permissions()
                .iter()
                .all(|p| p.from_port() != Some(22))
                .then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn a_peer_aws_does_not_have_stalls_naming_the_field_and_a_fix_converges() {
    let f = Fixture::new("peer-missing").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    let with_peer = |peer: serde_json::Value| json!({"tiers": [{"name": "app", "ingress": [{"protocol": "tcp", "ports": 8080, "from": [{"cidr": "10.0.0.0/8"}, peer]}]}]});
    f.apply(&f.set(
        "missing",
        with_peer(json!({"securityGroupId": "sg-0123456789abcdef0"})),
    ))
    .await;
    let stalled = f
        .wait_for("missing", "Stalled", |s| {
            condition(s, "Stalled").is_some_and(|c| c.0 == "True")
        })
        .await;
    let (_, reason, message) = condition(&stalled, "Stalled").unwrap();
    assert_eq!(reason, "PeerNotFound");
    assert!(
        message.starts_with("spec.tiers[0].ingress[0].from[1].securityGroupId: ")
            && message.contains("InvalidGroup.NotFound")
            && !message.contains("ErrorMetadata"),
        "names the field, AWS's code and message, no Debug dump: {message}"
    );
    f.apply(&f.set("missing", with_peer(json!({"cidr": "10.9.0.0/16"}))))
        .await;
    f.wait_ready("missing").await;
}
