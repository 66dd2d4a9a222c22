#![allow(dead_code, clippy::all)]

use std::collections::BTreeSet;
use std::sync::OnceLock;

use kube::core::CustomResourceExt;
use serde_json::Value;

use crate::api::SecurityGroupSet;
use crate::limits::ONE_PEER_KEY_MESSAGE;
use crate::model::validate::{is_dns_label, is_dns_subdomain};

/// The CRD's `openAPIV3Schema`, as JSON.
pub fn crd_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let crd = SecurityGroupSet::crd();
        let schema = crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .expect("the generated CRD has a schema");
        serde_json::to_value(schema).expect("the schema serializes")
    })
}

/// `ObjectMeta` fields a manifest may carry.
const METADATA_FIELDS: [&str; 15] = [
    "name",
    "generateName",
    "namespace",
    "labels",
    "annotations",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",
    "finalizers",
    "managedFields",
    "selfLink",
];

/// Structural problems of one SecurityGroupSet document: (path, message), paths in the
/// `spec.tiers[name=web]` form.
pub fn check(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(obj) = doc.as_object() else {
        out.push((String::new(), "a manifest must be a YAML mapping".into()));
        return out;
    };
    let schema = crd_schema();
    for key in obj.keys() {
        if !["apiVersion", "kind", "metadata", "spec", "status"].contains(&key.as_str()) {
            out.push((key.clone(), unknown_field()));
        }
    }
    match obj.get("metadata") {
        Some(Value::Object(meta)) => {
            for key in meta.keys() {
                if !METADATA_FIELDS.contains(&key.as_str()) {
                    out.push((format!("metadata.{key}"), unknown_field()));
                }
            }
            match meta.get("name") {
                Some(Value::String(name)) => {
                    if !is_dns_subdomain(name) {
                        out.push((
                            "metadata.name".into(),
                            format!(
                                "Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case \
                                 alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
                            ),
                        ));
                    }
                }
                Some(other) => out.push(("metadata.name".into(), type_error(other, "string"))),
                None if meta.contains_key("generateName") => {}
                None => out.push((
                    "metadata.name".into(),
                    "Required value: name or generateName is required".into(),
                )),
            }
            if let Some(ns) = meta.get("namespace")
                && !ns.as_str().is_some_and(is_dns_label)
            {
                out.push((
                    "metadata.namespace".into(),
                    "Invalid value: a namespace is a lowercase RFC 1123 label".into(),
                ));
            }
        }
        Some(other) => out.push(("metadata".into(), type_error(other, "object"))),
        None => out.push((
            "metadata.name".into(),
            "Required value: name or generateName is required".into(),
        )),
    }
    let spec_schema = &schema["properties"]["spec"];
    match obj.get("spec") {
        None | Some(Value::Null) => out.push(("spec".into(), "Required value".into())),
        Some(spec) => walk(spec_schema, spec, "spec", &mut out),
    }
    out
}

fn unknown_field() -> String {
    "unknown field: not in the SecurityGroupSet schema (check the spelling)".into()
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_error(v: &Value, want: &str) -> String {
    format!("Invalid value: {:?}: must be of type {want}", json_type(v))
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Checks `value` against `schema` at `path`, appending (path, message) problems.
fn walk(schema: &Value, value: &Value, path: &str, out: &mut Vec<(String, String)>) {
    if value.is_null() {
        // The API server prunes nulls of non-nullable fields: `required` reports them.
        return;
    }
    if schema["x-kubernetes-int-or-string"] == Value::Bool(true) {
        match value {
            Value::String(s) => check_string(schema, s, path, out),
            Value::Number(n) if n.is_i64() || n.is_u64() => {}
            other => out.push((path.into(), type_error(other, "integer,string"))),
        }
        return;
    }
    let Some(want) = schema["type"].as_str() else {
        return;
    };
    let got = json_type(value);
    let type_ok = got == want || (want == "number" && got == "integer");
    if !type_ok {
        out.push((path.into(), type_error(value, want)));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        let list: Vec<String> = allowed.iter().map(|v| v.to_string()).collect();
        out.push((
            path.into(),
            format!(
                "Unsupported value: {value}: supported values: {}",
                list.join(", ")
            ),
        ));
    }
    match value {
        Value::String(s) => check_string(schema, s, path, out),
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(0.0);
            if let Some(min) = schema["minimum"].as_f64()
                && x < min
            {
                out.push((
                    path.into(),
                    format!("Invalid value: {n}: should be greater than or equal to {min}"),
                ));
            }
            if let Some(max) = schema["maximum"].as_f64()
                && x > max
            {
                out.push((
                    path.into(),
                    format!("Invalid value: {n}: should be less than or equal to {max}"),
                ));
            }
        }
        Value::Array(items) => check_array(schema, items, path, out),
        Value::Object(map) => check_object(schema, map, path, out),
        _ => {}
    }
}

fn check_string(schema: &Value, s: &str, path: &str, out: &mut Vec<(String, String)>) {
    let n = s.chars().count() as u64;
    if let Some(max) = schema["maxLength"].as_u64()
        && n > max
    {
        out.push((
            path.into(),
            format!("Too long: may not be more than {max} characters (got {n})"),
        ));
    }
    if let Some(min) = schema["minLength"].as_u64()
        && n < min
    {
        out.push((path.into(), format!("should be at least {min} chars long")));
    }
}

fn check_array(schema: &Value, items: &[Value], path: &str, out: &mut Vec<(String, String)>) {
    if let Some(max) = schema["maxItems"].as_u64()
        && items.len() as u64 > max
    {
        out.push((
            path.into(),
            format!("Too many: {}: must have at most {max} items", items.len()),
        ));
    }
    if let Some(min) = schema["minItems"].as_u64()
        && (items.len() as u64) < min
    {
        out.push((path.into(), format!("should have at least {min} items")));
    }
    let keys: Vec<&str> = schema["x-kubernetes-list-map-keys"]
        .as_array()
        .map(|k| k.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let is_map = schema["x-kubernetes-list-type"] == "map" && !keys.is_empty();
    let mut seen = BTreeSet::new();
    let item_schema = &schema["items"];
    for (i, item) in items.iter().enumerate() {
        let mut item_path = format!("{path}[{i}]");
        if is_map {
            let key: Vec<String> = keys.iter().map(|k| item[k].to_string()).collect();
            if !seen.insert(key.clone()) {
                out.push((
                    item_path.clone(),
                    format!(
                        "Duplicate value: {{{}}}",
                        keys.iter()
                            .zip(&key)
                            .map(|(k, v)| format!("{k:?}:{v}"))
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                ));
            } else if let [k] = keys.as_slice()
                && let Some(name) = item[*k].as_str()
            {
                item_path = format!("{path}[{k}={name}]");
            }
        }
        walk(item_schema, item, &item_path, out);
    }
}

fn check_object(
    schema: &Value,
    map: &serde_json::Map<String, Value>,
    path: &str,
    out: &mut Vec<(String, String)>,
) {
    let properties = schema["properties"].as_object();
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    if let Some(max) = schema["maxProperties"].as_u64()
        && map.len() as u64 > max
    {
        out.push((
            path.into(),
            format!("Too many: {}: must have at most {max} items", map.len()),
        ));
    }
    for (key, value) in map {
        match (properties.and_then(|p| p.get(key)), additional) {
            (Some(prop), _) => walk(prop, value, &child(path, key), out),
            (None, Some(add)) => walk(add, value, &format!("{path}[{key}]"), out),
            (None, None) => out.push((child(path, key), unknown_field())),
        }
    }
    if let Some(required) = schema["required"].as_array() {
        for key in required.iter().filter_map(Value::as_str) {
            if map.get(key).is_none_or(Value::is_null) {
                out.push((child(path, key), "Required value".into()));
            }
        }
    }
    if let Some(branches) = schema["oneOf"].as_array() {
        let present = |k: &Value| {
            k.as_str()
                .is_some_and(|k| map.get(k).is_some_and(|v| !v.is_null()))
        };
        let matching = branches
            .iter()
            .filter(|b| b["required"].as_array().is_some_and(|r| r.iter().all(present)))
            .count();
        if matching != 1 {
            let keys: Vec<&str> = map
                .iter()
                .filter(|(k, v)| !v.is_null() && properties.is_some_and(|p| p.contains_key(*k)))
                .map(|(k, _)| k.as_str())
                .collect();
            let found = if keys.is_empty() {
                "none".to_string()
            } else {
                keys.join(", ")
            };
            out.push((
                path.into(),
                format!(
                    "must validate one and only one schema (oneOf): {ONE_PEER_KEY_MESSAGE}; found {found}"
                ),
            ));
        }
    }
}
#[cfg(test)]
mod compare {
    use serde_json::Value;
    fn docs() -> Vec<(String, Value)> {
        let base = "apiVersion: sgprovisioner.io/v1alpha1\nkind: SecurityGroupSet\nmetadata: {name: s}\n";
        let spec = |s: &str| format!("{base}spec:\n  vpc: {{id: vpc-0abc1234}}\n{s}");
        let t = |rule: &str| {
            spec(&format!(
                "  tiers:\n    - name: web\n      ingress:\n        - {rule}\n"
            ))
        };
        let mut texts: Vec<(String, String)> = vec![
            ("enum-type".into(), spec("  deletionPolicy: 5\n  tiers: [{name: web}]\n")),
            ("enum".into(), spec("  deletionPolicy: Keep\n  managementPolicy: x\n  tiers: [{name: web}]\n")),
            ("peer-string".into(), t("{protocol: tcp, ports: 1, from: [x]}")),
            ("peer-two".into(), t("{protocol: tcp, ports: 1, from: [{tier: web, cidr: 10.0.0.0/8}]}")),
            ("peer-sg-self".into(), t("{protocol: tcp, ports: 1, from: [{self: true, securityGroupId: sg-1}]}")),
            ("peer-none".into(), t("{protocol: tcp, ports: 1, from: [{}]}")),
            ("peer-null".into(), t("{protocol: tcp, ports: 1, from: [{cidr: null, tier: web}]}")),
            ("peer-typo".into(), t("{protocol: tcp, ports: 1, from: [{cdir: 10.0.0.0/8}]}")),
            ("peer-nullitem".into(), t("{protocol: tcp, ports: 1, from: [null]}")),
            ("ports-bool".into(), t("{protocol: tcp, ports: true, from: [{self: true}]}")),
            ("ports-long".into(), t("{protocol: tcp, ports: \"1111111111111-2\", from: [{self: true}]}")),
            ("proto-float".into(), t("{protocol: 1.5, from: [{self: true}]}")),
            ("proto-missing".into(), t("{from: [{self: true}]}")),
            ("from-empty".into(), t("{protocol: tcp, ports: 1, from: []}")),
            ("from-null".into(), t("{protocol: tcp, ports: 1, from: null}")),
            ("icmp".into(), t("{protocol: icmp, icmp: {type: -1, code: 300}, from: [{self: true}]}")),
            ("icmp-float".into(), t("{protocol: icmp, icmp: {type: 1.5}, from: [{self: true}]}")),
            ("icmp-notype".into(), t("{protocol: icmp, icmp: {code: 1, x: 2}, from: [{self: true}]}")),
            ("setref".into(), t("{protocol: tcp, ports: 1, from: [{setRef: {name: a, extra: 1}}]}")),
            ("tags".into(), spec("  tags: {a: 1, \"123\": 5, b: null, c: [x]}\n  tiers: [{name: web}]\n")),
            ("tags-long".into(), spec(&format!("  tags: {{k: {}}}\n  tiers: [{{name: web}}]\n", "v".repeat(300)))),
            ("tiers-null".into(), spec("  tiers: [null]\n")),
            ("tiers-str".into(), spec("  tiers: abc\n")),
            ("tiers-empty".into(), spec("  tiers: []\n")),
            ("tiers-dup3".into(), spec("  tiers: [{name: web}, {name: db}, {name: web}, {name: web, ingres: 1}]\n")),
            ("tier-unknown-null".into(), spec("  tiers: [{name: web, ingres: null}]\n")),
            ("tier-name-null".into(), spec("  tiers: [{name: null}]\n")),
            ("tier-name-int".into(), spec("  tiers: [{name: 5}]\n")),
            ("tier-desc".into(), spec(&format!("  tiers: [{{name: web, description: {}}}]\n", "é".repeat(300)))),
            ("vpc".into(), format!("{base}spec:\n  vpc: {{ID: x}}\n  tiers: [{{name: web}}]\n")),
            ("vpc-str".into(), format!("{base}spec:\n  vpc: x\n  tiers: [{{name: web}}]\n")),
            ("spec-null".into(), format!("{base}spec: null\n")),
            ("spec-missing".into(), base.to_string()),
            ("spec-list".into(), format!("{base}spec: [1]\n")),
            ("top-unknown".into(), format!("{}foo: 1\nstatus: {{x: 1}}\n", spec("  tiers: [{name: web}]\n"))),
            ("meta".into(), "apiVersion: sgprovisioner.io/v1alpha1\nkind: SecurityGroupSet\nmetadata: {name: 5, namespace: A_B, label: x}\nspec: {vpc: {id: v}, tiers: [{name: w}]}\n".into()),
            ("meta-missing".into(), "apiVersion: sgprovisioner.io/v1alpha1\nkind: SecurityGroupSet\nspec: {vpc: {id: v}, tiers: [{name: w}]}\n".into()),
            ("meta-int".into(), "apiVersion: sgprovisioner.io/v1alpha1\nkind: SecurityGroupSet\nmetadata: 5\nspec: {vpc: {id: v}, tiers: [{name: w}]}\n".into()),
            ("egress".into(), spec("  tiers:\n    - name: web\n      egress:\n        - {protocol: tcp, ports: 1, to: [{tier: web, self: true}], x: 1}\n      ingress: {}\n")),
            ("allow".into(), spec("  allowPublicRiskyPorts: \"yes\"\n  region: 5\n  tiers: [{name: web}]\n")),
        ];
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        for dir in ["tests/corpus/invalid", "examples"] {
            let mut paths: Vec<_> = std::fs::read_dir(root.join(dir))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            paths.sort();
            for p in paths {
                texts.push((p.display().to_string(), std::fs::read_to_string(&p).unwrap()));
            }
        }
        let mut out = Vec::new();
        for (name, text) in texts {
            let Ok(docs) = serde_saphyr::from_multiple::<Value>(&text) else {
                continue;
            };
            for (i, d) in docs.into_iter().enumerate() {
                out.push((format!("{name}#{i}"), d));
            }
        }
        out
    }

    #[test]
    fn old_walker_and_jsonschema_agree() {
        let mut report = String::new();
        let (mut same, mut differ) = (0, 0);
        for (name, doc) in docs() {
            let mut old = super::check(&doc);
            let mut new = crate::cli::validate::schema::check(&doc);
            let order_same = old == new;
            old.sort();
            new.sort();
            if old == new {
                same += 1;
                if !order_same {
                    report.push_str(&format!("ORDER ONLY {name}\n old {:?}\n new {:?}\n", super::check(&doc), crate::cli::validate::schema::check(&doc)));
                }
                continue;
            }
            differ += 1;
            report.push_str(&format!("== {name}\n"));
            for o in &old {
                if !new.contains(o) {
                    report.push_str(&format!("  - {}: {}\n", o.0, o.1));
                }
            }
            for n in &new {
                if !old.contains(n) {
                    report.push_str(&format!("  + {}: {}\n", n.0, n.1));
                }
            }
        }
        std::fs::write(
            "/tmp/compare.txt",
            format!("{same} same, {differ} differ\n{report}"),
        )
        .unwrap();
    }
}
