//! The generated CRD in a real API server: installs, accepts the seed example, refuses bad input.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, PostParams};
use serde_json::{Value, json};
use sg_provisioner::api::SecurityGroupSet;

use crate::support::k8s;

fn seed_example() -> SecurityGroupSet {
    serde_saphyr::from_str(include_str!(
        "../../examples/globalbank-prod-c001-us-west-2-sg.yaml"
    ))
    .unwrap()
}

#[tokio::test]
async fn generated_crd_installs_and_becomes_established() {
    let client = k8s::client().await;
    k8s::install_crd(&client).await;

    let crd = Api::<CustomResourceDefinition>::all(client)
        .get(k8s::CRD_NAME)
        .await
        .unwrap();
    assert_eq!(crd.spec.names.short_names, Some(vec!["sgs".to_string()]));
    assert_eq!(
        crd.spec.names.categories,
        Some(vec!["aws".to_string(), "sgprovisioner".to_string()])
    );
    let version = &crd.spec.versions[0];
    assert_eq!(version.name, "v1alpha1");
    let columns: Vec<_> = version
        .additional_printer_columns
        .as_ref()
        .unwrap()
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(columns, ["Ready", "VPC", "Tiers", "Age"]);
    assert!(
        version.subresources.as_ref().unwrap().status.is_some(),
        "status subresource on"
    );
}

#[tokio::test]
async fn seed_example_is_accepted_and_read_back() {
    let client = k8s::client().await;
    k8s::install_crd(&client).await;
    let ns = k8s::namespace(&client, "crd-accept").await;
    let sets: Api<SecurityGroupSet> = Api::namespaced(client, &ns);

    let mut example = seed_example();
    example.metadata.namespace = Some(ns.clone());
    sets.create(&PostParams::default(), &example)
        .await
        .expect("the seed example is accepted");

    let stored = sets.get("globalbank-prod-c001-us-west-2-sg").await.unwrap();
    assert_eq!(stored.spec, example.spec, "the spec reads back unchanged");
    sets.delete("globalbank-prod-c001-us-west-2-sg", &DeleteParams::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn schema_violations_are_refused_with_the_field_named() {
    let client = k8s::client().await;
    k8s::install_crd(&client).await;
    let ns = k8s::namespace(&client, "crd-refuse").await;
    let resource = ApiResource::erase::<SecurityGroupSet>(&());
    let api: Api<DynamicObject> = Api::namespaced_with(client, &ns, &resource);

    // Each case breaks the seed example in one place; the API server must name that field.
    type Breakage = fn(&mut Value);
    let cases: &[(&str, Breakage, &str)] = &[
        (
            "enum value",
            |o| o["spec"]["deletionPolicy"] = json!("Sometimes"),
            "spec.deletionPolicy",
        ),
        (
            "missing tiers",
            |o| {
                o["spec"].as_object_mut().unwrap().remove("tiers");
            },
            "spec.tiers",
        ),
        (
            "missing vpc",
            |o| {
                o["spec"].as_object_mut().unwrap().remove("vpc");
            },
            "spec.vpc",
        ),
        (
            "ports not int-or-string",
            |o| o["spec"]["tiers"][0]["ingress"][0]["ports"] = json!({"from": 1}),
            "spec.tiers[0].ingress[0].ports",
        ),
        (
            "peer with two keys",
            |o| o["spec"]["tiers"][0]["ingress"][0]["from"][0] = json!({"cidr": "10.0.0.0/8", "tier": "app"}),
            "spec.tiers[0].ingress[0].from[0]",
        ),
        (
            "tier without name",
            |o| {
                o["spec"]["tiers"][1].as_object_mut().unwrap().remove("name");
            },
            "spec.tiers[1].name",
        ),
        (
            "duplicate tier name",
            |o| o["spec"]["tiers"][1]["name"] = json!("web"),
            "spec.tiers[1]",
        ),
        (
            "tags not strings",
            |o| o["spec"]["tags"] = json!({"Environment": {"nested": true}}),
            "spec.tags.Environment",
        ),
    ];
    let mut failures = Vec::new();
    for (i, (what, breakage, field)) in cases.iter().enumerate() {
        let mut object = serde_json::to_value(seed_example()).unwrap();
        object["metadata"] = json!({"name": format!("bad-{i}"), "namespace": ns});
        breakage(&mut object);
        let object: DynamicObject = serde_json::from_value(object).unwrap();
        match api.create(&PostParams::default(), &object).await {
            Ok(_) => failures.push(format!("{what}: accepted")),
            Err(err) => {
                let message = err.to_string();
                if !message.contains(field) {
                    failures.push(format!("{what}: message does not name {field}: {message}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
