use clap::Parser;
use sg_provisioner::cli::{Cli, run};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let code = run(Cli::parse()).await?;
    std::process::exit(code);
}
