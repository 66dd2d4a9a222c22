use super::*;
use crate::api::{IcmpMatch, SecurityGroupSet};

fn seed() -> SecurityGroupSet {
    serde_saphyr::from_str(include_str!(
        "../../examples/globalbank-prod-c001-us-west-2-sg.yaml"
    ))
    .unwrap()
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
    let desired = plan(
        "globalbank-prod-c001-us-west-2-sg",
        "platform",
        &set.spec,
        "default",
    );
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
    let desired = plan("s", "ns1", &set.spec, "c");
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
        validate("globalbank-prod-c001-us-west-2-sg", &set.spec, &Limits::default()),
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
            "duplicate tier name",
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
            "not allowed",
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
            "spec.tags.aws:cost",
            "reserved by AWS",
        ),
        (
            |s| {
                s.tags.insert("sgprovisioner.io/owner".into(), "x".into());
            },
            "spec.tags.sgprovisioner.io/owner",
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
            "ports is required",
        ),
        (|s| s.tiers.clear(), "spec.tiers", "at least one tier"),
        (
            |s| s.tiers[2].ingress[0].from = (0..61).map(|i| Peer::Cidr(format!("10.0.{i}.0/24"))).collect(),
            "spec.tiers[name=db].ingress",
            "61 ingress rules; the quota is 60",
        ),
    ];
    for (edit, path, fragment) in cases {
        let mut set = seed();
        edit(&mut set.spec);
        let errors = validate("globalbank-prod-c001-us-west-2-sg", &set.spec, &Limits::default());
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
    assert_eq!(validate("x", &set.spec, &Limits::default()), vec![]);
}
