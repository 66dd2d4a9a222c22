//! `audit`: every security group of the given regions, risky findings as a table, JSON or SARIF.

use std::collections::BTreeSet;

use serde_json::json;

use crate::audit::{Finding, RULES, Severity, audit};
use crate::aws::Aws;
use crate::metrics::Metrics;

#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    /// Regions to scan (repeat, or comma-separated); default: the AWS SDK's region.
    #[arg(long = "region", value_delimiter = ',')]
    pub regions: Vec<String>,
    /// Only groups of this VPC (references are still checked against the whole region).
    #[arg(long)]
    pub vpc_id: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    pub output: AuditOutput,
    /// Exit 1 when a finding at or above this severity exists.
    #[arg(long, value_enum, default_value = "high")]
    pub fail_on: Severity,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditOutput {
    Table,
    Json,
    Sarif,
}

pub async fn run(args: AuditArgs) -> anyhow::Result<i32> {
    let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let regions: Vec<Option<String>> = if args.regions.is_empty() {
        vec![None]
    } else {
        args.regions.iter().cloned().map(Some).collect()
    };
    let mut findings = Vec::new();
    let mut scanned = 0;
    for region in regions {
        let mut config = base.to_builder();
        if let Some(r) = &region {
            config = config.region(aws_config::Region::new(r.clone()));
        }
        let config = config.build();
        let name = config.region().map(ToString::to_string).unwrap_or_default();
        let aws = Aws::new(&config, Metrics::default());
        let groups = aws.all_groups(args.vpc_id.as_deref()).await?;
        let existing: BTreeSet<String> = if args.vpc_id.is_some() {
            aws.all_groups(None)
                .await?
                .iter()
                .filter_map(|g| g.group_id.clone())
                .collect()
        } else {
            groups.iter().filter_map(|g| g.group_id.clone()).collect()
        };
        let in_use = aws.groups_in_use(args.vpc_id.as_deref()).await?;
        scanned += groups.len();
        findings.extend(audit(&name, &groups, &existing, &in_use));
    }
    match args.output {
        AuditOutput::Table => print_table(&findings, scanned),
        AuditOutput::Json => {
            let doc = json!({ "groupsScanned": scanned, "findings": findings });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        AuditOutput::Sarif => println!("{}", serde_json::to_string_pretty(&sarif(&findings))?),
    }
    Ok(if findings.iter().any(|f| f.severity >= args.fail_on) {
        1
    } else {
        0
    })
}

fn print_table(findings: &[Finding], scanned: usize) {
    let rows: Vec<[String; 5]> = findings
        .iter()
        .map(|f| {
            let severity = serde_json::to_value(f.severity)
                .unwrap()
                .as_str()
                .unwrap_or_default()
                .to_uppercase();
            [
                severity,
                f.rule_id.to_string(),
                f.group_id.clone(),
                f.group_name.clone(),
                f.message.clone(),
            ]
        })
        .collect();
    let header = ["SEVERITY", "RULE", "GROUP", "NAME", "FINDING"];
    print!("{}", super::table(header, &rows));
    println!("\n{} finding(s) in {scanned} security group(s).", findings.len());
}

/// SARIF 2.1.0 for code-scanning tools: one rule per check, one result per finding, located
/// by the group's ARN-like name (groups have no source file).
pub fn sarif(findings: &[Finding]) -> serde_json::Value {
    let rules: Vec<_> = RULES
        .iter()
        .map(|(id, severity, description)| {
            json!({
                "id": id,
                "shortDescription": {"text": description},
                "defaultConfiguration": {"level": severity.sarif_level()},
            })
        })
        .collect();
    let results: Vec<_> = findings
        .iter()
        .map(|f| {
            json!({
                "ruleId": f.rule_id,
                "level": f.severity.sarif_level(),
                "message": {"text": format!("{} ({}): {}", f.group_id, f.group_name, f.message)},
                "locations": [{"logicalLocations": [{
                    "name": f.group_id,
                    "fullyQualifiedName": format!("{}/{}/{}", f.region, f.vpc_id, f.group_id),
                    "kind": "resource",
                }]}],
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "sg-provisioner audit",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    })
}
