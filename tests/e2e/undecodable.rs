//! One object the controller cannot decode (stored under an older, looser schema) is reported
//! and skipped; the other sets keep converging.

use std::time::Duration;

use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PostParams};
use serde_json::json;
use sg_provisioner::api::SecurityGroupSet;

use crate::support::apiserver::PrivateApiServer;
use crate::support::aws::{create_vpc, ec2};
use crate::support::controller::Controller;
use crate::support::fixture::{applied, condition};
use crate::support::sg::solo_spec;
use crate::support::{k8s, poll_async, unique};

#[tokio::test]
async fn an_undecodable_set_is_reported_and_the_others_still_converge() {
    let server = PrivateApiServer::start().await;
    let client = server.client().await;
    server.install_crd_without_rules_or_enums(&client).await;
    let ns = k8s::namespace(&client, "undecodable").await;
    let key = unique("AKIAUNDECODABLE");
    let vpc = create_vpc(&ec2(&format!("{key}TEST")).await, "10.0.0.0/16").await;

    // An enum value this controller does not know.
    let resource = ApiResource::erase::<SecurityGroupSet>(&());
    let raw: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &resource);
    let odd = unique("odd");
    let bad: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "sgprovisioner.io/v1alpha1", "kind": "SecurityGroupSet",
        "metadata": {"name": odd, "namespace": ns},
        "spec": {"vpc": {"id": vpc}, "deletionPolicy": "Archive", "tiers": [{"name": "web"}]},
    }))
    .unwrap();
    raw.create(&PostParams::default(), &bad)
        .await
        .expect("stored by the loose schema");
    let good = unique("good");
    let mut spec = solo_spec();
    spec["vpc"] = json!({"id": vpc});
    let set: SecurityGroupSet = serde_json::from_value(json!({
        "apiVersion": "sgprovisioner.io/v1alpha1", "kind": "SecurityGroupSet",
        "metadata": {"name": good, "namespace": ns}, "spec": spec,
    }))
    .unwrap();
    let sets: Api<SecurityGroupSet> = Api::namespaced(client.clone(), &ns);
    sets.create(&PostParams::default(), &set).await.unwrap();

    let kubeconfig = server.kubeconfig.display().to_string();
    let controller = Controller::start_with_env(
        &ns,
        &key,
        &["--resync-period", "300s"],
        &[("KUBECONFIG", kubeconfig.as_str())],
    );
    poll_async(Duration::from_secs(60), "the valid set Ready", || async {
        let s = sets.get_opt(&good).await.ok().flatten()?;
        (condition(&s, "Ready").is_some_and(|c| c.0 == "True") && applied(&s)).then_some(())
    })
    .await;
    let events: Api<Event> = Api::namespaced(client.clone(), &ns);
    let note = poll_async(Duration::from_secs(30), "an Undecodable Event", || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        list.items.into_iter().find_map(|e| {
            (e.reason.as_deref() == Some("Undecodable")
                && e.involved_object.name.as_deref() == Some(odd.as_str()))
            .then(|| e.message.unwrap_or_default())
        })
    })
    .await;
    assert!(note.contains("Archive"), "names what it cannot read: {note}");
    assert!(
        controller.logs().contains("cannot decode this SecurityGroupSet"),
        "logged"
    );
}
