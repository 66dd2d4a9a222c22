use super::*;
use crate::api::{IcmpMatch, SecurityGroupSet};

fn seed() -> SecurityGroupSet {
    serde_saphyr::from_str(include_str!(
        "../../examples/globalbank-prod-c001-us-west-2-sg.yaml"
    ))
    .unwrap()
}

/// The set named `name` in `namespace`, validated then planned for `cluster`.
fn desired_of(mut set: SecurityGroupSet, name: &str, namespace: &str, cluster: &str) -> DesiredSet {
    set.metadata.name = Some(name.into());
    set.metadata.namespace = Some(namespace.into());
    plan(&validate(&set, &Limits::default()).expect("valid"), cluster)
}

fn traffic(protocol: IntOrString, ports: Option<IntOrString>, icmp: Option<IcmpMatch>) -> Traffic {
    Traffic {
        description: None,
        protocol,
        ports,
        icmp,
    }
}

fn s(v: &str) -> IntOrString {
    IntOrString::String(v.into())
}

#[test]
fn rule_match_table() {
    use IntOrString::Int;
    let rm = |p: &str, a, b| {
        Ok(RuleMatch {
            protocol: p.into(),
            from_port: a,
            to_port: b,
        })
    };
    let cases: Vec<(Traffic, Result<RuleMatch, String>)> = vec![
        (traffic(s("tcp"), Some(Int(443)), None), rm("tcp", 443, 443)),
        (traffic(s("TCP"), Some(s("443")), None), rm("tcp", 443, 443)),
        (traffic(Int(6), Some(s("8000-8100")), None), rm("tcp", 8000, 8100)),
        (traffic(s("17"), Some(s("53")), None), rm("udp", 53, 53)),
        (traffic(s("all"), None, None), rm("-1", -1, -1)),
        (traffic(Int(50), None, None), rm("50", -1, -1)),
        (traffic(s("icmp"), None, None), rm("icmp", -1, -1)),
        (
            traffic(
                s("icmp"),
                None,
                Some(IcmpMatch {
                    icmp_type: 8,
                    code: None,
                }),
            ),
            rm("icmp", 8, -1),
        ),
        (
            traffic(
                s("icmpv6"),
                None,
                Some(IcmpMatch {
                    icmp_type: 128,
                    code: Some(0),
                }),
            ),
            rm("icmpv6", 128, 0),
        ),
    ];
    for (input, want) in cases {
        assert_eq!(rule_match(&input), want, "{input:?}");
    }
    let refused = [
        (traffic(s("tcp"), None, None), "ports is required"),
        (traffic(s("tcp"), Some(s("100-50")), None), "must not exceed"),
        (traffic(s("tcp"), Some(s("70000")), None), "out of range"),
        (traffic(s("tcp"), Some(s("http")), None), "\"N\" or \"N-M\""),
        (traffic(s("all"), Some(Int(22)), None), "must be absent"),
        (traffic(s("icmp"), Some(Int(8)), None), "icmp.type"),
        (traffic(s("sctp"), None, None), "unknown protocol"),
        (traffic(Int(256), None, None), "0-255"),
    ];
    for (input, fragment) in refused {
        let got = rule_match(&input).unwrap_err();
        assert!(got.contains(fragment), "{input:?}: {got}");
    }
}

#[test]
fn aws_reported_rules_normalize_to_the_same_match() {
    assert_eq!(
        RuleMatch::from_aws("6", Some(443), Some(443)),
        RuleMatch::from_aws("tcp", Some(443), Some(443))
    );
    assert_eq!(
        RuleMatch::from_aws("-1", None, None),
        RuleMatch {
            protocol: "-1".into(),
            from_port: -1,
            to_port: -1
        }
    );
    assert_eq!(
        RuleMatch::from_aws("50", Some(0), Some(0)).from_port,
        -1,
        "ports do not apply to protocol 50"
    );
}

#[test]
fn seed_plans_three_groups_with_symbolic_peers() {
    let set = seed();
    let desired = desired_of(set, "globalbank-prod-c001-us-west-2-sg", "platform", "default");
    let names: Vec<_> = desired.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "globalbank-prod-c001-us-west-2-sg-web",
            "globalbank-prod-c001-us-west-2-sg-app",
            "globalbank-prod-c001-us-west-2-sg-db"
        ]
    );
    let web = desired.group("web").unwrap();
    assert_eq!(web.ingress.len(), 2);
    assert_eq!(web.egress[1].peer, SymbolicPeer::Tier("app".into()));
    assert_eq!(
        web.parameter_name,
        "/sg/globalbank-prod-c001-us-west-2-sg/web/SecurityGroupId"
    );
    assert_eq!(web.tags[OWNER_TAG], "platform/globalbank-prod-c001-us-west-2-sg");
    assert_eq!(web.tags[CLUSTER_TAG], "default");
    assert_eq!(web.tags[TIER_TAG], "web");
    assert_eq!(web.tags[NAME_TAG], "globalbank-prod-c001-us-west-2-sg-web");
    assert_eq!(web.tags["Environment"], "prod");
    assert_eq!(web.tags["Tier"], "web");
    assert!(desired.group("db").unwrap().egress.is_empty(), "db has no egress");
}

#[test]
fn self_becomes_own_tier_and_set_ref_defaults_namespace() {
    let mut set = seed();
    set.spec.tiers[1].ingress[0].from = vec![
        Peer::SelfRef(true),
        Peer::SetRef(crate::api::SetRef {
            name: "shared".into(),
            namespace: None,
            tier: "lb".into(),
        }),
    ];
    let desired = desired_of(set, "s", "ns1", "c");
    let app = desired.group("app").unwrap();
    assert_eq!(app.ingress[0].peer, SymbolicPeer::Tier("app".into()));
    assert_eq!(
        app.ingress[1].peer,
        SymbolicPeer::SetRef {
            namespace: "ns1".into(),
            name: "shared".into(),
            tier: "lb".into()
        }
    );
    assert_eq!(desired.set_refs().len(), 1);
}

#[test]
fn seed_is_valid() {
    let set = seed();
    assert_eq!(
        check("globalbank-prod-c001-us-west-2-sg", &set.spec, &Limits::default()),
        vec![]
    );
}

#[test]
fn validation_names_the_field() {
    type Edit = fn(&mut crate::api::SecurityGroupSetSpec);
    let cases: Vec<(Edit, &str, &str)> = vec![
        (
            |s| s.vpc.id = Some("vpc-0abc1234".into()),
            "spec.vpc",
            "exactly one",
        ),
        (
            |s| {
                s.vpc.parameter_path = None;
                s.vpc.id = Some("vpc-xyz".into())
            },
            "spec.vpc.id",
            "not a VPC id",
        ),
        (
            |s| s.vpc.parameter_path = Some("no-slash".into()),
            "spec.vpc.parameterPath",
            "SSM parameter path",
        ),
        (|s| s.region = Some("mars".into()), "spec.region", "region"),
        (
            |s| s.tiers[1].name = "web".into(),
            "spec.tiers[1].name",
            "Duplicate value",
        ),
        (
            |s| s.tiers[0].name = "Web_Tier".into(),
            "spec.tiers[name=Web_Tier].name",
            "DNS label",
        ),
        (
            |s| s.tiers[0].ingress[0].from = vec![Peer::Cidr("10.0.0.1/16".into())],
            "spec.tiers[name=web].ingress[0].from[0].cidr",
            "10.0.0.0/16",
        ),
        (
            |s| s.tiers[0].ingress[0].from = vec![Peer::Ipv6Cidr("2001:db8::1/32".into())],
            "spec.tiers[name=web].ingress[0].from[0].ipv6Cidr",
            "2001:db8::/32",
        ),
        (
            |s| s.tiers[0].egress[1].to = vec![Peer::Tier("cache".into())],
            "spec.tiers[name=web].egress[1].to[0].tier",
            "no tier named",
        ),
        (
            |s| s.tiers[0].ingress[0].from = vec![Peer::SecurityGroupId("sg-1".into())],
            "spec.tiers[name=web].ingress[0].from[0].securityGroupId",
            "not a security group id",
        ),
        (
            |s| s.tiers[0].ingress[0].from = vec![Peer::PrefixListId("prefix".into())],
            "spec.tiers[name=web].ingress[0].from[0].prefixListId",
            "prefix list",
        ),
        (
            |s| s.tiers[0].ingress[0].from = vec![Peer::SelfRef(false)],
            "spec.tiers[name=web].ingress[0].from[0].self",
            "must be true",
        ),
        (
            |s| s.tiers[0].ingress[0].traffic.ports = Some(IntOrString::String("22".into())),
            "spec.tiers[name=web].ingress[0].from[0]",
            "risky port",
        ),
        (
            |s| {
                s.tiers[0].ingress[0].traffic.protocol = IntOrString::String("all".into());
                s.tiers[0].ingress[0].traffic.ports = None;
            },
            "spec.tiers[name=web].ingress[0].from[0]",
            "risky port",
        ),
        (
            |s| s.tiers[0].ingress[0].traffic.ports = Some(IntOrString::String("0-65535".into())),
            "spec.tiers[name=web].ingress[0].from[0]",
            "risky port",
        ),
        (
            |s| s.tiers[0].ingress[0].traffic.description = Some("café".into()),
            "spec.tiers[name=web].ingress[0].description",
            "AWS's character set",
        ),
        (
            |s| s.tiers[0].description = Some("x".repeat(256)),
            "spec.tiers[name=web].description",
            "at most 255",
        ),
        (
            |s| {
                s.tags.insert("aws:cost".into(), "x".into());
            },
            "spec.tags[aws:cost]",
            "reserved by AWS",
        ),
        (
            |s| {
                s.tags.insert("sgprovisioner.io/owner".into(), "x".into());
            },
            "spec.tags[sgprovisioner.io/owner]",
            "cannot be overridden",
        ),
        (
            |s| {
                let r = s.tiers[0].ingress[0].clone();
                s.tiers[0].ingress.push(r);
            },
            "spec.tiers[name=web].ingress[2].from[0]",
            "duplicate rule",
        ),
        (
            |s| s.tiers[0].ingress[0].traffic.ports = None,
            "spec.tiers[name=web].ingress[0].ports",
            "ports is required for tcp and udp",
        ),
        (|s| s.tiers.clear(), "spec.tiers", "at least 1 items"),
        (
            |s| s.tiers[2].ingress[0].from = (0..61).map(|i| Peer::Cidr(format!("10.0.{i}.0/24"))).collect(),
            "spec.tiers[name=db].ingress",
            "61 ingress rules; the quota is 60",
        ),
    ];
    for (edit, path, fragment) in cases {
        let mut set = seed();
        edit(&mut set.spec);
        let errors = check("globalbank-prod-c001-us-west-2-sg", &set.spec, &Limits::default());
        assert!(
            errors
                .iter()
                .any(|e| e.path == path && e.message.contains(fragment)),
            "want {path}: ...{fragment}..., got {errors:?}"
        );
    }
}

#[test]
fn risky_ports_allowed_when_the_set_says_so() {
    let mut set = seed();
    set.spec.tiers[0].ingress[0].traffic.ports = Some(IntOrString::Int(22));
    set.spec.allow_public_risky_ports = true;
    assert_eq!(check("x", &set.spec, &Limits::default()), vec![]);
}

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

#[test]
fn set_level_rules_table() {
    type Edit = fn(&mut crate::api::SecurityGroupSetSpec);
    let long_name = "x".repeat(252);
    let cases: Vec<(&str, Edit, &str, &str)> = vec![
        ("sg-web", |_| {}, "metadata.name", "starting with sg-"),
        (
            &long_name,
            |_| {},
            "spec.tiers[name=web].name",
            "exceeds AWS's 255 characters",
        ),
        (
            "s",
            |s| s.region = Some("us-west-200".into()),
            "spec.region",
            "not an AWS region",
        ),
        (
            "s",
            |s| s.vpc.parameter_path = Some("/a//b".into()),
            "spec.vpc.parameterPath",
            "SSM parameter path",
        ),
        (
            "s",
            |s| s.vpc.parameter_path = Some("/SSM/x".into()),
            "spec.vpc.parameterPath",
            "not under /aws or /ssm",
        ),
        (
            "s",
            |s| s.vpc.parameter_path = Some(format!("{}/x", "/a".repeat(15))),
            "spec.vpc.parameterPath",
            "15 levels",
        ),
        (
            "s",
            |s| {
                s.tags.insert("k".repeat(129), "v".into());
            },
            "spec.tags[",
            "1 to 128",
        ),
        (
            "s",
            |s| {
                s.tags.insert("Note".into(), "v".repeat(257));
            },
            "spec.tags[Note]",
            "at most 256",
        ),
        (
            "s",
            |s| {
                s.tags.insert("ManagedBy".into(), "me".into());
            },
            "spec.tags[ManagedBy]",
            "cannot be overridden",
        ),
        (
            "s",
            |s| s.tags = (0..46).map(|i| (format!("k{i}"), "v".into())).collect(),
            "spec.tags",
            "at most 45",
        ),
        (
            "s",
            |s| {
                s.tags = (0..30).map(|i| (format!("s{i}"), "v".into())).collect();
                s.tiers[0].tags = (0..16).map(|i| (format!("t{i}"), "v".into())).collect();
            },
            "spec.tags",
            "tier web: the set and tier have more than 45 tags",
        ),
        (
            "shared",
            |s| {
                s.tiers[0].ingress[0].from = vec![Peer::SetRef(crate::api::SetRef {
                    name: "shared".into(),
                    namespace: None,
                    tier: "lb".into(),
                })]
            },
            "spec.tiers[name=web].ingress[0].from[0].setRef",
            "refers to this set",
        ),
    ];
    for (name, edit, path, fragment) in cases {
        let mut set = seed();
        edit(&mut set.spec);
        let errors = check(name, &set.spec, &Limits::default());
        assert!(
            errors
                .iter()
                .any(|e| e.path.starts_with(path) && e.message.contains(fragment)),
            "{name}: want {path}: ...{fragment}...; got {errors:?}"
        );
    }
    // Shared keys count once: 30 set tags + the same 30 on the tier is 30 tags.
    let mut set = seed();
    set.spec.tags = (0..30).map(|i| (format!("k{i}"), "v".into())).collect();
    set.spec.tiers[0].tags = set.spec.tags.clone();
    assert_eq!(check("s", &set.spec, &Limits::default()), vec![]);
}
