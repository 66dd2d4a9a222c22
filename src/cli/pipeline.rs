//! `plan`, `apply` and `destroy` for pipelines and for trying the tool without a cluster. They
//! run the controller's own stage driver on sets read from YAML, with the controller's limit
//! flags, `managementPolicy` and `deletionPolicy`. Only the inputs differ: the owner tag is
//! `{namespace}/{name}` from the file, and another set's group id comes from the parameter it
//! publishes (there is no cluster to read its status from).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use serde::Serialize;

use super::{LimitArgs, Output};
use crate::api::SecurityGroupSet;
use crate::aws::{Aws, AwsApi};
use crate::diff::{Plan, Quota};
use crate::metrics::Metrics;
use crate::model::{self, SetIdentity};
use crate::reconcile::{Error, Known, Mode, References, SetRefKey, Teardown, driver};

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
    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(clap::Args, Debug)]
pub struct PlanArgs {
    #[command(flatten)]
    pub files: FileArgs,
    /// Show what `destroy` would do instead (as the controller does when the sets are deleted).
    #[arg(long)]
    pub destroy: bool,
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

/// Without a cluster, another set's group id is the value of the parameter it publishes.
struct ParameterReferences<'a, A> {
    aws: &'a A,
}

impl<A: AwsApi> References for ParameterReferences<'_, A> {
    async fn group_ids(&self, refs: &BTreeSet<SetRefKey>) -> Result<BTreeMap<SetRefKey, String>, Error> {
        let mut ids = BTreeMap::new();
        for key in refs {
            if let Some(id) = self.aws.parameter(&model::parameter_name(&key.1, &key.2)).await? {
                ids.insert(key.clone(), id);
            }
        }
        Ok(ids)
    }
}

/// The set's clients: its own region, else `--region`, else the SDK's; its role, if it names one.
async fn aws_for(identity: &SetIdentity, args: &FileArgs, metrics: &Metrics) -> Aws {
    let config = super::set_aws_config(identity, args.region.as_deref(), &args.cluster_name, metrics).await;
    Aws::new(&config, metrics.clone())
}

/// One set through the driver; `Mode::PlanOnly` writes nothing.
async fn converge(
    set: &SecurityGroupSet,
    args: &FileArgs,
    mode: Mode,
    metrics: &Metrics,
) -> anyhow::Result<SetReport> {
    let identity = SetIdentity::of(set);
    let validated = model::validate(set, &args.limits.limits()).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
        anyhow::anyhow!("{}: invalid spec:\n{}", identity.key(), lines.join("\n"))
    })?;
    let aws = aws_for(&identity, args, metrics).await;
    // The person running the command holds the AWS credentials: no cluster admin to ask.
    let known = Known {
        vpc_id: None,
        spec_changed: true,
        adoption: Default::default(),
        quota: Quota::from(&args.limits.limits()),
        held: Default::default(),
        view: None,
    };
    let refs = ParameterReferences { aws: &aws };
    let done = driver::converge(&aws, &refs, &validated, &args.cluster_name, &known, mode)
        .await
        .with_context(|| identity.key())?;
    let mut report = SetReport::new(&identity, &done.plan, done.executed);
    report.vpc_id = Some(done.vpc_id);
    let mut notes = Vec::new();
    if identity.observe_only() {
        notes.push("managementPolicy ObserveOnly: never applied".to_string());
    }
    notes.extend(config_map_note(set));
    report.note = (!notes.is_empty()).then(|| notes.join("; "));
    Ok(report)
}

/// A set's ConfigMap output is a Kubernetes object, not an AWS one: there is no cluster here to
/// read, write or delete it.
fn config_map_note(set: &SecurityGroupSet) -> Option<String> {
    let name = &set.spec.outputs.as_ref()?.config_map.as_ref()?.name;
    Some(format!(
        "spec.outputs.configMap {name}: kept by the controller in the cluster, not by this command"
    ))
}

async fn teardown(
    set: &SecurityGroupSet,
    args: &FileArgs,
    mode: Mode,
    metrics: &Metrics,
) -> anyhow::Result<SetReport> {
    let identity = SetIdentity::of(set);
    let aws = aws_for(&identity, args, metrics).await;
    let outcome = driver::teardown(&aws, &identity, &args.cluster_name, mode)
        .await
        .with_context(|| identity.key())?;
    let (mut report, mut notes) = match outcome {
        Teardown::Planned { plan, executed } => (SetReport::new(&identity, &plan, executed), vec![]),
        other => (
            SetReport::new(&identity, &Plan::default(), false),
            vec![match other {
                Teardown::Retained => "deletionPolicy Retain: AWS left as it is".to_string(),
                _ => "managementPolicy ObserveOnly: AWS left as it is".to_string(),
            }],
        ),
    };
    notes.extend(config_map_note(set));
    report.note = (!notes.is_empty()).then(|| notes.join("; "));
    Ok(report)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SetReport {
    namespace: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    vpc_id: Option<String>,
    changes: Vec<ChangeReport>,
    waiting_for: Vec<String>,
    /// Group deletions held back, and what still uses each group.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    blocked: Vec<String>,
    /// Why the set's changes are not (or never) applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    #[serde(skip)]
    executed: bool,
}

#[derive(Serialize)]
struct ChangeReport {
    kind: &'static str,
    /// The AWS API call that makes the change.
    operation: &'static str,
    tier: String,
    change: String,
}

impl SetReport {
    fn new(identity: &SetIdentity, plan: &Plan, executed: bool) -> Self {
        SetReport {
            namespace: identity.namespace.clone(),
            name: identity.name.clone(),
            vpc_id: None,
            changes: plan
                .actions
                .iter()
                .map(|a| ChangeReport {
                    kind: a.kind(),
                    operation: a.operation(),
                    tier: a.tier().to_string(),
                    change: a.to_string(),
                })
                .collect(),
            waiting_for: plan
                .unresolved
                .iter()
                .map(|u| format!("{}/{} tier {}", u.namespace, u.name, u.tier))
                .collect(),
            blocked: plan.blocked.clone(),
            note: None,
            executed,
        }
    }

    fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

fn print_reports(reports: &[SetReport], output: Output) {
    let total: usize = reports.iter().map(|r| r.changes.len()).sum();
    if output == Output::Json {
        let doc = serde_json::json!({ "changes": total, "sets": reports });
        println!("{}", serde_json::to_string_pretty(&doc).expect("serializable"));
        return;
    }
    for r in reports {
        let vpc = r
            .vpc_id
            .as_deref()
            .map(|v| format!(" (VPC {v})"))
            .unwrap_or_default();
        println!("SecurityGroupSet {}{vpc}:", r.key());
        if r.changes.is_empty() {
            println!("  no changes");
        }
        for c in &r.changes {
            println!("  {}", c.change);
        }
        for w in &r.waiting_for {
            println!("  ! waiting for {w}: its rules are left out until it publishes its group id");
        }
        for b in &r.blocked {
            println!("  ! held back: {b}");
        }
        if let Some(note) = &r.note {
            println!("  ! {note}");
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

/// `plan`: read calls only. Exit 0 no changes, 2 changes, 1 error.
pub async fn plan(args: PlanArgs) -> anyhow::Result<i32> {
    let metrics = Metrics::default();
    let mut sets = read_sets(&args.files.file)?;
    let mut reports = Vec::new();
    if args.destroy {
        sets.reverse();
    }
    for set in &sets {
        reports.push(if args.destroy {
            teardown(set, &args.files, Mode::PlanOnly, &metrics).await?
        } else {
            converge(set, &args.files, Mode::PlanOnly, &metrics).await?
        });
    }
    print_reports(&reports, args.files.output);
    let changes = reports.iter().any(|r| !r.changes.is_empty());
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

/// `apply`: a one-shot reconcile of the file's sets, in file order. Each set is planned again
/// right before it is applied, so a `setRef` to a set applied just before resolves.
pub async fn apply(args: ApplyArgs) -> anyhow::Result<i32> {
    let metrics = Metrics::default();
    let sets = read_sets(&args.files.file)?;
    let mut planned = Vec::new();
    for set in &sets {
        planned.push(converge(set, &args.files, Mode::PlanOnly, &metrics).await?);
    }
    print_reports(&planned, args.files.output);
    let total: usize = planned.iter().map(|p| p.changes.len()).sum();
    if total == 0 {
        return Ok(0);
    }
    if !confirm(&format!("Apply {total} change(s) to AWS?"), args.yes)? {
        eprintln!("Nothing applied.");
        return Ok(1);
    }
    for set in &sets {
        let done = converge(set, &args.files, Mode::Execute, &metrics).await?;
        match done.executed {
            true => eprintln!("{}: {} change(s) applied", done.key(), done.changes.len()),
            false => eprintln!("{}: ObserveOnly, nothing applied", done.key()),
        }
    }
    Ok(0)
}

/// `destroy`: deletes what `apply` made for the file's sets, in reverse file order, in the
/// controller's deletion order, honouring `deletionPolicy: Retain` and `ObserveOnly`.
pub async fn destroy(args: ApplyArgs) -> anyhow::Result<i32> {
    let metrics = Metrics::default();
    let mut sets = read_sets(&args.files.file)?;
    sets.reverse();
    let mut planned = Vec::new();
    for set in &sets {
        planned.push(teardown(set, &args.files, Mode::PlanOnly, &metrics).await?);
    }
    print_reports(&planned, args.files.output);
    let total: usize = planned.iter().map(|t| t.changes.len()).sum();
    if total == 0 {
        println!("Nothing to destroy.");
        return Ok(0);
    }
    if !confirm(&format!("Destroy: {total} change(s) to AWS?"), args.yes)? {
        eprintln!("Nothing destroyed.");
        return Ok(1);
    }
    for set in &sets {
        let done = teardown(set, &args.files, Mode::Execute, &metrics).await?;
        if done.executed {
            eprintln!("{}: destroyed", done.key());
        }
    }
    Ok(0)
}
