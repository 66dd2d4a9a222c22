use super::*;

/// A one-tier spec with these rules (JSON), for the table below.
fn one_tier(ingress: serde_json::Value) -> crate::api::SecurityGroupSetSpec {
    serde_json::from_value(serde_json::json!({
        "vpc": {"id": "vpc-0abc1234"},
        "tiers": [{"name": "web", "ingress": ingress}],
    }))
    .unwrap()
}

#[test]
fn traffic_and_peer_rules_table() {
    use serde_json::json;
    // (ingress rules, Some((path, fragment)) when refused, None when valid)
    let cases: Vec<(serde_json::Value, Option<(&str, &str)>)> = vec![
        (
            json!([{"protocol": "TCP", "ports": "8000-8100", "from": [{"cidr": "10.0.0.0/8"}]}]),
            None,
        ),
        (
            json!([{"protocol": 6, "ports": 443, "from": [{"ipv6Cidr": "2001:db8::/32"}]}]),
            None,
        ),
        (json!([{"protocol": "-1", "from": [{"self": true}]}]), None),
        (
            json!([{"protocol": "50", "from": [{"prefixListId": "pl-0abc"}]}]),
            None,
        ),
        (
            json!([{"protocol": "icmpv6", "icmp": {"type": 128, "code": 0}, "from": [{"ipv6Cidr": "::/0"}]}]),
            None,
        ),
        (
            json!([{"protocol": "tcp", "ports": "0443", "from": [{"cidr": "0.0.0.0/0"}]}]),
            None,
        ),
        (
            json!([{"protocol": "06", "from": [{"cidr": "10.0.0.0/8"}]}]),
            Some(("ingress[0].protocol", "unknown protocol 06")),
        ),
        (
            json!([{"protocol": "+6", "ports": 1, "from": [{"cidr": "10.0.0.0/8"}]}]),
            Some(("ingress[0].protocol", "unknown protocol")),
        ),
        (
            json!([{"protocol": -1, "from": [{"cidr": "10.0.0.0/8"}]}]),
            Some(("ingress[0].protocol", "0-255")),
        ),
        (
            json!([{"protocol": "udp", "ports": " 53", "from": [{"cidr": "10.0.0.0/8"}]}]),
            Some(("ingress[0].ports", "\"N\" or \"N-M\"")),
        ),
        (
            json!([{"protocol": "udp", "ports": -5, "from": [{"cidr": "10.0.0.0/8"}]}]),
            Some(("ingress[0].ports", "out of range")),
        ),
        (
            json!([{"protocol": 17, "ports": "9-8", "from": [{"cidr": "10.0.0.0/8"}]}]),
            Some(("ingress[0].ports", "must not exceed")),
        ),
        (
            json!([{"protocol": "50", "ports": 1, "from": [{"cidr": "10.0.0.0/8"}]}]),
            Some(("ingress[0].ports", "must be absent for protocol 50")),
        ),
        (
            json!([{"protocol": "all", "icmp": {"type": 8}, "from": [{"cidr": "10.0.0.0/8"}]}]),
            Some(("ingress[0].icmp", "only for protocols icmp")),
        ),
        (
            json!([{"protocol": "icmp", "ports": 8, "from": [{"cidr": "10.0.0.0/8"}]}]),
            Some(("ingress[0].ports", "icmp.type")),
        ),
        (
            json!([{"protocol": "tcp", "ports": 1, "from": [{"cidr": "10.0.0.0/08"}]}]),
            Some(("ingress[0].from[0].cidr", "not an IPv4 CIDR")),
        ),
        (
            json!([{"protocol": "tcp", "ports": 1, "from": [{"cidr": "010.0.0.0/8"}]}]),
            Some(("ingress[0].from[0].cidr", "not an IPv4 CIDR")),
        ),
        (
            json!([{"protocol": "tcp", "ports": 1, "from": [{"ipv6Cidr": "::ffff:10.0.0.0/104"}]}]),
            Some(("ingress[0].from[0].ipv6Cidr", "not an IPv6 CIDR")),
        ),
        (
            json!([{"protocol": "tcp", "ports": 1, "from": [{"ipv6Cidr": "2001:DB8::/32"}]}]),
            Some(("ingress[0].from[0].ipv6Cidr", "write 2001:db8::/32")),
        ),
        (
            json!([{"protocol": "tcp", "ports": 1, "from": [{"securityGroupId": "sg-0123456789ABCDEF0"}]}]),
            Some(("ingress[0].from[0].securityGroupId", "not a security group id")),
        ),
        (
            json!([{"protocol": "tcp", "ports": 1, "from": [{"setRef": {"name": "Other_Set", "tier": "lb"}}]}]),
            Some(("ingress[0].from[0].setRef.name", "DNS subdomain")),
        ),
        (
            json!([{"protocol": "tcp", "ports": 1, "from": [{"setRef": {"name": "s", "namespace": "a.b", "tier": "lb"}}]}]),
            Some(("ingress[0].from[0].setRef.namespace", "DNS label")),
        ),
        (
            json!([{"protocol": "tcp", "ports": 1, "from": [{"setRef": {"name": "s", "tier": "LB"}}]}]),
            Some(("ingress[0].from[0].setRef.tier", "DNS label")),
        ),
        (
            json!([{"protocol": "tcp", "ports": 1, "from": [{"cidr": "10.0.0.0/8"}, {"cidr": "10.0.0.0/8"}]}]),
            Some(("ingress[0].from[1]", "duplicate rule")),
        ),
        (
            json!([{"protocol": "tcp", "ports": 1, "from": [{"self": true}]}, {"protocol": 6, "ports": "1", "from": [{"tier": "web"}]}]),
            Some(("ingress[1].from[0]", "duplicate rule")),
        ),
        (
            json!([{"protocol": "udp", "ports": "100-200", "from": [{"ipv6Cidr": "::/0"}]}]),
            Some(("ingress[0].from[0]", "risky port(s) (139)")),
        ),
        (
            json!([{"protocol": "tcp", "ports": 1, "description": "tab\there", "from": [{"cidr": "10.0.0.0/8"}]}]),
            Some(("ingress[0].description", "character set")),
        ),
    ];
    for (ingress, want) in cases {
        let spec = one_tier(ingress.clone());
        let errors = check("s", &spec, &Limits::default());
        match want {
            None => assert_eq!(errors, vec![], "{ingress}"),
            Some((suffix, fragment)) => assert!(
                errors
                    .iter()
                    .any(|e| e.path == format!("spec.tiers[name=web].{suffix}")
                        && e.message.contains(fragment)),
                "{ingress}: want ...{suffix}: {fragment}; got {errors:?}"
            ),
        }
    }
}
