//! How long `sg-provisioner validate` takes over `examples/`: in process (read + parse + schema
//! check + rules, 200 runs), and as a command (process start included, 20 runs). Prints
//! min/median/max; asserts nothing (the target is under 50 ms).
//!
//! `cargo bench --bench validate` (release build; `--profile dev` for a quick, slower number).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sg_provisioner::cli::validate::{check_text, exit_code};
use sg_provisioner::model::Limits;

fn examples(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
}

fn stats(mut times: Vec<Duration>) -> String {
    times.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    format!(
        "min {:.0} µs / median {:.0} µs / max {:.0} µs",
        us(times[0]),
        us(times[times.len() / 2]),
        us(times[times.len() - 1])
    )
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let limits = Limits::default();
    let run = || {
        let mut documents = 0;
        for path in examples(&dir) {
            let text = std::fs::read_to_string(&path).unwrap();
            let checked = check_text(&path.display().to_string(), &text, &limits);
            assert_eq!(
                exit_code(&checked.findings),
                0,
                "{}: {:?}",
                path.display(),
                checked.findings
            );
            documents += checked.documents;
        }
        black_box(documents)
    };
    let documents = run();
    for _ in 0..20 {
        run();
    }
    let times: Vec<Duration> = (0..200)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed()
        })
        .collect();
    println!(
        "validate examples/ ({} files, {documents} documents), in process, 200 runs: {}",
        examples(&dir).len(),
        stats(times)
    );

    let bin = env!("CARGO_BIN_EXE_sg-provisioner");
    let times: Vec<Duration> = (0..20)
        .map(|_| {
            let start = Instant::now();
            let out = Command::new(bin)
                .args(["validate", "-f"])
                .arg(&dir)
                .output()
                .expect("run sg-provisioner validate");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
            start.elapsed()
        })
        .collect();
    println!(
        "sg-provisioner validate -f examples/, as a command, 20 runs: {}",
        stats(times)
    );
}
