//! Pure: an account's security groups → risky findings. A rule is risky when the internet
//! (0.0.0.0/0 or ::/0) reaches a risky port through it: a port range that contains the port and
//! protocol `all` count too, since they let the same traffic through.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{IpPermission, SecurityGroup};
use serde::Serialize;

use crate::limits::RISKY_PORTS;
use crate::model::RuleMatch;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn sarif_level(self) -> &'static str {
        match self {
            Severity::Low => "note",
            Severity::Medium => "warning",
            Severity::High | Severity::Critical => "error",
        }
    }
}

/// The audit's rules: id, severity, description.
pub const RULES: [(&str, Severity, &str); 4] = [
    (
        "risky-port-public",
        Severity::High,
        "A risky port (22, 3389, 445, 139, 1433, 3306, 5432, 27017) is open to 0.0.0.0/0 or ::/0",
    ),
    (
        "port-public",
        Severity::Medium,
        "A port other than 80/443 is open to 0.0.0.0/0 or ::/0",
    ),
    (
        "stale-reference",
        Severity::Medium,
        "A rule references a security group that no longer exists",
    ),
    (
        "unused-group",
        Severity::Low,
        "No network interface uses the group",
    ),
];

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub rule_id: &'static str,
    pub severity: Severity,
    pub region: String,
    pub vpc_id: String,
    pub group_id: String,
    pub group_name: String,
    pub message: String,
}

const WORLD: [&str; 2] = ["0.0.0.0/0", "::/0"];

/// Findings for `groups` of one region. `existing` holds every group id of the region (for
/// stale references); `in_use` the ids some network interface uses.
pub fn audit(
    region: &str,
    groups: &[SecurityGroup],
    existing: &BTreeSet<String>,
    in_use: &BTreeSet<String>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for g in groups {
        let id = g.group_id().unwrap_or_default();
        let finding = |rule_id: &'static str, message: String| Finding {
            rule_id,
            severity: RULES
                .iter()
                .find(|r| r.0 == rule_id)
                .map_or(Severity::Low, |r| r.1),
            region: region.to_string(),
            vpc_id: g.vpc_id().unwrap_or_default().to_string(),
            group_id: id.to_string(),
            group_name: g.group_name().unwrap_or_default().to_string(),
            message,
        };
        for p in g.ip_permissions() {
            let traffic = RuleMatch::from_aws(p.ip_protocol().unwrap_or("-1"), p.from_port(), p.to_port());
            for source in world_sources(p) {
                let risky = risky_ports(&traffic);
                if !risky.is_empty() {
                    findings.push(finding(
                        "risky-port-public",
                        format!("{traffic} from {source} opens risky port(s) {risky:?}"),
                    ));
                } else if opens_other_than_web(&traffic) {
                    findings.push(finding("port-public", format!("{traffic} from {source}")));
                }
            }
        }
        for (direction, perms) in [
            ("ingress", g.ip_permissions()),
            ("egress", g.ip_permissions_egress()),
        ] {
            for p in perms {
                for pair in p.user_id_group_pairs() {
                    // Peered or other-account references cannot be checked from here.
                    let foreign = pair.vpc_peering_connection_id().is_some()
                        || pair.user_id().is_some_and(|u| Some(u) != g.owner_id());
                    let target = pair.group_id().unwrap_or_default();
                    if !foreign && !existing.contains(target) {
                        findings.push(finding(
                            "stale-reference",
                            format!("{direction} rule references deleted group {target}"),
                        ));
                    }
                }
            }
        }
        if g.group_name() != Some("default") && !in_use.contains(id) {
            findings.push(finding(
                "unused-group",
                "no network interface uses this group".into(),
            ));
        }
    }
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.group_id.cmp(&b.group_id))
            .then(a.message.cmp(&b.message))
    });
    findings
}

/// The risky ports that `traffic` lets through: the port itself, a range holding it, or
/// protocol `all`.
pub fn risky_ports(traffic: &RuleMatch) -> Vec<i32> {
    RISKY_PORTS
        .iter()
        .copied()
        .filter(|port| traffic.covers_port(*port))
        .collect()
}

/// What usually listens on a risky port.
pub fn risky_port_name(port: i32) -> &'static str {
    match port {
        22 => "SSH",
        3389 => "RDP",
        445 => "SMB",
        139 => "NetBIOS",
        1433 => "SQL Server",
        3306 => "MySQL",
        5432 => "PostgreSQL",
        27017 => "MongoDB",
        _ => "risky port",
    }
}

fn world_sources(p: &IpPermission) -> Vec<&str> {
    let v4 = p.ip_ranges().iter().filter_map(|r| r.cidr_ip());
    let v6 = p.ipv6_ranges().iter().filter_map(|r| r.cidr_ipv6());
    v4.chain(v6).filter(|c| WORLD.contains(c)).collect()
}

/// True unless the match is exactly port 80 or 443 (or ICMP, which has no ports).
fn opens_other_than_web(t: &RuleMatch) -> bool {
    match t.protocol.as_str() {
        "icmp" | "icmpv6" => false,
        "tcp" | "udp" => !(t.from_port == t.to_port && (t.from_port == 80 || t.from_port == 443)),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::{IpRange, Ipv6Range, UserIdGroupPair};

    fn perm(proto: &str, from: Option<i32>, to: Option<i32>, cidr: &str) -> IpPermission {
        let b = IpPermission::builder()
            .ip_protocol(proto)
            .set_from_port(from)
            .set_to_port(to);
        if cidr.contains(':') {
            b.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(cidr).build())
                .build()
        } else {
            b.ip_ranges(IpRange::builder().cidr_ip(cidr).build()).build()
        }
    }

    fn group(id: &str, name: &str, ingress: Vec<IpPermission>) -> SecurityGroup {
        SecurityGroup::builder()
            .group_id(id)
            .group_name(name)
            .vpc_id("vpc-1")
            .owner_id("123")
            .set_ip_permissions(Some(ingress))
            .build()
    }

    #[test]
    fn findings_table() {
        let cases: Vec<(IpPermission, Option<&str>)> = vec![
            (
                perm("tcp", Some(22), Some(22), "0.0.0.0/0"),
                Some("risky-port-public"),
            ),
            (
                perm("tcp", Some(0), Some(65535), "0.0.0.0/0"),
                Some("risky-port-public"),
            ),
            (perm("-1", None, None, "0.0.0.0/0"), Some("risky-port-public")),
            (
                perm("tcp", Some(3389), Some(3389), "::/0"),
                Some("risky-port-public"),
            ),
            (
                perm("tcp", Some(5000), Some(6000), "0.0.0.0/0"),
                Some("risky-port-public"),
            ), // 5432 inside
            (
                perm("tcp", Some(8080), Some(8080), "0.0.0.0/0"),
                Some("port-public"),
            ),
            (perm("udp", Some(53), Some(53), "0.0.0.0/0"), Some("port-public")),
            (perm("tcp", Some(443), Some(443), "0.0.0.0/0"), None),
            (perm("tcp", Some(80), Some(80), "::/0"), None),
            (perm("tcp", Some(22), Some(22), "10.0.0.0/8"), None),
            (perm("icmp", Some(-1), Some(-1), "0.0.0.0/0"), None),
        ];
        let used: BTreeSet<String> = ["sg-1".to_string()].into();
        for (p, want) in cases {
            let shown = format!("{p:?}");
            let found = audit("r", &[group("sg-1", "g", vec![p])], &used, &used);
            assert_eq!(found.first().map(|f| f.rule_id), want, "{shown}");
            assert!(found.len() <= 1, "one finding per rule: {found:?}");
        }
    }

    #[test]
    fn every_risky_port_has_a_name() {
        for port in RISKY_PORTS {
            assert_ne!(risky_port_name(port), "risky port", "{port}");
        }
        let all = RuleMatch::from_aws("-1", None, None);
        assert_eq!(risky_ports(&all), RISKY_PORTS);
        assert_eq!(
            risky_ports(&RuleMatch::from_aws("tcp", Some(3000), Some(3400))),
            [3389, 3306]
        );
    }

    #[test]
    fn unused_and_stale() {
        let stale = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(5432)
            .to_port(5432)
            .user_id_group_pairs(
                UserIdGroupPair::builder()
                    .group_id("sg-gone")
                    .user_id("123")
                    .build(),
            )
            .user_id_group_pairs(
                UserIdGroupPair::builder()
                    .group_id("sg-peer")
                    .vpc_peering_connection_id("pcx-1")
                    .build(),
            )
            .build();
        let groups = [
            group("sg-1", "app", vec![stale]),
            group("sg-2", "default", vec![]),
        ];
        let existing: BTreeSet<String> = ["sg-1".into(), "sg-2".into()].into();
        let found = audit("r", &groups, &existing, &BTreeSet::new());
        let ids: Vec<_> = found.iter().map(|f| (f.rule_id, f.group_id.as_str())).collect();
        assert_eq!(
            ids,
            [("stale-reference", "sg-1"), ("unused-group", "sg-1")],
            "default groups are never 'unused'"
        );
    }
}
