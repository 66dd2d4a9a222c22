use super::*;
use crate::api::IcmpMatch;

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
