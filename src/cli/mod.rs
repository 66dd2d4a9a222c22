//! The binary's subcommands. The controller and the pipeline commands share one binary.

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "sg-provisioner", version, about = "AWS security groups from Kubernetes")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the SecurityGroupSet CustomResourceDefinition as YAML.
    Crd,
}

/// Runs the parsed command; the process exit code is the returned value.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Crd => {
            print!("{}", crate::api::crd_yaml());
            Ok(0)
        }
    }
}
