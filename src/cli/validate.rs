//! `sg-provisioner validate -f FILE|DIR|-`: the admission rules, offline (no cluster, no AWS),
//! for CI pipelines. Every document of every file is checked twice, as the API server would:
//! against the CRD's schema (`schema`, with the `jsonschema` crate: types, required fields,
//! bounds, unknown fields; `metadata` by hand) and
//! against its rules (`model::validate`, the Rust twin of the CEL rules). It also warns about
//! what the seed's security audit would flag: a port other than 80/443 open to the world.
//!
//! Exit code: 0 clean (warnings allowed), 1 problems, 2 unreadable input (a file that cannot be
//! read, or is not YAML: syntax errors, duplicate keys, alias bombs).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::{LimitArgs, Output};
use crate::api::{Peer, SecurityGroupSetSpec};
use crate::model::{self, Limits, rule_match};

mod messages;
pub mod metadata;
pub mod schema;

#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// A manifest file, a directory (its .yaml, .yml and .json files, recursively) or `-` for
    /// stdin. Repeat for several. Multi-document YAML; documents of other kinds are skipped.
    #[arg(short = 'f', long = "filename", required = true)]
    pub files: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
    /// The controller's quotas (the CRD enforces AWS's defaults).
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// What a finding is (shown as `severity` in JSON output).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingKind {
    Error,
    Warning,
    /// The file (or its YAML) could not be read: nothing in it was checked.
    Unreadable,
}

/// One problem, warning or unreadable input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub file: String,
    /// 1-based document number in the file; 0 for the file as a whole.
    pub document: usize,
    pub severity: FindingKind,
    /// The field, tiers by name: `spec.tiers[name=db].ingress[0].from[0].cidr`.
    pub path: String,
    /// The same field as the API server names it, tiers by index: `spec.tiers[2]...`.
    pub api_path: String,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.path.is_empty() {
            "(document)"
        } else {
            &self.path
        };
        match self.severity {
            FindingKind::Unreadable => write!(f, "{}: unreadable: {}", self.file, self.message),
            FindingKind::Error => write!(f, "{}:{}: {at}: {}", self.file, self.document, self.message),
            FindingKind::Warning => write!(
                f,
                "{}:{}: warning: {at}: {}",
                self.file, self.document, self.message
            ),
        }
    }
}

/// 0 clean, 1 problems, 2 unreadable input.
pub fn exit_code(findings: &[Finding]) -> i32 {
    if findings.iter().any(|f| f.severity == FindingKind::Unreadable) {
        2
    } else if findings.iter().any(|f| f.severity == FindingKind::Error) {
        1
    } else {
        0
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    files: usize,
    documents: usize,
    errors: usize,
    warnings: usize,
    unreadable: usize,
    findings: &'a [Finding],
}

pub fn run(args: ValidateArgs) -> anyhow::Result<i32> {
    let limits = args.limits.limits();
    let mut findings = Vec::new();
    let mut files = 0;
    let mut documents = 0;
    for input in &args.files {
        for (name, text) in read_inputs(input) {
            files += 1;
            match text {
                Ok(text) => {
                    let checked = check_text(&name, &text, &limits);
                    documents += checked.documents;
                    findings.extend(checked.findings);
                }
                Err(message) => findings.push(unreadable(&name, message)),
            }
        }
    }
    let count = |s| findings.iter().filter(|f| f.severity == s).count();
    let (errors, warnings, unreadable) = (
        count(FindingKind::Error),
        count(FindingKind::Warning),
        count(FindingKind::Unreadable),
    );
    let mut stdout = std::io::stdout().lock();
    match args.output {
        Output::Json => {
            let report = Report {
                files,
                documents,
                errors,
                warnings,
                unreadable,
                findings: &findings,
            };
            serde_json::to_writer_pretty(&mut stdout, &report)?;
            writeln!(stdout)?;
        }
        Output::Text => {
            for f in &findings {
                writeln!(stdout, "{f}")?;
            }
            eprintln!(
                "validate: {files} file(s), {documents} SecurityGroupSet document(s): \
                 {errors} problem(s), {warnings} warning(s), {unreadable} unreadable"
            );
        }
    }
    Ok(exit_code(&findings))
}

fn unreadable(file: &str, message: String) -> Finding {
    Finding {
        file: file.into(),
        document: 0,
        severity: FindingKind::Unreadable,
        path: String::new(),
        api_path: String::new(),
        message,
    }
}

/// `-` (stdin), a file, or every manifest under a directory (sorted): (name, text or why not).
fn read_inputs(input: &Path) -> Vec<(String, Result<String, String>)> {
    if input.as_os_str() == "-" {
        let mut bytes = Vec::new();
        let text = std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| e.to_string())
            .and_then(|_| String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string()));
        return vec![("-".into(), text)];
    }
    if input.is_dir() {
        let mut paths = Vec::new();
        collect_manifests(input, &mut paths);
        paths.sort();
        return paths
            .into_iter()
            .map(|p| (p.display().to_string(), read_file(&p)))
            .collect();
    }
    vec![(input.display().to_string(), read_file(input))]
}

fn collect_manifests(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        out.push(dir.to_path_buf());
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_manifests(&path, out);
        } else if path
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        {
            out.push(path);
        }
    }
}

fn read_file(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())
}

/// What [`check_text`] found in one file.
#[derive(Debug, Default)]
pub struct Checked {
    /// SecurityGroupSet documents checked.
    pub documents: usize,
    pub findings: Vec<Finding>,
}

/// Every document of one YAML text (a file's content).
pub fn check_text(file: &str, text: &str, limits: &Limits) -> Checked {
    let docs: Vec<Value> = match serde_saphyr::from_multiple(text) {
        Ok(docs) => docs,
        Err(e) => {
            return Checked {
                documents: 0,
                findings: vec![unreadable(file, yaml_error(&e.to_string()))],
            };
        }
    };
    let mut checked = Checked::default();
    for (i, doc) in docs.iter().enumerate() {
        if !is_security_group_set(doc) {
            continue;
        }
        checked.documents += 1;
        for (severity, path, message) in check_document(doc, limits) {
            checked.findings.push(Finding {
                file: file.into(),
                document: i + 1,
                severity,
                api_path: api_path(&path, doc),
                path,
                message,
            });
        }
    }
    checked
}

/// The YAML parser's message, first line, with the API server's words for an alias bomb.
fn yaml_error(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message).trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let first = first.split(", set DuplicateKeyPolicy").next().unwrap_or(first);
    let lower = first.to_ascii_lowercase();
    if lower.contains("alias") || lower.contains("budget breached") {
        format!("YAML: document contains excessive aliasing ({first})")
    } else {
        format!("YAML: {first}")
    }
}

/// Documents this command checks: any of our API group, or `kind: SecurityGroupSet` without
/// an apiVersion. Other manifests in the same files are skipped.
fn is_security_group_set(doc: &Value) -> bool {
    match (doc["apiVersion"].as_str(), doc["kind"].as_str()) {
        (Some(v), _) => v.split('/').next() == Some(crate::api::GROUP),
        (None, Some(kind)) => kind == "SecurityGroupSet",
        (None, None) => false,
    }
}

/// One document's problems and warnings: (severity, path, message), paths in the
/// `spec.tiers[name=db]` form.
pub fn check_document(doc: &Value, limits: &Limits) -> Vec<(FindingKind, String, String)> {
    let mut out: Vec<(FindingKind, String, String)> = Vec::new();
    let want = format!("{}/v1alpha1", crate::api::GROUP);
    match doc["apiVersion"].as_str() {
        Some(v) if v == want => {}
        other => out.push((
            FindingKind::Error,
            "apiVersion".into(),
            format!("must be {want}, not {}", other.unwrap_or("(missing)")),
        )),
    }
    if doc["kind"].as_str() != Some("SecurityGroupSet") {
        out.push((
            FindingKind::Error,
            "kind".into(),
            "must be SecurityGroupSet".into(),
        ));
    }
    let structural = schema::check(doc);
    let structural_at: Vec<String> = structural.iter().map(|(p, _)| api_path(p, doc)).collect();
    out.extend(structural.into_iter().map(|(p, m)| (FindingKind::Error, p, m)));

    let name = doc["metadata"]["name"].as_str().unwrap_or_default();
    let Ok(spec) = serde_json::from_value::<SecurityGroupSetSpec>(repaired_spec(doc)) else {
        // The schema check has said why (a type, a missing field, a peer with two keys).
        if out.is_empty() {
            out.push((
                FindingKind::Error,
                "spec".into(),
                "does not read as a SecurityGroupSet spec".into(),
            ));
        }
        return out;
    };
    // Semantic problems under a field the schema check already refused would repeat it.
    let covered = |path: &str| {
        let at = api_path(path, doc);
        structural_at.iter().any(|s| {
            at == *s
                || at
                    .strip_prefix(s.as_str())
                    .is_some_and(|rest| rest.starts_with(['.', '[']))
        })
    };
    let errors = model::check(name, &spec, limits);
    for e in &errors {
        if !covered(&e.path) {
            out.push((FindingKind::Error, e.path.clone(), e.message.clone()));
        }
    }
    for (path, message) in audit_warnings(&spec) {
        if !errors.iter().any(|e| e.path == path) {
            out.push((FindingKind::Warning, path, message));
        }
    }
    out
}

/// The spec with each peer cut to one known key (or `self: true` when it has none), so that a
/// peer the schema check refused does not hide every other problem of the document.
fn repaired_spec(doc: &Value) -> Value {
    const KEYS: [&str; 7] = crate::api::PEER_KEYS;
    let mut spec = doc["spec"].clone();
    let Some(tiers) = spec.get_mut("tiers").and_then(Value::as_array_mut) else {
        return spec;
    };
    for tier in tiers {
        for (rules, peers) in [("ingress", "from"), ("egress", "to")] {
            let Some(rules) = tier.get_mut(rules).and_then(Value::as_array_mut) else {
                continue;
            };
            for rule in rules {
                let Some(list) = rule.get_mut(peers).and_then(Value::as_array_mut) else {
                    continue;
                };
                for peer in list {
                    let Some(map) = peer.as_object() else { continue };
                    let known: Vec<&String> = map
                        .keys()
                        .filter(|k| KEYS.contains(&k.as_str()) && !map[*k].is_null())
                        .collect();
                    if known.len() != 1 {
                        *peer = match known.first() {
                            Some(k) => serde_json::json!({ *k: map[*k].clone() }),
                            None => serde_json::json!({"self": true}),
                        };
                    }
                }
            }
        }
    }
    spec
}

/// Seed 003's audit: any port but 80 and 443 reachable from 0.0.0.0/0 or ::/0.
fn audit_warnings(spec: &SecurityGroupSetSpec) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for tier in &spec.tiers {
        for (r, rule) in tier.ingress.iter().enumerate() {
            let Ok(m) = rule_match(&rule.traffic) else {
                continue;
            };
            let web = matches!(m.protocol.as_str(), "tcp" | "udp")
                && m.from_port == m.to_port
                && (m.from_port == 80 || m.from_port == 443);
            if web {
                continue;
            }
            for (p, peer) in rule.from.iter().enumerate() {
                let world = match peer {
                    Peer::Cidr(c) if c == "0.0.0.0/0" => c,
                    Peer::Ipv6Cidr(c) if c == "::/0" => c,
                    _ => continue,
                };
                out.push((
                    format!("spec.tiers[name={}].ingress[{r}].from[{p}]", tier.name),
                    format!(
                        "{m} is open to the world ({world}); the security audit flags any port but 80 and 443"
                    ),
                ));
            }
        }
    }
    out
}

/// `spec.tiers[name=db].x` → `spec.tiers[2].x`: the path as the API server reports it.
pub fn api_path(path: &str, doc: &Value) -> String {
    const MARK: &str = "spec.tiers[name=";
    let Some(rest) = path.strip_prefix(MARK) else {
        return path.to_string();
    };
    let Some(end) = rest.find(']') else {
        return path.to_string();
    };
    let name = &rest[..end];
    let index = doc["spec"]["tiers"]
        .as_array()
        .and_then(|tiers| tiers.iter().position(|t| t["name"].as_str() == Some(name)));
    match index {
        Some(i) => format!("spec.tiers[{i}]{}", &rest[end + 1..]),
        None => path.to_string(),
    }
}

#[cfg(test)]
mod tests;
