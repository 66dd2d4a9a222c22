//! `metadata`, checked by hand: the CRD's schema says only `type: object` there, and the API
//! server checks `ObjectMeta` with its own Go code, not with the schema.

use serde_json::{Map, Value};

use super::messages::{type_error, unknown_field};
use crate::model::validate::{is_dns_label, is_dns_subdomain};

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

/// Problems of a document's `metadata` (absent when `None`): (path, message).
pub fn check(metadata: Option<&Value>) -> Vec<(String, String)> {
    let meta = match metadata {
        Some(Value::Object(meta)) => meta,
        Some(other) => return vec![("metadata".into(), type_error(other, "object"))],
        None => return vec![name_required()],
    };
    let mut out: Vec<(String, String)> = meta
        .keys()
        .filter(|key| !METADATA_FIELDS.contains(&key.as_str()))
        .map(|key| (format!("metadata.{key}"), unknown_field()))
        .collect();
    out.extend(check_name(meta));
    if let Some(ns) = meta.get("namespace")
        && !ns.as_str().is_some_and(is_dns_label)
    {
        out.push((
            "metadata.namespace".into(),
            "Invalid value: a namespace is a lowercase RFC 1123 label".into(),
        ));
    }
    out
}

fn check_name(meta: &Map<String, Value>) -> Option<(String, String)> {
    match meta.get("name") {
        Some(Value::String(name)) if is_dns_subdomain(name) => None,
        Some(Value::String(name)) => Some((
            "metadata.name".into(),
            format!(
                "Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case \
                 alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
            ),
        )),
        Some(other) => Some(("metadata.name".into(), type_error(other, "string"))),
        // The server names a generated object itself.
        None if meta.contains_key("generateName") => None,
        None => Some(name_required()),
    }
}

fn name_required() -> (String, String) {
    (
        "metadata.name".into(),
        "Required value: name or generateName is required".into(),
    )
}
