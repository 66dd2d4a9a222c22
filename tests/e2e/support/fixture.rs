//! One test's world: its namespace, its access key (so emulator counts are its own), its VPC.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ec2::types::{Filter, SecurityGroup};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};
use sg_provisioner::api::SecurityGroupSet;

use super::aws::{Emulator, sdk_config};
use super::{k8s, poll_async, unique};

pub struct Fixture {
    pub client: kube::Client,
    pub ns: String,
    /// The controller's access key.
    pub key: String,
    pub ec2: aws_sdk_ec2::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub vpc_id: String,
    pub sets: Api<SecurityGroupSet>,
    pub emulator: Emulator,
}

pub const TIMEOUT: Duration = Duration::from_secs(60);

impl Fixture {
    pub async fn new(prefix: &str) -> Self {
        Self::on(k8s::client().await, prefix).await
    }

    /// A fixture on another API server (e.g. a private one), with the CRD installed there.
    pub async fn on(client: kube::Client, prefix: &str) -> Self {
        k8s::install_crd(&client).await;
        let ns = k8s::namespace(&client, prefix).await;
        // The key names the test: the emulator counts and faults per access key.
        let key = unique(&format!("AKIA{}", prefix.to_uppercase().replace('-', "")));
        // The test's own calls sign with another key, so the counts are the controller's alone.
        let config = sdk_config(&format!("{key}TEST")).await;
        let ec2 = aws_sdk_ec2::Client::new(&config);
        let ssm = aws_sdk_ssm::Client::new(&config);
        let vpc_id = super::aws::create_vpc(&ec2, "10.0.0.0/16").await;
        let sets = Api::namespaced(client.clone(), &ns);
        let emulator = Emulator::for_key(&key);
        Fixture {
            client,
            ns,
            key,
            ec2,
            ssm,
            vpc_id,
            sets,
            emulator,
        }
    }

    /// A set in this test's namespace and VPC; `spec` is merged over `{vpc: {id}}`.
    pub fn set(&self, name: &str, spec: Value) -> SecurityGroupSet {
        let mut full = json!({"vpc": {"id": self.vpc_id}});
        full.as_object_mut()
            .unwrap()
            .extend(spec.as_object().unwrap().clone());
        serde_json::from_value(json!({
            "apiVersion": "sgprovisioner.io/v1alpha1",
            "kind": "SecurityGroupSet",
            "metadata": {"name": name, "namespace": self.ns},
            "spec": full,
        }))
        .unwrap()
    }

    /// Server-side apply, as `kubectl apply --server-side` does.
    pub async fn apply(&self, set: &SecurityGroupSet) {
        let mut set = set.clone();
        set.metadata.managed_fields = None;
        set.metadata.resource_version = None;
        self.sets
            .patch(
                set.metadata.name.as_deref().unwrap(),
                &PatchParams::apply("e2e").force(),
                &Patch::Apply(&set),
            )
            .await
            .expect("apply the set");
    }

    pub async fn wait_for(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(&SecurityGroupSet) -> bool,
    ) -> SecurityGroupSet {
        poll_async(TIMEOUT, &format!("{name}: {what}"), || async {
            self.sets.get_opt(name).await.ok().flatten().filter(|s| pred(s))
        })
        .await
    }

    /// Waits for `Ready=True` at the set's current generation.
    pub async fn wait_ready(&self, name: &str) -> SecurityGroupSet {
        self.wait_for(name, "Ready at its generation", |s| {
            condition(s, "Ready").is_some_and(|c| c.0 == "True") && current(s) && applied(s)
        })
        .await
    }

    pub async fn delete_and_wait_gone(&self, name: &str) {
        let _ = self.sets.delete(name, &DeleteParams::default()).await;
        self.wait_gone(name, TIMEOUT).await;
    }

    /// Waits until the set no longer exists (its finalizer is done).
    pub async fn wait_gone(&self, name: &str, timeout: Duration) {
        poll_async(timeout, &format!("{name} to be deleted"), || async {
            matches!(self.sets.get_opt(name).await, Ok(None)).then_some(())
        })
        .await;
    }

    /// The set's groups, as AWS reports them (found by owner tag; duplicates included).
    pub async fn owned_groups(&self, set_name: &str) -> Vec<SecurityGroup> {
        let owner = Filter::builder()
            .name("tag:sgprovisioner.io/owner")
            .values(format!("{}/{set_name}", self.ns))
            .build();
        let out = self
            .ec2
            .describe_security_groups()
            .filters(owner)
            .send()
            .await
            .unwrap();
        out.security_groups.unwrap_or_default()
    }

    /// The set's groups by tier.
    pub async fn groups(&self, set_name: &str) -> BTreeMap<String, SecurityGroup> {
        let tier = |g: &SecurityGroup| {
            let tag = g.tags().iter().find(|t| t.key() == Some("sgprovisioner.io/tier"));
            tag.and_then(|t| t.value()).unwrap_or("?").to_string()
        };
        self.owned_groups(set_name)
            .await
            .into_iter()
            .map(|g| (tier(&g), g))
            .collect()
    }

    pub async fn group_count(&self, set_name: &str) -> usize {
        self.owned_groups(set_name).await.len()
    }

    pub async fn parameter(&self, name: &str) -> Option<String> {
        self.ssm
            .get_parameter()
            .name(name)
            .send()
            .await
            .ok()
            .and_then(|o| o.parameter)
            .and_then(|p| p.value)
    }

    /// Who holds the leader Lease (`sg-provisioner`) in this test's namespace.
    pub async fn lease_holder(&self) -> Option<String> {
        let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
            Api::namespaced(self.client.clone(), &self.ns);
        leases
            .get_opt("sg-provisioner")
            .await
            .ok()
            .flatten()?
            .spec?
            .holder_identity
    }

    /// The controller's AWS writes so far (the test's own calls use other keys).
    pub async fn writes(&self) -> u64 {
        self.emulator.counts().await["writes"].as_u64().unwrap_or(0)
    }

    pub async fn count(&self, service: &str, operation: &str) -> u64 {
        self.emulator.counts().await["by_operation"][service][operation]
            .as_u64()
            .unwrap_or(0)
    }
}

/// A condition's (status, reason, message).
pub fn condition(set: &SecurityGroupSet, type_: &str) -> Option<(String, String, String)> {
    set.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// Has the controller seen this generation? (Its conditions say which one they describe.)
pub fn current(set: &SecurityGroupSet) -> bool {
    let ready = set
        .status
        .iter()
        .flat_map(|s| &s.conditions)
        .find(|c| c.type_ == "Ready");
    ready.and_then(|c| c.observed_generation) == set.metadata.generation
}

/// Has the controller carried this generation out? (`status.observedGeneration`.)
pub fn applied(set: &SecurityGroupSet) -> bool {
    set.status.as_ref().and_then(|s| s.observed_generation) == set.metadata.generation
}

pub fn group_id(set: &SecurityGroupSet, tier: &str) -> String {
    set.status
        .as_ref()
        .unwrap()
        .tiers
        .iter()
        .find(|t| t.name == tier)
        .and_then(|t| t.security_group_id.clone())
        .unwrap()
}
