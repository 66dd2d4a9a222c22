//! What `explain` and `diagram` read: one set of a file, as the file wants it or, with
//! `--live`, as AWS holds it (the set's own groups, read by their owner and cluster tags as
//! `plan` observes them). Both become the same [`FlowView`].

use std::path::PathBuf;

use super::LimitArgs;
use super::pipeline::read_sets;
use crate::aws::{Aws, AwsApi};
use crate::flows::FlowView;
use crate::metrics::Metrics;
use crate::model::{self, SetIdentity};

#[derive(clap::Args, Debug)]
pub struct ViewArgs {
    /// The set to read when FILE holds several SecurityGroupSets (its metadata.name).
    #[arg(long = "set", value_name = "NAME")]
    pub set: Option<String>,
    /// Read the set's groups and rules from AWS (read calls only) instead of the file's
    /// desired state: what is enforced now, drift included.
    #[arg(long)]
    pub live: bool,
    /// With --live: whose groups to read, by the sgprovisioner.io/cluster tag (the
    /// controller's --cluster-name).
    #[arg(long, env = "SG_CLUSTER_NAME", default_value = "default")]
    pub cluster_name: String,
    /// With --live: the region of a set that names none; default: the AWS SDK's.
    #[arg(long)]
    pub region: Option<String>,
    /// The set is validated first, with the controller's quotas.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// The set's rules and where they come from.
pub struct Loaded {
    pub view: FlowView,
    pub live: bool,
    /// What to know about the source: missing or duplicate groups in AWS.
    pub notes: Vec<String>,
}

impl Loaded {
    /// `the file's desired state` or `AWS (live)`.
    pub fn source(&self) -> &'static str {
        if self.live {
            "AWS (live)"
        } else {
            "the file's desired state"
        }
    }
}

/// Why nothing was loaded: bad input (exit 2) or an AWS failure (exit 1).
pub enum Failure {
    Input(String),
    Aws(anyhow::Error),
}

impl Failure {
    /// Input problems are printed and exit 2, as `validate` does for unreadable input.
    pub fn exit(self) -> anyhow::Result<i32> {
        match self {
            Failure::Input(message) => {
                eprintln!("error: {message}");
                Ok(2)
            }
            Failure::Aws(e) => Err(e),
        }
    }
}

/// The one set of `file` (or the one `--set` names), validated, as a view.
pub async fn load(file: &PathBuf, args: &ViewArgs) -> Result<Loaded, Failure> {
    let sets = read_sets(file).map_err(|e| Failure::Input(format!("{e:#}")))?;
    let names: Vec<String> = sets.iter().map(|s| SetIdentity::of(s).name).collect();
    let chosen = match &args.set {
        Some(name) => sets.iter().find(|s| SetIdentity::of(s).name == *name),
        None if sets.len() == 1 => sets.first(),
        None => None,
    };
    let Some(set) = chosen else {
        return Err(Failure::Input(match (&args.set, names.len()) {
            (_, 0) => format!("{} holds no SecurityGroupSet", file.display()),
            (Some(name), _) => format!(
                "{} holds no set {name} (sets: {})",
                file.display(),
                names.join(", ")
            ),
            (None, n) => format!(
                "{} holds {n} sets ({}): choose one with --set NAME",
                file.display(),
                names.join(", ")
            ),
        }));
    };
    let identity = SetIdentity::of(set);
    let valid = model::validate(set, &args.limits.limits()).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
        Failure::Input(format!("{}: invalid spec:\n{}", identity.key(), lines.join("\n")))
    })?;
    let desired = model::plan(&valid, &args.cluster_name);
    if !args.live {
        return Ok(Loaded {
            view: FlowView::from_desired(&desired, Some(&set.spec)),
            live: false,
            notes: Vec::new(),
        });
    }
    let metrics = Metrics::default();
    let config = super::set_aws_config(&identity, args.region.as_deref(), &args.cluster_name, &metrics).await;
    let aws = Aws::new(&config, metrics);
    let groups = aws
        .owned_groups(&desired.ownership)
        .await
        .map_err(|e| Failure::Aws(anyhow::Error::new(e).context(identity.key())))?;
    let (view, notes) = FlowView::from_observed(&desired, &groups);
    Ok(Loaded {
        view,
        live: true,
        notes,
    })
}
