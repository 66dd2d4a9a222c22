//! Per-set accounts (`spec.aws.roleArn`): the controller assumes each set's role with STS and
//! makes that set's groups and parameters in the role's account, signed with the role's
//! credentials only; its own key makes the AssumeRole calls and nothing else. A role outside
//! `--allowed-role-arns` is refused before any AWS call, STS's included; a refused AssumeRole
//! (the wrong ExternalId) stalls naming the field until the spec is fixed.
//!
//! The emulator derives each role's access key from its ARN and keeps accounts apart (moto's
//! accounts: what a role's credentials sign lands in the ARN's account), so the counts of a
//! role's key are the calls made in that account, and a set's VPC must be made there too.

use aws_sdk_ec2::types::Filter;
use serde_json::{Value, json};
use sg_provisioner::api::SecurityGroupSet;

use crate::support::aws::{Emulator, create_vpc, role_config};
use crate::support::controller::Controller;
use crate::support::fixture::{Fixture, condition, current, group_id};
use crate::support::sg::solo_spec;
use crate::support::unique;

/// A role of `account` named for this run: the emulator's records of it are this test's alone.
fn role(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:role/sg-provisioner-{name}")
}

/// Another account, as the test sees it: EC2 and SSM with the role's credentials (the test's
/// own session, signed with the test's key), a VPC there, and the role's key at the emulator.
struct Account {
    role: String,
    ec2: aws_sdk_ec2::Client,
    ssm: aws_sdk_ssm::Client,
    vpc_id: String,
    /// Counts what is signed with the role's credentials, whoever assumed it.
    emulator: Emulator,
}

impl Account {
    async fn new(f: &Fixture, role: &str, external_id: Option<&str>) -> Self {
        let config = role_config(&format!("{}TEST", f.key), role, external_id).await;
        let ec2 = aws_sdk_ec2::Client::new(&config);
        let vpc_id = create_vpc(&ec2, "10.20.0.0/16").await;
        let key = f.emulator.assumed_role(role).await["access_key_id"]
            .as_str()
            .expect("the role's access key id")
            .to_string();
        let emulator = Emulator::for_key(&key);
        // The VPC was the test's: from here on the counts are the controller's.
        emulator.reset_counts().await;
        Account {
            role: role.into(),
            ssm: aws_sdk_ssm::Client::new(&config),
            ec2,
            vpc_id,
            emulator,
        }
    }

    /// One tier in this account's VPC, with its role (and ExternalId).
    fn spec(&self, external_id: Option<&str>) -> Value {
        let mut spec = solo_spec();
        spec["vpc"] = json!({"id": self.vpc_id});
        spec["aws"] = json!({"roleArn": self.role});
        if let Some(id) = external_id {
            spec["aws"]["externalId"] = json!(id);
        }
        spec
    }

    /// Groups of this account owned by `ns/set`.
    async fn owned(&self, owner: &str) -> usize {
        let filter = Filter::builder()
            .name("tag:sgprovisioner.io/owner")
            .values(owner)
            .build();
        let out = self
            .ec2
            .describe_security_groups()
            .filters(filter)
            .send()
            .await
            .unwrap();
        out.security_groups().len()
    }

    async fn has_group(&self, id: &str) -> bool {
        let out = self.ec2.describe_security_groups().group_ids(id).send().await;
        out.is_ok_and(|o| !o.security_groups().is_empty())
    }

    async fn parameter(&self, name: &str) -> Option<String> {
        let out = self.ssm.get_parameter().name(name).send().await.ok()?;
        out.parameter?.value
    }

    /// Calls signed with the role's credentials, per service and operation.
    async fn calls(&self, service: &str, operation: &str) -> u64 {
        self.emulator.counts().await["by_operation"][service][operation]
            .as_u64()
            .unwrap_or(0)
    }
}

async fn wait_stalled(f: &Fixture, name: &str) -> (String, String) {
    let set = f
        .wait_for(name, "Stalled", |s| {
            current(s) && condition(s, "Stalled").is_some_and(|c| c.0 == "True")
        })
        .await;
    let (_, reason, message) = condition(&set, "Stalled").unwrap();
    (reason, message)
}

fn parameter_name(set: &SecurityGroupSet) -> String {
    let status = set.status.as_ref().unwrap();
    status.tiers[0].parameter_name.clone().unwrap()
}

#[tokio::test]
async fn two_sets_are_written_in_the_accounts_of_their_roles_with_those_roles_only() {
    let f = Fixture::new("assume").await;
    let run = unique("ar");
    let role_a = role("111111111111", &format!("{run}-a"));
    let role_b = role("222222222222", &format!("{run}-b"));
    // B's trust policy asks for an ExternalId: the controller must pass the set's.
    f.emulator.trust(&role_b, Some("ext-b")).await;
    let a = Account::new(&f, &role_a, None).await;
    let b = Account::new(&f, &role_b, Some("ext-b")).await;
    let allowed = format!("arn:aws:iam::*:role/sg-provisioner-{run}-*");
    let _controller = Controller::start(&f.ns, &f.key, &["--allowed-role-arns", &allowed]);
    f.apply(&f.set("in-a", a.spec(None))).await;
    f.apply(&f.set("in-b", b.spec(Some("ext-b")))).await;
    let set_a = f.wait_ready("in-a").await;
    let set_b = f.wait_ready("in-b").await;

    // The controller's own key: one AssumeRole per role (the credentials are cached for the
    // EC2 and SSM clients of the set's region and role), and no other call.
    let own = f.emulator.counts().await;
    assert_eq!(own["by_operation"], json!({"sts": {"AssumeRole": 2}}), "{own}");
    for (account, external_id) in [(&a, Value::Null), (&b, json!("ext-b"))] {
        let record = f.emulator.assumed_role(&account.role).await;
        assert_eq!(record["callers"][&f.key], 1, "{record}");
        assert_eq!(record["denied"], 0, "{record}");
        assert_eq!(record["external_ids"], json!([external_id]), "{record}");
        let sessions = record["session_names"].as_array().unwrap();
        assert!(sessions.contains(&json!("sg-provisioner-default")), "{record}");
        // Each set's writes were signed with its role's credentials.
        assert_eq!(account.calls("ec2", "CreateSecurityGroup").await, 1);
        assert_eq!(account.calls("ssm", "PutParameter").await, 1);
    }

    // Each set's group and parameter are in its account, not in the other nor the default one.
    let (id_a, id_b) = (group_id(&set_a, "solo"), group_id(&set_b, "solo"));
    assert!(a.has_group(&id_a).await && !b.has_group(&id_a).await);
    assert!(b.has_group(&id_b).await && !a.has_group(&id_b).await);
    assert!(
        f.ec2
            .describe_security_groups()
            .group_ids(&id_a)
            .send()
            .await
            .is_err()
    );
    let (param_a, param_b) = (parameter_name(&set_a), parameter_name(&set_b));
    assert_eq!(a.parameter(&param_a).await.as_deref(), Some(id_a.as_str()));
    assert_eq!(b.parameter(&param_b).await.as_deref(), Some(id_b.as_str()));
    assert_eq!(a.parameter(&param_b).await, None);
    assert_eq!(
        f.parameter(&param_a).await,
        None,
        "nothing in the controller's account"
    );

    // Deletion, too, happens in the role's account.
    f.delete_and_wait_gone("in-a").await;
    f.delete_and_wait_gone("in-b").await;
    assert_eq!(a.owned(&format!("{}/in-a", f.ns)).await, 0);
    assert_eq!(b.owned(&format!("{}/in-b", f.ns)).await, 0);
    assert_eq!(a.calls("ec2", "DeleteSecurityGroup").await, 1);
    let own = f.emulator.counts().await;
    assert_eq!(
        own["by_operation"].as_object().unwrap().len(),
        1,
        "STS only: {own}"
    );
}

#[tokio::test]
async fn a_role_not_allowed_makes_no_aws_call_and_a_refused_assume_role_stalls_until_fixed() {
    let f = Fixture::new("assume-refused").await;
    let run = unique("ar");
    let listed = role("333333333333", &format!("{run}-listed"));
    let unlisted = role("444444444444", &format!("{run}-unlisted"));
    f.emulator.trust(&listed, Some("right")).await;
    let account = Account::new(&f, &listed, Some("right")).await;
    let _controller = Controller::start(&f.ns, &f.key, &["--allowed-role-arns", &listed]);

    // A role outside the list: Stalled naming the field, and not one AWS call for it.
    let mut spec = solo_spec();
    spec["aws"] = json!({"roleArn": unlisted});
    f.apply(&f.set("unlisted", spec)).await;
    let (reason, message) = wait_stalled(&f, "unlisted").await;
    assert_eq!(reason, "RoleNotAllowed", "{message}");
    assert!(
        message.starts_with("spec.aws.roleArn: ") && message.contains(&unlisted) && message.contains(&listed),
        "{message}"
    );
    assert_eq!(
        f.emulator.counts().await["total"],
        0,
        "no AWS call, STS's included"
    );
    assert_eq!(f.emulator.assumed_role(&unlisted).await["assumed"], 0);
    // Nothing of it is in AWS: deleting it makes no call either.
    f.delete_and_wait_gone("unlisted").await;
    assert_eq!(f.emulator.counts().await["total"], 0);

    // An allowed role whose trust policy refuses the set's ExternalId.
    f.apply(&f.set("denied", account.spec(Some("wrong")))).await;
    let (reason, message) = wait_stalled(&f, "denied").await;
    assert_eq!(reason, "AssumeRoleFailed", "{message}");
    assert!(
        message.starts_with("spec.aws.roleArn: ") && message.contains("AccessDenied"),
        "{message}"
    );
    assert!(f.emulator.assumed_role(&listed).await["denied"].as_u64() > Some(0));
    assert_eq!(
        account.emulator.counts().await["total"],
        0,
        "nothing was signed with the role"
    );
    let own = f.emulator.counts().await;
    assert_eq!(
        own["by_operation"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["sts"],
        "{own}"
    );

    // The right ExternalId: the set converges in the role's account.
    f.apply(&f.set("denied", account.spec(Some("right")))).await;
    let ready = f.wait_ready("denied").await;
    assert!(account.has_group(&group_id(&ready, "solo")).await);
    assert_eq!(account.calls("ec2", "CreateSecurityGroup").await, 1);
    f.delete_and_wait_gone("denied").await;
    assert_eq!(account.owned(&format!("{}/denied", f.ns)).await, 0);
}

#[tokio::test]
async fn a_role_taken_off_the_list_stalls_its_set_and_its_deletion_without_a_call() {
    let f = Fixture::new("assume-revoked").await;
    let run = unique("ar");
    let role = role("666666666666", &format!("{run}-revoked"));
    let account = Account::new(&f, &role, None).await;
    let controller = Controller::start(&f.ns, &f.key, &["--allowed-role-arns", &role]);
    f.apply(&f.set("revoked", account.spec(None))).await;
    let ready = f.wait_ready("revoked").await;
    let id = group_id(&ready, "solo");

    // The admin takes the role off the list (a restart reads it).
    drop(controller);
    f.emulator.reset_counts().await;
    account.emulator.reset_counts().await;
    let controller = Controller::start(&f.ns, &f.key, &[]);
    let (reason, message) = wait_stalled(&f, "revoked").await;
    assert_eq!(reason, "RoleNotAllowed", "{message}");
    f.sets
        .delete("revoked", &Default::default())
        .await
        .expect("delete");
    let deleting = f
        .wait_for("revoked", "its deletion to stall", |s| {
            condition(s, "Stalled").is_some_and(|c| c.0 == "True" && c.2.contains("deletion waits"))
        })
        .await;
    let message = condition(&deleting, "Stalled").unwrap().2;
    assert!(message.starts_with("spec.aws.roleArn: "), "{message}");
    assert_eq!(f.emulator.counts().await["total"], 0, "no call, STS's included");
    assert_eq!(account.emulator.counts().await["total"], 0);
    // (The test's own look signs with the role's key too: after the counts.)
    assert!(account.has_group(&id).await, "its group is left as it is");

    // Allowed again: the deletion goes on, in the role's account.
    drop(controller);
    let _controller = Controller::start(&f.ns, &f.key, &["--allowed-role-arns", &role]);
    f.wait_gone("revoked", crate::support::fixture::TIMEOUT).await;
    assert!(!account.has_group(&id).await);
}
