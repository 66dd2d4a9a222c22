//! Command-line words: endpoints (tier, internet, pl-, sg-, CIDR, IP) and PORT[/PROTO].

use super::*;

#[test]
fn endpoint_table() {
    let view = seed();
    let net = |s| Endpoint::Net(Net::parse(s).unwrap());
    let cases = [
        ("web", Ok(Endpoint::Tier("web".into()))),
        ("internet", Ok(Endpoint::Internet)),
        ("pl-0abc", Ok(Endpoint::PrefixList("pl-0abc".into()))),
        (
            "sg-0123456789abcdef0",
            Ok(Endpoint::Group("sg-0123456789abcdef0".into())),
        ),
        ("10.0.0.5", Ok(net("10.0.0.5/32"))),
        ("10.0.0.0/16", Ok(net("10.0.0.0/16"))),
        ("2001:db8::1", Ok(net("2001:db8::1/128"))),
        ("::/0", Ok(net("::/0"))),
        (
            "10.0.0.5/16",
            Err("10.0.0.5/16 has host bits set: did you mean 10.0.0.0/16?"),
        ),
        ("10.0.0.0/33", Err("10.0.0.0/33: the prefix length must be 0-32")),
        ("10.0.0.0/08", Err("10.0.0.0/08: the prefix length must be 0-32")),
        (
            "10.0.0",
            Err("10.0.0 is not an IP address or CIDR (10.0.0.0/16, 2001:db8::/32)"),
        ),
        (
            "cache",
            Err(
                "cache is not a tier of platform/globalbank-prod-c001-us-west-2-sg (tiers: web, app, db), nor internet, a pl- or sg- id, a CIDR or an IP",
            ),
        ),
    ];
    for (text, want) in cases {
        let got = Endpoint::parse(text, &view);
        assert_eq!(got, want.map_err(String::from), "{text}");
    }
}

#[test]
fn a_group_id_of_the_set_is_its_tier_live() {
    let mut view = seed();
    view.tiers[1].group_id = Some("sg-0aaaaaaaaaaaaaaaa".into());
    assert_eq!(
        Endpoint::parse("sg-0aaaaaaaaaaaaaaaa", &view),
        Ok(Endpoint::Tier("app".into()))
    );
}

#[test]
fn probe_table() {
    let p = |protocol: &str, port, code| {
        Ok(Probe {
            protocol: protocol.into(),
            port,
            code,
        })
    };
    let cases = [
        ("8080", p("tcp", 8080, -1)),
        ("8080/tcp", p("tcp", 8080, -1)),
        ("53/UDP", p("udp", 53, -1)),
        ("53/17", p("udp", 53, -1)),
        ("8/icmp", p("icmp", 8, 0)),
        ("3:4/icmp", p("icmp", 3, 4)),
        ("128/icmpv6", p("icmpv6", 128, 0)),
        ("all", p("-1", -1, -1)),
        ("-1", p("-1", -1, -1)),
        ("-1/all", p("-1", -1, -1)),
        ("0/-1", p("-1", -1, -1)),
        ("0/50", p("50", -1, -1)),
        (
            "65536",
            Err("port \"65536\" in \"65536\" is not a number 0-65535"),
        ),
        ("http", Err("port \"http\" in \"http\" is not a number 0-65535")),
        (
            "80/sctp",
            Err("unknown protocol \"sctp\": use tcp, udp, icmp, icmpv6, all (or -1) or a number 0-255"),
        ),
        (
            "256/icmp",
            Err("ICMP type \"256\" in \"256/icmp\" is not a number 0-255"),
        ),
    ];
    for (text, want) in cases {
        assert_eq!(Probe::parse(text), want.map_err(String::from), "{text}");
    }
}

#[test]
fn probes_read_back() {
    let shown: Vec<String> = ["8080", "53/udp", "3:4/icmp", "all", "0/50"]
        .iter()
        .map(|t| Probe::parse(t).unwrap().to_string())
        .collect();
    assert_eq!(
        shown,
        [
            "tcp/8080",
            "udp/53",
            "icmp type 3 code 4",
            "all traffic",
            "protocol 50"
        ]
    );
}

#[test]
fn net_containment() {
    let n = |s| Net::parse(s).unwrap();
    assert!(n("0.0.0.0/0").contains(&n("203.0.113.0/24")));
    assert!(n("10.0.0.0/8").contains(&n("10.255.255.255")));
    assert!(!n("10.0.0.0/8").contains(&n("11.0.0.0")));
    assert!(
        !n("10.0.0.0/16").contains(&n("10.0.0.0/8")),
        "a wider block is not inside"
    );
    assert!(!n("0.0.0.0/0").contains(&n("::1")), "families differ");
    assert!(n("::/0").contains(&n("2001:db8::/32")));
    assert!(n("2001:db8::/32").contains(&n("2001:db8:ffff::1")));
    assert!(n("::/0").is_world() && n("0.0.0.0/0").is_world() && !n("10.0.0.0/8").is_world());
}
