//! The structural half of offline validation: a document checked by the `jsonschema` crate
//! against the CRD's own `openAPIV3Schema` (generated from `api`), as the API server checks it
//! before its CEL rules — types, required fields, enums, bounds, list-map keys, a peer's single
//! key, and unknown fields (the server refuses them under `fieldValidation=Strict`, kubectl's
//! default). The CEL rules (`x-kubernetes-validations`) are `model::validate`'s job, and
//! `metadata` is [`super::metadata`]'s. Messages are in the API server's words.

use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::{Location, LocationSegment};
use jsonschema::{Draft, Keyword, ValidationError, Validator};
use kube::core::CustomResourceExt;
use serde_json::{Map, Value, json};

use super::messages::{type_error, unknown_field};
use crate::api::SecurityGroupSet;
use crate::limits::ONE_PEER_KEY_MESSAGE;

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

/// The keyword under which the derived schema keeps `x-kubernetes-list-map-keys` (of lists whose
/// `x-kubernetes-list-type` is `map`), checked by [`ListMapKeys`].
const LIST_MAP_KEYS: &str = "x-kubernetes-list-map-keys";

/// Keywords that mean the same in JSON Schema draft 4 as in a CRD's structural schema (OpenAPI
/// v3.0's schema object is draft 4's vocabulary), copied as they are. Everything else is dropped:
/// annotations (`description`, `default`, `format`), `nullable` (nulls are pruned before
/// validation, see [`pruned`]), and the CEL rules.
const SAME_KEYWORDS: [&str; 16] = [
    "type",
    "enum",
    "required",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
];

/// [`crd_schema`] as plain JSON Schema, with what the API server adds to it written out.
pub fn validation_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut root = derived(crd_schema());
        // The server adds these to every CRD's schema. `check_document` and `metadata` check
        // them with their own messages, and `status` is dropped on create (a subresource).
        for key in ["apiVersion", "kind", "metadata", "status"] {
            root["properties"][key] = json!({});
        }
        root
    })
}

/// One node of a structural schema as JSON Schema.
fn derived(node: &Value) -> Value {
    let Some(node) = node.as_object() else {
        return node.clone();
    };
    let mut out = Map::new();
    for (key, value) in node {
        let value = match key.as_str() {
            k if SAME_KEYWORDS.contains(&k) => value.clone(),
            "properties" => Value::Object(
                value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, prop)| (name.clone(), derived(prop)))
                    .collect(),
            ),
            "items" | "additionalProperties" | "not" => derived(value),
            "oneOf" | "anyOf" | "allOf" => {
                Value::Array(value.as_array().into_iter().flatten().map(derived).collect())
            }
            LIST_MAP_KEYS if node.get("x-kubernetes-list-type") == Some(&json!("map")) => value.clone(),
            _ => continue,
        };
        out.insert(key.clone(), value);
    }
    if node.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        out.insert("type".into(), json!(["integer", "string"]));
    }
    // Structural schemas know every field: what an object does not declare is unknown (pruned,
    // or refused under strict field validation), unless it says to keep unknown fields.
    let keeps_unknown = node.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true));
    if out.get("type") == Some(&json!("object"))
        && !out.contains_key("additionalProperties")
        && !keeps_unknown
    {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    Value::Object(out)
}

fn validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        jsonschema::options()
            .with_draft(Draft::Draft4)
            .with_keyword(LIST_MAP_KEYS, list_map_keys)
            .build(validation_schema())
            .expect("the schema derived from the CRD compiles")
    })
}

/// Builds [`ListMapKeys`] from the keyword's value, the key names.
fn list_map_keys<'a>(
    _parent: &'a Map<String, Value>,
    keys: &'a Value,
    _at: Location,
) -> Result<Box<dyn for<'i> Keyword<'i>>, ValidationError<'a>> {
    let keys = keys.as_array().into_iter().flatten();
    let keys = keys.filter_map(Value::as_str).map(String::from).collect();
    Ok(Box::new(ListMapKeys(keys)))
}

/// `x-kubernetes-list-map-keys`: no two items of the list have the same keys. JSON Schema has no
/// such keyword; [`duplicates`] names the items, for the messages.
struct ListMapKeys(Vec<String>);

impl<'i> Keyword<'i> for ListMapKeys {
    fn validate(&self, instance: &'i Value) -> Result<(), ValidationError<'i>> {
        if self.is_valid(instance) {
            Ok(())
        } else {
            Err(ValidationError::custom("Duplicate value"))
        }
    }

    fn is_valid(&self, instance: &'i Value) -> bool {
        instance
            .as_array()
            .is_none_or(|items| duplicates(items, &self.0).is_empty())
    }
}

/// Each item whose keys an earlier item has: (index, the keys as the API server prints them,
/// `{"name":"web"}`).
fn duplicates(items: &[Value], keys: &[String]) -> Vec<(usize, String)> {
    let key_of = |item: &Value| -> String {
        let parts: Vec<String> = keys.iter().map(|k| format!("{k:?}:{}", item[k])).collect();
        format!("{{{}}}", parts.join(","))
    };
    let all: Vec<String> = items.iter().map(key_of).collect();
    all.iter()
        .enumerate()
        .filter(|(i, key)| all[..*i].contains(key))
        .map(|(i, key)| (i, key.clone()))
        .collect()
}

/// Structural problems of one SecurityGroupSet document: (path, message), paths in the
/// `spec.tiers[name=web]` form.
pub fn check(doc: &Value) -> Vec<(String, String)> {
    let Some(obj) = doc.as_object() else {
        return vec![(String::new(), "a manifest must be a YAML mapping".into())];
    };
    let mut out = super::metadata::check(obj.get("metadata"));
    let instance = pruned(doc, validation_schema());
    let mut found: Vec<(String, bool, String, String)> = Vec::new();
    for error in validator().iter_errors(&instance) {
        let pointer = error.instance_path().as_str().to_string();
        let is_type = matches!(error.kind(), ValidationErrorKind::Type { .. });
        for (path, message) in findings(&error, &instance) {
            found.push((pointer.clone(), is_type, path, message));
        }
    }
    // A value of the wrong type is reported as that alone: the keywords that still apply to it
    // (an enum, a peer's `oneOf` of `required`s) would only say the same less clearly.
    let mistyped: Vec<String> = found.iter().filter(|f| f.1).map(|f| f.0.clone()).collect();
    found.retain(|(pointer, is_type, ..)| *is_type || !mistyped.contains(pointer));
    out.extend(found.into_iter().map(|(.., path, message)| (path, message)));
    out
}

/// The document without the nulls the API server prunes: a null under a field the schema
/// declares is as if absent (`required` reports it), while an unknown field is still refused.
fn pruned(value: &Value, schema: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            let kept = map
                .iter()
                .filter_map(|(key, v)| match schema["properties"].get(key).or(additional) {
                    Some(_) if v.is_null() => None,
                    Some(sub) => Some((key.clone(), pruned(v, sub))),
                    None => Some((key.clone(), v.clone())),
                });
            Value::Object(kept.collect())
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|item| pruned(item, &schema["items"])).collect())
        }
        other => other.clone(),
    }
}

/// One `jsonschema` error as (path, message) findings, in the API server's words.
fn findings(error: &ValidationError<'_>, instance: &Value) -> Vec<(String, String)> {
    let at = display_path(error.instance_path(), instance);
    let value: &Value = error.instance();
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|key| (child(&at, key), unknown_field()))
            .collect(),
        ValidationErrorKind::Required { property } => {
            let key = property.as_str().unwrap_or_default();
            vec![(child(&at, key), "Required value".into())]
        }
        ValidationErrorKind::Custom { keyword, .. } if keyword == LIST_MAP_KEYS => {
            let keys = schema_at(error.schema_path());
            let keys: Vec<String> = serde_json::from_value(keys.clone()).unwrap_or_default();
            let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
            duplicates(items, &keys)
                .into_iter()
                .map(|(i, key)| (format!("{at}[{i}]"), format!("Duplicate value: {key}")))
                .collect()
        }
        ValidationErrorKind::OneOfNotValid { .. } | ValidationErrorKind::OneOfMultipleValid { .. } => {
            let branches = schema_at(error.schema_path());
            vec![(at, one_of_message(value, branches))]
        }
        kind => vec![(at, message(kind, value).unwrap_or_else(|| error.to_string()))],
    }
}

/// The derived schema's node at a `jsonschema` schema path (a JSON pointer into it).
fn schema_at(path: &Location) -> &'static Value {
    validation_schema().pointer(path.as_str()).unwrap_or(&Value::Null)
}

/// The message of a single-value error; `None` for kinds the CRD's schema cannot raise.
fn message(kind: &ValidationErrorKind, value: &Value) -> Option<String> {
    let len = |v: &Value| match v {
        Value::Array(items) => items.len(),
        Value::Object(map) => map.len(),
        Value::String(s) => s.chars().count(),
        _ => 0,
    };
    let number = |limit: &Value| limit.as_f64().unwrap_or_default();
    Some(match kind {
        ValidationErrorKind::Type { kind } => type_error(value, &type_names(kind)),
        ValidationErrorKind::Enum { options } => {
            let list: Vec<String> = options
                .as_array()
                .into_iter()
                .flatten()
                .map(Value::to_string)
                .collect();
            format!(
                "Unsupported value: {value}: supported values: {}",
                list.join(", ")
            )
        }
        ValidationErrorKind::Minimum { limit } => format!(
            "Invalid value: {value}: should be greater than or equal to {}",
            number(limit)
        ),
        ValidationErrorKind::Maximum { limit } => format!(
            "Invalid value: {value}: should be less than or equal to {}",
            number(limit)
        ),
        ValidationErrorKind::MaxLength { limit } => format!(
            "Too long: may not be more than {limit} characters (got {})",
            len(value)
        ),
        ValidationErrorKind::MinLength { limit } => {
            format!("should be at least {limit} chars long")
        }
        ValidationErrorKind::MaxItems { limit } | ValidationErrorKind::MaxProperties { limit } => {
            format!("Too many: {}: must have at most {limit} items", len(value))
        }
        ValidationErrorKind::MinItems { limit } => format!("should have at least {limit} items"),
        _ => return None,
    })
}

/// `integer,string` for int-or-string, as the API server lists the types.
fn type_names(kind: &TypeKind) -> String {
    match kind {
        TypeKind::Single(t) => t.to_string(),
        TypeKind::Multiple(set) => {
            let names: Vec<String> = set.iter().map(|t| t.to_string()).collect();
            names.join(",")
        }
    }
}

/// A `oneOf` of `required`s (a peer's single key) failed: which of its keys the object has.
fn one_of_message(value: &Value, branches: &Value) -> String {
    let named: Vec<&Value> = branches
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|branch| branch["required"].as_array())
        .flatten()
        .collect();
    let keys: Vec<&str> = value
        .as_object()
        .into_iter()
        .flat_map(|map| map.keys())
        .filter(|key| named.iter().any(|n| n == key))
        .map(String::as_str)
        .collect();
    let found = if keys.is_empty() {
        "none".to_string()
    } else {
        keys.join(", ")
    };
    format!("must validate one and only one schema (oneOf): {ONE_PEER_KEY_MESSAGE}; found {found}")
}

/// A JSON pointer into `instance` as a finding's path: `spec.tiers[name=db].ingress[0]`, a
/// list-map item by its key (while unique), a map entry (`tags`) as `spec.tags[Key]`.
fn display_path(at: &Location, instance: &Value) -> String {
    let (mut path, mut schema, mut value) = (String::new(), validation_schema(), instance);
    for segment in at.segments() {
        // A map key of digits reads as an index: what it is depends on the value.
        let key = match (&segment, value) {
            (LocationSegment::Index(i), Value::Array(items)) => {
                path.push_str(&item_label(schema, items, *i));
                (schema, value) = (&schema["items"], &items[*i]);
                continue;
            }
            (LocationSegment::Index(i), _) => i.to_string(),
            (LocationSegment::Property(key), _) => key.to_string(),
        };
        match schema["properties"].get(&key) {
            Some(prop) => (path, schema) = (child(&path, &key), prop),
            None => {
                path.push_str(&format!("[{key}]"));
                schema = &schema["additionalProperties"];
            }
        }
        value = &value[key.as_str()];
    }
    path
}

/// `[name=web]` for the first item of a list map (one key) with that name, else `[i]`.
fn item_label(schema: &Value, items: &[Value], i: usize) -> String {
    if let Some([Value::String(key)]) = schema[LIST_MAP_KEYS].as_array().map(Vec::as_slice)
        && let Some(name) = items[i][key].as_str()
        && !items[..i].iter().any(|item| item[key] == items[i][key])
    {
        return format!("[{key}={name}]");
    }
    format!("[{i}]")
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}
