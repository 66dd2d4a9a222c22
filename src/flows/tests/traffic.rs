//! Traffic: protocol -1, port ranges (inclusive), udp, ICMP type and code, protocol numbers.

use super::*;

fn rule(protocol: &str, from: i32, to: i32) -> RuleMatch {
    RuleMatch {
        protocol: protocol.into(),
        from_port: from,
        to_port: to,
    }
}

#[test]
fn traffic_table() {
    let cases = [
        (rule("tcp", 443, 443), "443", true),
        (rule("tcp", 443, 443), "444", false),
        (rule("tcp", 8000, 8100), "8000", true),
        (rule("tcp", 8000, 8100), "8100", true),
        (rule("tcp", 8000, 8100), "8101", false),
        (rule("tcp", 8000, 8100), "7999", false),
        (rule("tcp", 0, 65535), "65535/tcp", true),
        (rule("tcp", 53, 53), "53/udp", false),
        (rule("udp", 53, 53), "53/udp", true),
        (rule("-1", -1, -1), "22", true),
        (rule("-1", -1, -1), "53/udp", true),
        (rule("-1", -1, -1), "8/icmp", true),
        (rule("-1", -1, -1), "all", true),
        (rule("tcp", 0, 65535), "all", false),
        (rule("tcp", 0, 65535), "-1/all", false),
        (rule("icmp", -1, -1), "8/icmp", true),
        (rule("icmp", -1, -1), "3:4/icmp", true),
        (rule("icmp", 8, -1), "8:3/icmp", true),
        (rule("icmp", 8, -1), "0/icmp", false),
        (rule("icmp", 3, 4), "3:4/icmp", true),
        (rule("icmp", 3, 4), "3/icmp", false),
        (rule("icmp", -1, -1), "128/icmpv6", false),
        (rule("icmpv6", 128, -1), "128/icmpv6", true),
        (rule("50", -1, -1), "0/50", true),
        (rule("50", -1, -1), "0/51", false),
        (rule("tcp", 22, 22), "22/6", true),
    ];
    for (r, probe, want) in cases {
        let p = Probe::parse(probe).unwrap();
        let got = traffic_matches(&r, &p);
        assert_eq!(got.is_ok(), want, "{r} vs {probe}: {got:?}");
    }
}

#[test]
fn traffic_reasons() {
    let p = |s| Probe::parse(s).unwrap();
    assert_eq!(
        traffic_matches(&rule("tcp", 8000, 8100), &p("9000")),
        Err("ports 8000-8100, the flow's port 9000 is outside".into())
    );
    assert_eq!(
        traffic_matches(&rule("udp", 53, 53), &p("53")),
        Err("protocol udp, the flow is tcp".into())
    );
    assert_eq!(
        traffic_matches(&rule("tcp", 0, 65535), &p("all")),
        Err("tcp/0-65535 is only part of all traffic".into())
    );
    assert_eq!(
        traffic_matches(&rule("icmp", 3, 4), &p("3/icmp")),
        Err("icmp type 3 code 4, the flow is icmp type 3 code 0".into())
    );
}

#[test]
fn protocol_all_rules_in_a_set() {
    let view = view_of(&set_yaml(
        "[{name: a, egress: [{protocol: all, to: [{tier: b}]}]},
          {name: b, ingress: [{protocol: tcp, ports: 8000-8100, from: [{tier: a}]}]}]",
    ));
    assert!(ask(&view, "a", "b", "8050").allowed);
    assert!(ask(&view, "a", "b", "8100").allowed, "ranges are inclusive");
    let e = ask(&view, "a", "b", "all");
    assert!(!e.allowed && e.egress.allowed && !e.ingress.allowed);
    let e = ask(&view, "a", "b", "8101");
    assert_eq!(
        e.ingress.nearest[0].why[0],
        "ports 8000-8100, the flow's port 8101 is outside"
    );
}

#[test]
fn intersections() {
    let cases = [
        (rule("-1", -1, -1), rule("tcp", 80, 80), Some(rule("tcp", 80, 80))),
        (rule("tcp", 80, 90), rule("-1", -1, -1), Some(rule("tcp", 80, 90))),
        (
            rule("tcp", 80, 90),
            rule("tcp", 85, 100),
            Some(rule("tcp", 85, 90)),
        ),
        (rule("tcp", 80, 90), rule("tcp", 91, 100), None),
        (rule("tcp", 80, 90), rule("udp", 80, 90), None),
        (
            rule("icmp", -1, -1),
            rule("icmp", 8, -1),
            Some(rule("icmp", 8, -1)),
        ),
        (rule("icmp", 8, -1), rule("icmp", 8, 0), Some(rule("icmp", 8, 0))),
        (rule("icmp", 8, -1), rule("icmp", 0, -1), None),
        (rule("50", -1, -1), rule("50", -1, -1), Some(rule("50", -1, -1))),
        (rule("50", -1, -1), rule("51", -1, -1), None),
    ];
    for (a, b, want) in cases {
        assert_eq!(intersect(&a, &b), want, "{a} ∩ {b}");
    }
}
