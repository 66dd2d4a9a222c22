//! `sg-provisioner plan` lists every write the controller then makes: for create, update,
//! adoption, drift repair and delete, the plan's actions (by AWS operation) equal the writes the
//! emulator counts for the controller's access key, as multisets.

use std::collections::BTreeMap;

use kube::api::DeleteParams;
use serde_json::{Value, json};
use sg_provisioner::api::SecurityGroupSet;

use crate::support::aws::{Emulator, tcp_from_world};
use crate::support::controller::Controller;
use crate::support::fixture::{Fixture, group_id};
use crate::support::{poll_async, run_cli};

type Ops = BTreeMap<String, u64>;

/// The operations a plan's JSON lists, counted.
fn planned(json: &str) -> Ops {
    let doc: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let mut ops = Ops::new();
    for set in doc["sets"].as_array().unwrap() {
        for change in set["changes"].as_array().unwrap() {
            *ops.entry(change["operation"].as_str().unwrap().into())
                .or_default() += 1;
        }
    }
    ops
}

/// The writes an access key has made so far, by operation (reads excluded).
async fn writes(emulator: &Emulator) -> Ops {
    let counts = emulator.counts().await;
    let mut ops = Ops::new();
    for service in counts["by_operation"].as_object().into_iter().flatten() {
        for (op, n) in service.1.as_object().unwrap() {
            if !["Describe", "Get", "List"].iter().any(|p| op.starts_with(p)) {
                ops.insert(op.clone(), n.as_u64().unwrap());
            }
        }
    }
    ops
}

fn delta(after: &Ops, before: &Ops) -> Ops {
    after
        .iter()
        .map(|(op, n)| (op.clone(), n - before.get(op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

struct Case {
    f: Fixture,
    dir: tempfile::TempDir,
    plan_key: String,
}

impl Case {
    fn file(&self, set: &SecurityGroupSet) -> String {
        let path = self.dir.path().join("set.yaml");
        std::fs::write(&path, serde_saphyr::to_string(set).unwrap()).unwrap();
        path.to_string_lossy().into_owned()
    }

    /// `plan` (or `plan --destroy`) of the set as a file, with its own key: it writes nothing.
    async fn plan(&self, set: &SecurityGroupSet, destroy: bool) -> Ops {
        let file = self.file(set);
        let mut args = vec!["plan", "-f", &file, "--output", "json"];
        if destroy {
            args.push("--destroy");
        }
        let (code, out, err) = run_cli(&self.plan_key, &args);
        assert!(code == 0 || code == 2, "plan failed ({code}): {out}\n{err}");
        assert_eq!(
            writes(&Emulator::for_key(&self.plan_key)).await,
            Ops::new(),
            "plan writes nothing"
        );
        planned(&out)
    }

    /// Runs `change`, which makes the controller act, and returns the writes it made.
    async fn writes_of<F: Future<Output = ()>>(&self, change: F) -> Ops {
        let before = writes(&self.f.emulator).await;
        change.await;
        delta(&writes(&self.f.emulator).await, &before)
    }
}

fn three_tiers(f: &Fixture) -> SecurityGroupSet {
    f.set(
        "pw",
        json!({"tags": {"Team": "net"}, "tiers": [
            {"name": "web", "ingress": [{"description": "https", "protocol": "tcp", "ports": 443, "from": [{"cidr": "0.0.0.0/0"}]}],
             "egress": [{"protocol": "tcp", "ports": 8080, "to": [{"tier": "app"}]}]},
            {"name": "app", "ingress": [{"protocol": "tcp", "ports": 8080, "from": [{"tier": "web"}]}],
             "egress": [{"protocol": "tcp", "ports": 5432, "to": [{"tier": "db"}]}]},
            {"name": "db", "ingress": [{"protocol": "tcp", "ports": 5432, "from": [{"tier": "app"}]}]},
        ]}),
    )
}

#[tokio::test]
async fn the_plan_lists_exactly_the_writes_the_controller_makes() {
    let f = Fixture::new("planwrites").await;
    let case = Case {
        plan_key: format!("{}PLAN", f.key),
        dir: tempfile::tempdir().unwrap(),
        f,
    };
    let f = &case.f;
    let mut controller = Controller::start(&f.ns, &f.key, &["--resync-period", "300s"]);

    // Create.
    let mut set = three_tiers(f);
    let plan = case.plan(&set, false).await;
    assert_eq!(
        (plan["CreateSecurityGroup"], plan["PutParameter"]),
        (3, 3),
        "{plan:?}"
    );
    let made = case.writes_of(async {
        f.apply(&set).await;
        f.wait_ready("pw").await;
    });
    assert_eq!(made.await, plan, "create");

    // Update: a tag, a rule changed, a rule removed.
    set.spec.tags.insert("CostCenter".into(), "42".into());
    set.spec.tiers[0].ingress[0].traffic.ports = Some(sg_provisioner::api::IntOrString::Int(8443));
    set.spec.tiers[1].egress.clear();
    let plan = case.plan(&set, false).await;
    assert!(
        plan.contains_key("AddTagsToResource") && plan.contains_key("CreateTags"),
        "{plan:?}"
    );
    let made = case.writes_of(async {
        f.apply(&set).await;
        f.wait_ready("pw").await;
    });
    assert_eq!(made.await, plan, "update");

    // Drift repair, while the controller is down: a rule added, a parameter changed.
    controller.kill9();
    let web = group_id(&f.sets.get("pw").await.unwrap(), "web");
    f.ec2
        .authorize_security_group_ingress()
        .group_id(&web)
        .ip_permissions(tcp_from_world(22))
        .send()
        .await
        .unwrap();
    f.ssm
        .put_parameter()
        .name("/sg/pw/db/SecurityGroupId")
        .value("sg-00000000")
        .overwrite(true)
        .send()
        .await
        .unwrap();
    let plan = case.plan(&set, false).await;
    let want = [("PutParameter", 1), ("RevokeSecurityGroupIngress", 1)];
    assert_eq!(plan, want.map(|(op, n)| (op.to_string(), n)).into(), "drift");
    let made = case.writes_of(async {
        controller.restart();
        poll_async(crate::support::fixture::TIMEOUT, "the drift repaired", || async {
            (f.parameter("/sg/pw/db/SecurityGroupId").await.as_deref() != Some("sg-00000000")).then_some(())
        })
        .await;
        // The repair is one reconcile: its last write is the parameter, after the revoke.
    });
    assert_eq!(made.await, plan, "drift repair");

    adoption(&case, &mut set).await;

    // Delete.
    let plan = case.plan(&set, true).await;
    assert_eq!(plan.get("DeleteSecurityGroup"), Some(&4), "{plan:?}");
    let made = case.writes_of(async {
        let _ = f.sets.delete("pw", &DeleteParams::default()).await;
        f.wait_gone("pw", crate::support::fixture::TIMEOUT).await;
    });
    assert_eq!(made.await, plan, "delete");
}

/// A new tier whose group was made by hand and is adopted through the annotation.
async fn adoption(case: &Case, set: &mut SecurityGroupSet) {
    let f = &case.f;
    let cache = crate::support::aws::hand_made_group(&f.ec2, &f.vpc_id, "pw-cache", &[]).await;
    let tier =
        json!({"name": "cache", "ingress": [{"protocol": "tcp", "ports": 6379, "from": [{"tier": "app"}]}]});
    set.spec.tiers.push(serde_json::from_value(tier).unwrap());
    set.metadata
        .annotations
        .get_or_insert_default()
        .insert("sgprovisioner.io/adopt-cache".into(), cache.clone());
    let plan = case.plan(set, false).await;
    assert_eq!(
        plan.get("CreateTags"),
        Some(&1),
        "the adoption tags the group: {plan:?}"
    );
    assert_eq!(plan.get("CreateSecurityGroup"), None, "{plan:?}");
    let made = case.writes_of(async {
        f.apply(set).await;
        let ready = f.wait_ready("pw").await;
        assert_eq!(group_id(&ready, "cache"), cache);
    });
    assert_eq!(made.await, plan, "adoption");
}
