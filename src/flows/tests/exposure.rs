//! `--exposed`: ingress rules from 0.0.0.0/0 or ::/0, risky ports marked.

use super::*;

#[test]
fn the_seed_exposes_web_on_80_and_443_only() {
    let found = exposed(&seed());
    let shown: Vec<_> = found
        .iter()
        .map(|x| (x.rule.tier.as_str(), x.rule.traffic.as_str(), x.family))
        .collect();
    assert_eq!(
        shown,
        [("web", "tcp/443", Family::V4), ("web", "tcp/80", Family::V4)]
    );
    assert!(found.iter().all(|x| x.risky.is_empty()));
}

#[test]
fn risky_ports_are_marked_and_narrow_cidrs_are_not_exposure() {
    let view = view_of(&set_yaml(
        "[{name: bastion, ingress: [
            {protocol: tcp, ports: 22, from: [{cidr: 0.0.0.0/0}, {ipv6Cidr: '::/0'}]},
            {protocol: tcp, ports: 3000-3400, from: [{cidr: 0.0.0.0/0}]},
            {protocol: tcp, ports: 22, from: [{cidr: 10.0.0.0/8}]},
            {protocol: udp, ports: 53, from: [{prefixListId: pl-0abc}]}]},
          {name: open, ingress: [{protocol: all, from: [{ipv6Cidr: '::/0'}]}]}]",
    ));
    let found = exposed(&view);
    let shown: Vec<_> = found
        .iter()
        .map(|x| {
            let risky: Vec<_> = x.risky.iter().map(|r| format!("{} {}", r.port, r.name)).collect();
            (
                x.rule.tier.as_str(),
                x.rule.peer.as_str(),
                x.rule.traffic.as_str(),
                risky,
            )
        })
        .collect();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        shown,
        [
            ("bastion", "0.0.0.0/0", "tcp/22", s(&["22 SSH"])),
            ("bastion", "::/0", "tcp/22", s(&["22 SSH"])),
            (
                "bastion",
                "0.0.0.0/0",
                "tcp/3000-3400",
                s(&["3389 RDP", "3306 MySQL"])
            ),
            (
                "open",
                "::/0",
                "all",
                s(&[
                    "22 SSH",
                    "3389 RDP",
                    "445 SMB",
                    "139 NetBIOS",
                    "1433 SQL Server",
                    "3306 MySQL",
                    "5432 PostgreSQL",
                    "27017 MongoDB"
                ])
            ),
        ]
    );
}
