use clap::Parser;
use sg_provisioner::cli::{Cli, run};

fn main() -> anyhow::Result<()> {
    let code = run(Cli::parse())?;
    std::process::exit(code);
}
