//! Messages the schema and metadata checks share, in the API server's words.

use serde_json::Value;

pub fn unknown_field() -> String {
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

pub fn type_error(v: &Value, want: &str) -> String {
    format!("Invalid value: {:?}: must be of type {want}", json_type(v))
}
