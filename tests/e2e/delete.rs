//! Deleting a set: nothing is revoked while anything uses its groups, and the Retain policy.

use std::time::Duration;

use aws_sdk_ec2::types::{IpPermission, UserIdGroupPair};
use serde_json::json;

use crate::support::aws::attach_interface;
use crate::support::controller::Controller;
use crate::support::fixture::{Fixture, condition, group_id};
use crate::support::poll_async;
use crate::support::sg::{rules, solo_spec};

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
    assert!(
        message.contains(&format!("{eni} (\"e2e workload\"")),
        "status names the interface and its description: {message}"
    );
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
    f.wait_gone("busy", Duration::from_secs(90)).await;
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
async fn deleting_a_set_in_use_revokes_nothing_and_names_every_user() {
    let f = Fixture::new("inuse").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    let spec = json!({"tiers": [
        {"name": "web", "egress": [{"protocol": "tcp", "ports": 8080, "to": [{"tier": "app"}]}]},
        {"name": "app", "ingress": [{"protocol": "tcp", "ports": 8080, "from": [{"tier": "web"}]}]},
    ]});
    f.apply(&f.set("pair", spec)).await;
    let ready = f.wait_ready("pair").await;
    let app = group_id(&ready, "app");
    let eni = attach_interface(&f.ec2, &f.vpc_id, "10.0.2.0/24", &app).await;
    // Another team's group (another set) sends to the app tier.
    let owner = [("sgprovisioner.io/owner", "other/consumer")];
    let client = crate::support::aws::hand_made_group(&f.ec2, &f.vpc_id, "client", &owner).await;
    let to_app = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(5432)
        .to_port(5432)
        .user_id_group_pairs(UserIdGroupPair::builder().group_id(&app).build())
        .build();
    f.ec2
        .authorize_security_group_egress()
        .group_id(&client)
        .ip_permissions(to_app.clone())
        .send()
        .await
        .unwrap();
    let rules_before: Vec<_> = f
        .groups("pair")
        .await
        .values()
        .map(|g| rules(g.ip_permissions()))
        .collect();
    let writes_before = f.writes().await;

    f.sets.delete("pair", &Default::default()).await.unwrap();
    let blocked = f
        .wait_for("pair", "deletion blocked", |s| {
            condition(s, "Ready").is_some_and(|c| c.1 == "DeletionBlocked")
        })
        .await;
    let (_, _, message) = condition(&blocked, "Ready").unwrap();
    assert!(message.contains(&eni), "names the interface: {message}");
    assert!(
        message.contains(&format!("a rule of group {client} (client, owner other/consumer")),
        "names the referencing group and its set: {message}"
    );
    let rules_after: Vec<_> = f
        .groups("pair")
        .await
        .values()
        .map(|g| rules(g.ip_permissions()))
        .collect();
    assert_eq!(
        rules_after, rules_before,
        "every rule stays while the groups are in use"
    );
    assert_eq!(f.writes().await, writes_before, "no write while blocked");

    f.ec2
        .delete_network_interface()
        .network_interface_id(&eni)
        .send()
        .await
        .unwrap();
    f.ec2
        .revoke_security_group_egress()
        .group_id(&client)
        .ip_permissions(to_app)
        .send()
        .await
        .unwrap();
    f.wait_gone("pair", Duration::from_secs(90)).await;
    assert_eq!(f.group_count("pair").await, 0);
}

#[tokio::test]
async fn a_set_being_deleted_never_reports_ready() {
    let f = Fixture::new("deleting").await;
    let _controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);
    f.apply(&f.set("going", solo_spec())).await;
    f.wait_ready("going").await;
    // Slow deletes: the teardown takes seconds, during which status is read many times.
    f.emulator
        .configure(json!({"faults": {"rate": 1.0, "kinds": ["slow"], "slow_seconds": 2, "operations": ["DeleteSecurityGroup"]}}))
        .await;
    f.sets.delete("going", &Default::default()).await.unwrap();
    // Once the controller has seen the deletion, status says so until the set is gone.
    f.wait_for("going", "Deleting", |s| {
        condition(s, "Ready").is_some_and(|c| c.0 == "False" && c.1 == "Deleting")
    })
    .await;
    poll_async(Duration::from_secs(60), "the set to be gone", || async {
        match f.sets.get_opt("going").await {
            Ok(None) => Some(()),
            Ok(Some(s)) => {
                let ready = condition(&s, "Ready");
                assert!(
                    ready.as_ref().is_none_or(|c| c.0 != "True"),
                    "Ready while deleting: {ready:?}"
                );
                None
            }
            Err(_) => None,
        }
    })
    .await;
    f.emulator.clear().await;
}
