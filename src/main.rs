use clap::Parser;
use sg_provisioner::cli::{Cli, run};

fn main() -> anyhow::Result<()> {
    one_malloc_arena();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let code = runtime.block_on(run(Cli::parse()))?;
    std::process::exit(code);
}

/// glibc gives each thread that allocates an arena of its own (up to 8 per core), and each
/// arena keeps what was freed in it: with one arena the controller's anonymous memory at 200
/// sets is a quarter smaller, at the same speed (README, "Scale"). Set before any thread starts.
/// No fastbins either: with them every allocation over 1 KiB (each reconcile's future is one)
/// first merges all the small chunks freed since, which was a tenth of the idle CPU at 1,000
/// sets (perf); small frees still go to the per-thread cache. musl (the container image) has a
/// single heap already and no fastbins.
#[cfg(target_env = "gnu")]
fn one_malloc_arena() {
    // SAFETY: mallopt only changes malloc's tuning; no other thread exists yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MXFAST, 0);
    }
}

#[cfg(not(target_env = "gnu"))]
fn one_malloc_arena() {}
