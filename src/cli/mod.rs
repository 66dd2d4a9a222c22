//! The binary's subcommands. The controller and the pipeline commands share one binary.

use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::aws::fence::Fence;
use crate::limits::DEFAULT_RULES_PER_GROUP;
use crate::metrics::Metrics;
use crate::model::Limits;
use crate::reconcile::{self, Context, Settings};

pub mod audit;
pub mod diagram;
pub mod explain;
pub mod leader;
pub mod pipeline;
mod serve;
pub mod validate;
pub mod view;

#[derive(Parser, Debug)]
#[command(
    name = "sg-provisioner",
    version,
    about = "AWS security groups from Kubernetes"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the SecurityGroupSet CustomResourceDefinition as YAML.
    Crd,
    /// Run the controller: converge every SecurityGroupSet to AWS.
    Run(Box<RunArgs>),
    /// Show the changes the controller would make for the sets in a file (read calls only).
    /// Exit code: 0 no changes, 2 changes, 1 error.
    Plan(pipeline::PlanArgs),
    /// Make AWS match the sets in a file, once, without Kubernetes.
    Apply(pipeline::ApplyArgs),
    /// Delete what `apply` made for the sets in a file.
    Destroy(pipeline::ApplyArgs),
    /// Report risky rules, unused groups and stale references of every group in a region.
    Audit(audit::AuditArgs),
    /// Check manifests offline against the CRD's schema and rules (no cluster, no AWS).
    /// Exit code: 0 valid, 1 problems, 2 unreadable input.
    Validate(validate::ValidateArgs),
    /// Is a flow allowed (FROM TO PORT[/PROTO]), by which rules on each side, and if not, the
    /// nearest rules and why; or (--exposed) every ingress rule the internet reaches. Reads the
    /// file's desired state, or AWS with --live.
    /// Exit code: 0 allowed, 3 denied, 2 bad input, 1 AWS failure.
    Explain(explain::ExplainArgs),
    /// Draw the set's allowed flows as Mermaid, Graphviz DOT or SVG (internet-exposed edges in
    /// red). Reads the file's desired state, or AWS with --live.
    Diagram(diagram::DiagramArgs),
}

/// How a pipeline command prints its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

/// A plain-text table: columns padded to their widest cell, two spaces apart.
pub(crate) fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.to_vec());
    for r in rows {
        out += &line(r.iter().map(String::as_str).collect());
    }
    out
}

/// The guardrails every command that validates a set takes, with the controller's defaults.
#[derive(clap::Args, Debug, Clone)]
pub struct LimitArgs {
    /// Inbound rules per group (AWS default 60; accounts can raise it).
    #[arg(long, env = "SG_MAX_INGRESS_RULES", default_value_t = DEFAULT_RULES_PER_GROUP)]
    pub max_ingress_rules: usize,
    /// Outbound rules per group (AWS default 60).
    #[arg(long, env = "SG_MAX_EGRESS_RULES", default_value_t = DEFAULT_RULES_PER_GROUP)]
    pub max_egress_rules: usize,
}

impl LimitArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            max_ingress_rules: self.max_ingress_rules,
            max_egress_rules: self.max_egress_rules,
            ..Limits::default()
        }
    }
}

/// The AWS SDK's configuration (credentials, endpoint, region chain), with a region override.
pub async fn aws_config(region: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(4));
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r.to_string()));
    }
    loader.load().await
}

/// A set's clients' configuration for the one-shot commands: its region (else `default_region`,
/// else the SDK's) and, when it names one, its role, assumed with the caller's own credentials
/// (no allow-list here: IAM decides what the caller may assume).
pub async fn set_aws_config(
    identity: &crate::model::SetIdentity,
    default_region: Option<&str>,
    cluster: &str,
    metrics: &Metrics,
) -> aws_config::SdkConfig {
    let config = aws_config(identity.region.as_deref().or(default_region)).await;
    match &identity.role {
        None => config,
        Some(role) => {
            let session = crate::aws::assume::session_name(cluster);
            crate::aws::assume::role_config(&config, role, &session, Fence::unfenced(), metrics.clone())
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Written to the sgprovisioner.io/cluster tag; several clusters may share an AWS account.
    #[arg(long, env = "SG_CLUSTER_NAME", default_value = "default",
          value_parser = crate::model::validate::cluster_name)]
    pub cluster_name: String,
    /// How often every set is compared with AWS to find drift (e.g. 300s, 5m, 1h).
    #[arg(long, env = "SG_RESYNC_PERIOD", default_value = "5m", value_parser = humantime::parse_duration)]
    pub resync_period: Duration,
    /// Namespaces to watch (repeat, or comma-separated); default: all.
    #[arg(long = "namespace", env = "SG_WATCH_NAMESPACES", value_delimiter = ',')]
    pub namespaces: Vec<String>,
    /// Namespaces whose sets may adopt existing groups with the sgprovisioner.io/adopt-{tier}
    /// annotation (repeat, or comma-separated); `*`: every namespace. In a shared cluster, list
    /// only the platform team's: adoption takes a group over.
    #[arg(
        long,
        env = "SG_ADOPTION_NAMESPACES",
        value_delimiter = ',',
        default_value = "*"
    )]
    pub adoption_namespaces: Vec<String>,
    /// The region of sets that name none; default: the AWS SDK's (AWS_REGION, profile, IMDS).
    #[arg(long, env = "SG_DEFAULT_REGION")]
    pub region: Option<String>,
    /// IAM roles that sets may name in spec.aws.roleArn, for the controller to assume with STS
    /// (repeat, or comma-separated). ARN patterns matched as IAM's ArnLike: part by part, `*`
    /// any run of characters and `?` one, within a :-separated part; e.g.
    /// arn:aws:iam::123456789012:role/sg-*. Default: none, and a set naming a role is Stalled
    /// (RoleNotAllowed) without any AWS call.
    #[arg(long = "allowed-role-arns", env = "SG_ALLOWED_ROLE_ARNS", value_delimiter = ',',
          value_parser = crate::model::AllowedRoles::pattern, action = clap::ArgAction::Append)]
    pub allowed_role_arns: Vec<String>,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, env = "SG_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: String,
    #[arg(long, env = "SG_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// At most this many sets reconcile at once (0: no limit). AWS calls are rate-limited
    /// per account, so more in parallel only queues them; fewer let the first sets finish early.
    #[arg(long, env = "SG_CONCURRENCY", default_value_t = 8)]
    pub concurrency: u16,
    /// Client-side token buckets, shaped like EC2's at 90 % of its refill rates (one per action,
    /// sized by category: non_mutating 18/s burst 100, mutating 4.5/50, resource_intensive 4.5/50,
    /// tags 9/100; one for SSM, 36/40). Repeat
    /// KEY=PER_SECOND/BURST to lower a category or action (the account's other users share
    /// AWS's buckets), e.g. mutating=2.5/25; `none` switches them off.
    #[arg(long = "aws-rate-limit", env = "SG_AWS_RATE_LIMITS", value_delimiter = ',',
          value_parser = parse_rate_limit, action = clap::ArgAction::Append)]
    pub aws_rate_limit: Vec<String>,
    /// This process's name in Events (the pod name in a cluster).
    #[arg(long, env = "POD_NAME", default_value = "sg-provisioner")]
    pub instance: String,
    /// Reconcile only while holding a coordination.k8s.io Lease (run several replicas for HA).
    #[arg(long, env = "SG_LEADER_ELECT", num_args = 0..=1, default_value_t = false,
          default_missing_value = "true", action = clap::ArgAction::Set)]
    pub leader_elect: bool,
    /// Namespace of the Lease; default: the client's (in a pod: its own namespace).
    #[arg(long, env = "POD_NAMESPACE")]
    pub leader_election_namespace: Option<String>,
    /// Name of the Lease.
    #[arg(long, env = "SG_LEADER_ELECTION_ID", default_value = "sg-provisioner")]
    pub leader_election_id: String,
    /// How long a standby waits, after the Lease record last changed, before taking it over.
    /// Must exceed the renew deadline (see README, "High availability").
    #[arg(long, env = "SG_LEADER_ELECTION_LEASE_DURATION", default_value = "15s", value_parser = humantime::parse_duration)]
    pub leader_election_lease_duration: Duration,
    /// How long after a renewal's start the leader may still call AWS without a newer renewal;
    /// past it the leader sends nothing more and exits. Must exceed 1.2 × the retry period.
    #[arg(long, env = "SG_LEADER_ELECTION_RENEW_DEADLINE", default_value = "10s", value_parser = humantime::parse_duration)]
    pub leader_election_renew_deadline: Duration,
    /// How often the leader renews the Lease and a standby looks at it.
    #[arg(long, env = "SG_LEADER_ELECTION_RETRY_PERIOD", default_value = "2s", value_parser = humantime::parse_duration)]
    pub leader_election_retry_period: Duration,
    /// Longest wait for one answer of the Kubernetes API server (watches excepted: they have
    /// their own idle timeout); a hung connection is then retried instead of blocking a set.
    #[arg(long, env = "SG_KUBE_REQUEST_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub kube_request_timeout: Duration,
}

/// Runs the parsed command; the process exit code is the returned value.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Crd => {
            print!("{}", crate::api::crd_yaml());
            Ok(0)
        }
        Command::Run(args) => run_controller(*args).await.map(|()| 0),
        Command::Plan(args) => pipeline::plan(args).await,
        Command::Apply(args) => pipeline::apply(args).await,
        Command::Destroy(args) => pipeline::destroy(args).await,
        Command::Audit(args) => audit::run(args).await,
        Command::Validate(args) => validate::run(args),
        Command::Explain(args) => explain::run(args).await,
        Command::Diagram(args) => diagram::run(args).await,
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn")
    });
    // Colour only on a terminal: log files and collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

/// One `--aws-rate-limit` value, checked on its own.
fn parse_rate_limit(setting: &str) -> Result<String, String> {
    crate::aws::limiter::RateLimits::default().with(setting)?;
    Ok(setting.to_string())
}

fn rate_limits(settings: &[String]) -> anyhow::Result<crate::aws::limiter::RateLimits> {
    settings
        .iter()
        .try_fold(crate::aws::limiter::RateLimits::default(), |l, s| l.with(s))
        .map_err(anyhow::Error::msg)
}

/// The request client (bounded answers) and the watch client (no read timeout: watches idle).
async fn kube_clients(request_timeout: Duration) -> anyhow::Result<(kube::Client, kube::Client)> {
    let config = kube::Config::infer().await?;
    let watch = kube::Client::try_from(config.clone())?;
    let mut bounded = config;
    bounded.read_timeout = Some(request_timeout);
    bounded.reset_reader_on_write = true;
    Ok((kube::Client::try_from(bounded)?, watch))
}

fn election(args: &RunArgs, client: &kube::Client) -> leader::Election {
    let namespace = args
        .leader_election_namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    let timing = leader::Timing {
        lease_duration: args.leader_election_lease_duration,
        renew_deadline: args.leader_election_renew_deadline,
        retry_period: args.leader_election_retry_period,
    };
    leader::Election::new(namespace, args.leader_election_id.clone(), &args.instance, timing)
}

async fn run_controller(args: RunArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let shutdown = leader::shutdown_signal()?;
    let metrics = Metrics::default();
    let (client, watch_client) = kube_clients(args.kube_request_timeout).await?;
    let election = args.leader_elect.then(|| election(&args, &client));
    if let Some(e) = &election {
        e.timing.check().map_err(anyhow::Error::msg)?;
    }
    // /healthz and /readyz answer while a standby waits for the Lease.
    let listener = tokio::net::TcpListener::bind(&args.metrics_addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "serving /metrics, /healthz, /readyz");
    let server = tokio::spawn(serve::serve(listener, metrics.clone()));

    // With an election, AWS calls go out only within a renewal's deadline (src/aws/fence.rs).
    let fence = if election.is_some() {
        Fence::closed()
    } else {
        Fence::unfenced()
    };
    let leadership = match election {
        None => None,
        Some(election) => {
            let elector = leader::Elector::new(client.clone(), election, fence.clone());
            match leader::acquire(elector, shutdown.clone()).await? {
                Some(l) => Some(l),
                None => {
                    server.abort();
                    tracing::info!("stopped");
                    return Ok(());
                }
            }
        }
    };

    // Only the leader gets this far: no AWS client exists before.
    let aws_config = aws_config(args.region.as_deref()).await;
    let settings = Settings {
        cluster_name: args.cluster_name,
        resync: args.resync_period,
        limits: args.limits.limits(),
        namespaces: args.namespaces,
        adoption_namespaces: args.adoption_namespaces,
        instance: args.instance,
        concurrency: args.concurrency,
        rate_limits: rate_limits(&args.aws_rate_limit)?,
        allowed_roles: crate::model::AllowedRoles::new(&args.allowed_role_arns)
            .map_err(anyhow::Error::msg)?,
    };
    tracing::info!(cluster = %settings.cluster_name, resync = ?settings.resync, namespaces = ?settings.namespaces,
        allowed_roles = ?settings.allowed_roles.patterns(), "starting");
    let ctx = Context::new(client, settings, metrics, aws_config, fence).with_watch_client(watch_client);
    let result = lead(Arc::new(ctx), leadership, shutdown).await;
    server.abort();
    tracing::info!("stopped");
    result
}

/// Reconciles until shutdown, or until leadership is lost: then the reconciles in flight are
/// dropped (cancelled) and the process exits with an error, to be restarted as a standby.
async fn lead(
    ctx: Arc<Context>,
    leadership: Option<leader::Leadership>,
    shutdown: leader::Shutdown,
) -> anyhow::Result<()> {
    let Some(mut leadership) = leadership else {
        reconcile::run(ctx, shutdown).await;
        return Ok(());
    };
    let lost = tokio::select! {
        () = reconcile::run(ctx, shutdown) => None,
        why = leadership.lost() => Some(why),
    };
    match lost {
        None => {
            leadership.release().await;
            Ok(())
        }
        Some(why) => {
            tracing::error!(reason = %why, "lost leadership: stopping");
            Err(anyhow::anyhow!("lost leadership: {why}"))
        }
    }
}
