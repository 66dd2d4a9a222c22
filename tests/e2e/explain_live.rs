//! `explain --live` and `diagram --live` against the emulator: they read the set's groups as
//! AWS holds them, so drift made out of band shows, where the file's answer does not change.

use serde_json::json;

use crate::support::aws::tcp_from_world;
use crate::support::fixture::Fixture;
use crate::support::run_cli;

#[tokio::test]
async fn live_answers_follow_aws_and_offline_answers_follow_the_file() {
    let f = Fixture::new("explain-live").await;
    let cli = |args: &[&str]| run_cli(&f.key, args);
    let dir = tempfile::tempdir().unwrap();
    let set = f.set(
        "live",
        json!({"tiers": [
            {"name": "web", "ingress": [{"protocol": "tcp", "ports": 443, "from": [{"cidr": "0.0.0.0/0"}]}],
             "egress": [{"description": "to app", "protocol": "tcp", "ports": 8080, "to": [{"tier": "app"}]}]},
            {"name": "app", "ingress": [{"description": "from web", "protocol": "tcp", "ports": 8080, "from": [{"tier": "web"}]}]},
        ]}),
    );
    let path = dir.path().join("live.yaml");
    std::fs::write(&path, serde_saphyr::to_string(&set).unwrap()).unwrap();
    let file = path.to_string_lossy().into_owned();

    let (code, out, err) = cli(&["explain", &file, "web", "app", "8080", "--live"]);
    assert_eq!(code, 3, "nothing applied yet: no group, no rule\n{out}\n{err}");
    assert!(out.contains("tier web has no group in AWS"), "{out}");

    let (code, out, err) = cli(&["apply", "-f", &file, "--yes"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let web = f.groups("live").await.remove("web").unwrap().group_id.unwrap();
    let (code, out, err) = cli(&["explain", &file, "web", "app", "8080", "--live"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("(AWS (live))") && out.contains(&format!("Egress of tier web ({web})")),
        "{out}"
    );
    let (code, out, _) = cli(&["explain", &file, &web, "app", "8080", "--live"]);
    assert_eq!(code, 0, "the set's own group id stands for its tier\n{out}");

    // Drift: SSH from the internet, out of band.
    f.ec2
        .authorize_security_group_ingress()
        .group_id(&web)
        .ip_permissions(tcp_from_world(22))
        .send()
        .await
        .unwrap();
    let (code, out, _) = cli(&["explain", &file, "internet", "web", "22"]);
    assert_eq!(code, 3, "the file does not open 22\n{out}");
    let (code, out, _) = cli(&["explain", &file, "internet", "web", "22", "--live"]);
    assert_eq!(code, 0, "AWS does\n{out}");
    assert!(out.contains("+ tcp/22 from 0.0.0.0/0"), "{out}");
    let (code, out, _) = cli(&["explain", &file, "--exposed", "--live"]);
    assert_eq!(code, 0);
    assert!(out.contains("RISKY: 22 SSH"), "{out}");
    let (code, out, err) = cli(&["diagram", &file, "--live"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("internet ==>|\"tcp/22, tcp/443 (IPv4)\"| tier_web"),
        "{out}"
    );
    assert!(out.contains(&format!("web<br/>{web}")), "{out}");

    let (code, out, err) = cli(&["destroy", "-f", &file, "--yes"]);
    assert_eq!(code, 0, "{out}\n{err}");
}
