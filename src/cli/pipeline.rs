//! `plan`, `apply` and `destroy` for pipelines and for trying the tool without a cluster.
//! They run the controller's own stages (validate, plan, observe, diff, execute) on sets read
//! from YAML; the owner tag is `{namespace}/{name}` from the file, as in a cluster.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use kube::ResourceExt;
use serde::Serialize;

use crate::api::SecurityGroupSet;
use crate::aws::Aws;
use crate::diff::{self, Inputs, Plan};
use crate::metrics::Metrics;
use crate::model::{self, DesiredSet, Limits};
use crate::reconcile::{self, execute};

#[derive(clap::Args, Debug)]
pub struct FileArgs {
    /// YAML file with SecurityGroupSets (multi-document; `-` reads stdin).
    #[arg(short = 'f', long = "filename")]
    pub file: PathBuf,
    /// The sgprovisioner.io/cluster tag, as the controller's --cluster-name.
    #[arg(long, env = "SG_CLUSTER_NAME", default_value = "default")]
    pub cluster_name: String,
    /// Region of sets that name none; default: the AWS SDK's.
    #[arg(long)]
    pub region: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub files: FileArgs,
    /// Apply without asking (required unless stdin is a terminal).
    #[arg(long)]
    pub yes: bool,
}

/// Reads every SecurityGroupSet of a file (other kinds are skipped); namespace defaults to `default`.
pub fn read_sets(file: &PathBuf) -> anyhow::Result<Vec<SecurityGroupSet>> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("read {}", file.display()))?
    };
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(&text).with_context(|| format!("parse {}", file.display()))?;
    let mut sets = Vec::new();
    for (i, doc) in docs.into_iter().enumerate() {
        if doc.is_null() || doc["kind"] != "SecurityGroupSet" {
            continue;
        }
        let mut set: SecurityGroupSet =
            serde_json::from_value(doc).with_context(|| format!("{}:{}", file.display(), i + 1))?;
        set.metadata.namespace.get_or_insert_with(|| "default".into());
        sets.push(set);
    }
    Ok(sets)
}

async fn base_config(region: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(4));
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r.to_string()));
    }
    loader.load().await
}

/// One set, planned against AWS exactly as the controller would.
struct Planned {
    set: SecurityGroupSet,
    aws: Aws,
    desired: DesiredSet,
    observed: diff::Observed,
    plan: Plan,
    vpc_id: String,
}

async fn plan_set(set: SecurityGroupSet, args: &FileArgs, metrics: &Metrics) -> anyhow::Result<Planned> {
    let key = format!("{}/{}", set.namespace().unwrap_or_default(), set.name_any());
    let errors = model::validate(&set.name_any(), &set.spec, &Limits::default());
    if !errors.is_empty() {
        let lines: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
        bail!("{key}: invalid spec:\n{}", lines.join("\n"));
    }
    let region = set.spec.region.as_deref().or(args.region.as_deref());
    let aws = Aws::new(&base_config(region).await, metrics.clone());
    let vpc_id = reconcile::resolve_vpc(&set, &aws)
        .await
        .with_context(|| key.clone())?;
    let desired = model::plan(
        &set.name_any(),
        &set.namespace().unwrap_or_default(),
        &set.spec,
        &args.cluster_name,
    );
    // Without a cluster, another set's group id comes from the parameter it publishes.
    let mut set_refs = BTreeMap::new();
    for (namespace, name, tier) in desired.set_refs() {
        if let Some(id) = aws.parameter(&model::parameter_name(&name, &tier)).await? {
            set_refs.insert((namespace, name, tier), id);
        }
    }
    let observed = reconcile::observe(&aws, &desired)
        .await
        .with_context(|| key.clone())?;
    let plan = diff::diff(
        &desired,
        &observed,
        &Inputs {
            vpc_id: vpc_id.clone(),
            set_refs,
        },
    );
    Ok(Planned {
        set,
        aws,
        desired,
        observed,
        plan,
        vpc_id,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SetReport {
    namespace: String,
    name: String,
    vpc_id: String,
    changes: Vec<ChangeReport>,
    waiting_for: Vec<String>,
}

#[derive(Serialize)]
struct ChangeReport {
    kind: &'static str,
    tier: String,
    change: String,
}

fn report(p: &Planned) -> SetReport {
    SetReport {
        namespace: p.set.namespace().unwrap_or_default(),
        name: p.set.name_any(),
        vpc_id: p.vpc_id.clone(),
        changes: p
            .plan
            .actions
            .iter()
            .map(|a| ChangeReport {
                kind: a.kind(),
                tier: a.tier().to_string(),
                change: a.to_string(),
            })
            .collect(),
        waiting_for: p
            .plan
            .unresolved
            .iter()
            .map(|u| format!("{}/{} tier {}", u.namespace, u.name, u.tier))
            .collect(),
    }
}

fn print_plan(planned: &[Planned], output: Output) {
    let reports: Vec<SetReport> = planned.iter().map(report).collect();
    let total: usize = reports.iter().map(|r| r.changes.len()).sum();
    match output {
        Output::Json => {
            let doc = serde_json::json!({ "changes": total, "sets": reports });
            println!("{}", serde_json::to_string_pretty(&doc).expect("serializable"));
        }
        Output::Text => {
            for r in &reports {
                println!("SecurityGroupSet {}/{} (VPC {}):", r.namespace, r.name, r.vpc_id);
                if r.changes.is_empty() {
                    println!("  no changes");
                }
                for c in &r.changes {
                    println!("  {}", c.change);
                }
                for w in &r.waiting_for {
                    println!("  ! waiting for {w}: its rules are left out until it publishes its group id");
                }
            }
            let count = |prefix: char| {
                reports
                    .iter()
                    .flat_map(|r| &r.changes)
                    .filter(|c| c.change.starts_with(prefix))
                    .count()
            };
            if total == 0 {
                println!("\nNo changes. AWS matches the spec.");
            } else {
                println!(
                    "\nPlan: {} to add, {} to change, {} to remove.",
                    count('+'),
                    count('~'),
                    count('-')
                );
            }
        }
    }
}

/// `plan`: read calls only. Exit 0 no changes, 2 changes, 1 error.
pub async fn plan(args: FileArgs) -> anyhow::Result<i32> {
    let metrics = Metrics::default();
    let mut planned = Vec::new();
    for set in read_sets(&args.file)? {
        planned.push(plan_set(set, &args, &metrics).await?);
    }
    print_plan(&planned, args.output);
    let changes = planned.iter().any(|p| !p.plan.actions.is_empty());
    Ok(if changes { 2 } else { 0 })
}

fn confirm(question: &str, yes: bool) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        bail!("refusing to change AWS without --yes (stdin is not a terminal to confirm on)");
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

/// `apply`: one-shot reconcile of the file's sets, in file order.
pub async fn apply(args: ApplyArgs) -> anyhow::Result<i32> {
    let metrics = Metrics::default();
    let mut planned = Vec::new();
    for set in read_sets(&args.files.file)? {
        planned.push(plan_set(set, &args.files, &metrics).await?);
    }
    print_plan(&planned, args.files.output);
    let total: usize = planned.iter().map(|p| p.plan.actions.len()).sum();
    if total == 0 {
        return Ok(0);
    }
    if !confirm(&format!("Apply {total} change(s) to AWS?"), args.yes)? {
        eprintln!("Nothing applied.");
        return Ok(1);
    }
    for p in &planned {
        // A set whose setRef points at a set applied just before is planned again first.
        let replanned;
        let p = if p.plan.unresolved.is_empty() {
            p
        } else {
            replanned = plan_set(p.set.clone(), &args.files, &metrics).await?;
            &replanned
        };
        execute::run(&p.aws, &p.desired, &p.plan, &p.observed, &p.vpc_id, true).await?;
        let key = format!("{}/{}", p.set.namespace().unwrap_or_default(), p.set.name_any());
        eprintln!("{key}: {} change(s) applied", p.plan.actions.len());
    }
    Ok(0)
}

/// `destroy`: deletes what `apply` made for the file's sets, in reverse file order, in the
/// controller's deletion order (revoke references, delete groups, then parameters).
pub async fn destroy(args: ApplyArgs) -> anyhow::Result<i32> {
    let metrics = Metrics::default();
    let mut teardowns = Vec::new();
    for set in read_sets(&args.files.file)?.into_iter().rev() {
        let region = set.spec.region.as_deref().or(args.files.region.as_deref());
        let aws = Aws::new(&base_config(region).await, metrics.clone());
        let desired = model::plan(
            &set.name_any(),
            &set.namespace().unwrap_or_default(),
            &set.spec,
            &args.files.cluster_name,
        );
        let observed = reconcile::observe(&aws, &desired).await?;
        let steps = diff::teardown(&observed);
        for s in &steps {
            println!("  {s}");
        }
        teardowns.push((set, aws, desired, steps));
    }
    let total: usize = teardowns.iter().map(|t| t.3.len()).sum();
    if total == 0 {
        println!("Nothing to destroy.");
        return Ok(0);
    }
    if !confirm(&format!("Destroy: {total} change(s) to AWS?"), args.yes)? {
        eprintln!("Nothing destroyed.");
        return Ok(1);
    }
    for (set, aws, desired, steps) in &teardowns {
        execute::teardown(aws, steps, &desired.ownership.owner).await?;
        eprintln!(
            "{}/{}: destroyed",
            set.namespace().unwrap_or_default(),
            set.name_any()
        );
    }
    Ok(0)
}
