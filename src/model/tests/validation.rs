use super::*;

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

#[test]
fn tags_use_ssm_characters_and_the_cluster_name_is_a_valid_tag_value() {
    use crate::model::validate::cluster_name;
    let mut set = seed();
    set.spec.tags.insert("team".into(), "R&D".into());
    set.spec.tags.insert("Équipe".into(), "réseau 1".into());
    let errors = validate(&set, &Limits::default()).unwrap_err();
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        ["spec.tags[team]"],
        "letters of any script pass: {errors:?}"
    );
    assert!(cluster_name("prod-eu_1").is_ok());
    assert!(cluster_name("").is_err() && cluster_name("a&b").is_err());
    assert!(cluster_name(&"x".repeat(257)).is_err());
}

#[test]
fn the_config_map_output_is_named_as_kubernetes_names_objects() {
    use crate::api::{ConfigMapOutput, Outputs};
    let with = |name: &str| {
        let mut set = seed();
        set.spec.outputs = Some(Outputs {
            config_map: Some(ConfigMapOutput { name: name.into() }),
        });
        set
    };
    let long_label = format!("{}.ids", "a".repeat(70));
    for good in ["app-ids", "sg.ids.v1", "0", long_label.as_str()] {
        let valid = validate(&with(good), &Limits::default()).unwrap_or_else(|e| panic!("{good}: {e:?}"));
        assert_eq!(valid.config_map.as_deref(), Some(good));
    }
    let too_long = "a".repeat(254);
    for bad in ["", "App-Ids", "ids_v1", "-ids", "ids.", "a..b", too_long.as_str()] {
        let errors = validate(&with(bad), &Limits::default()).unwrap_err();
        assert!(
            errors
                .iter()
                .any(|e| e.path == "spec.outputs.configMap.name" && e.message.contains("DNS-1123 subdomain")),
            "{bad:?}: {errors:?}"
        );
    }
    assert_eq!(validate(&seed(), &Limits::default()).unwrap().config_map, None);
}

#[test]
fn the_role_arn_and_external_id_are_checked_as_iam_and_sts_write_them() {
    use crate::api::AwsAccount;
    let with = |arn: &str, external_id: Option<&str>| {
        let mut set = seed();
        set.spec.aws = Some(AwsAccount {
            role_arn: arn.into(),
            external_id: external_id.map(Into::into),
        });
        let errors = validate(&set, &Limits::default());
        (set, errors)
    };
    for good in [
        "arn:aws:iam::123456789012:role/sg-provisioner",
        "arn:aws-us-gov:iam::123456789012:role/team/net/sg_a+b=c,d.e@f-g",
        "arn:aws-cn:iam::123456789012:role/x",
    ] {
        let (set, validated) = with(good, Some("ext-id:2026/01=a+b@c,d.e_f"));
        let validated = validated.unwrap_or_else(|e| panic!("{good}: {e:?}"));
        assert_eq!(validated.identity.role, Role::of(&set.spec));
        assert_eq!(validated.identity.role.unwrap().arn, good);
    }
    let cases = [
        (
            "arn:aws:iam::123456789012:user/x",
            None,
            "spec.aws.roleArn",
            "is not an IAM role ARN",
        ),
        (
            "arn:aws:iam::12345:role/x",
            None,
            "spec.aws.roleArn",
            "is not an IAM role ARN",
        ),
        (
            "arn:aws:sts::123456789012:role/x",
            None,
            "spec.aws.roleArn",
            "is not an IAM role ARN",
        ),
        (
            "arn:aws:iam::123456789012:role/",
            None,
            "spec.aws.roleArn",
            "is not an IAM role ARN",
        ),
        (
            "arn:aws:iam::123456789012:role/a b",
            None,
            "spec.aws.roleArn",
            "is not an IAM role ARN",
        ),
        (
            "arn:aws:iam::123456789012:role/x",
            Some("a b"),
            "spec.aws.externalId",
            "STS ExternalId",
        ),
        (
            "arn:aws:iam::123456789012:role/x",
            Some("é1"),
            "spec.aws.externalId",
            "STS ExternalId",
        ),
        (
            "arn:aws:iam::123456789012:role/x",
            Some("a"),
            "spec.aws.externalId",
            "2 to 1224",
        ),
    ];
    for (arn, id, path, fragment) in cases {
        let errors = with(arn, id).1.unwrap_err();
        assert!(
            errors
                .iter()
                .any(|e| e.path == path && e.message.contains(fragment)),
            "{arn} {id:?}: want {path}: ...{fragment}..., got {errors:?}"
        );
    }
    let long = format!("arn:aws:iam::123456789012:role/{}/x", "p".repeat(2048));
    assert!(with(&long, None).1.unwrap_err()[0].message.contains("2048"));
    assert_eq!(
        SetIdentity::of(&seed()).role,
        None,
        "no spec.aws: the controller's own account"
    );
}
