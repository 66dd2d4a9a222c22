//! Security-group helpers shared by the controller tests: tags and rules as plain values, and the
//! simplest set.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{IpPermission, SecurityGroup};
use serde_json::json;

pub fn tags(g: &SecurityGroup) -> BTreeMap<String, String> {
    g.tags()
        .iter()
        .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
        .collect()
}

/// (protocol, from, to, peer, description) for every rule of a direction, sorted.
pub fn rules(perms: &[IpPermission]) -> Vec<(String, i32, i32, String, String)> {
    let mut out = Vec::new();
    for p in perms {
        let (proto, from, to) = (
            p.ip_protocol().unwrap(),
            p.from_port().unwrap_or(-1),
            p.to_port().unwrap_or(-1),
        );
        let v4 = p.ip_ranges().iter().map(|r| (r.cidr_ip(), r.description()));
        let groups = p
            .user_id_group_pairs()
            .iter()
            .map(|r| (r.group_id(), r.description()));
        let v6 = p.ipv6_ranges().iter().map(|r| (r.cidr_ipv6(), r.description()));
        for (peer, description) in v4.chain(groups).chain(v6) {
            out.push((
                proto.to_string(),
                from,
                to,
                peer.unwrap().to_string(),
                description.unwrap_or("").to_string(),
            ));
        }
    }
    out.sort();
    out
}

pub fn r(proto: &str, port: i32, peer: &str, description: &str) -> (String, i32, i32, String, String) {
    (proto.into(), port, port, peer.into(), description.into())
}

/// One tier, HTTPS from a private range, no references: the simplest set to break.
pub fn solo_spec() -> serde_json::Value {
    json!({"tiers": [{"name": "solo", "ingress": [{"description": "https", "protocol": "tcp", "ports": 443, "from": [{"cidr": "10.1.0.0/16"}]}]}]})
}
