//! Peers: CIDR containment (IPv4, IPv6), prefix lists, external groups, self.

use super::*;

const PEERS: &str = "
    - name: edge
      ingress:
        - {description: office, protocol: tcp, ports: 22, from: [{cidr: 10.20.0.0/16}]}
        - {description: v6 office, protocol: tcp, ports: 22, from: [{ipv6Cidr: '2001:db8::/32'}]}
        - {description: v6 world, protocol: tcp, ports: 443, from: [{ipv6Cidr: '::/0'}]}
        - {description: s3, protocol: tcp, ports: 443, from: [{prefixListId: pl-0abc}]}
        - {description: lb, protocol: tcp, ports: 8443, from: [{securityGroupId: sg-0123456789abcdef0}]}
        - {description: peers, protocol: all, from: [{self: true}]}
      egress:
        - {description: peers out, protocol: all, to: [{self: true}]}
        - {description: to s3, protocol: tcp, ports: 443, to: [{prefixListId: pl-0abc}]}
        - {description: to lb, protocol: tcp, ports: 8443, to: [{securityGroupId: sg-0123456789abcdef0}]}
    - name: other
      ingress: [{protocol: tcp, ports: 9000, from: [{setRef: {name: shared, tier: lb}}]}]
";

fn view() -> FlowView {
    view_of(&set_yaml(PEERS))
}

#[test]
fn peer_table() {
    // (from, to, traffic, allowed, the ingress rule that allows it)
    let cases = [
        ("10.20.3.4", "edge", "22", true, Some("office")),
        ("10.20.0.0/24", "edge", "22", true, Some("office")),
        ("10.20.0.0/15", "edge", "22", false, None),
        ("10.21.0.1", "edge", "22", false, None),
        ("2001:db8:1::5", "edge", "22", true, Some("v6 office")),
        ("2001:db9::5", "edge", "22", false, None),
        ("internet", "edge", "22", false, None),
        ("internet", "edge", "443", true, Some("v6 world")),
        ("2600::1", "edge", "443", true, Some("v6 world")),
        ("198.51.100.7", "edge", "443", false, None),
        ("pl-0abc", "edge", "443", true, Some("s3")),
        ("pl-0def", "edge", "22", false, None),
        ("edge", "pl-0def", "443", false, None),
        ("edge", "pl-0abc", "443", true, None),
        ("sg-0123456789abcdef0", "edge", "8443", true, Some("lb")),
        ("sg-0fedcba987654321f", "edge", "8443", false, None),
        ("sg-0123456789abcdef0", "other", "9000", false, None),
    ];
    let view = view();
    for (from, to, traffic, allowed, rule) in cases {
        let e = ask(&view, from, to, traffic);
        assert_eq!(e.allowed, allowed, "{from} -> {to} {traffic}: {e:#?}");
        let by = allowed_by(&e.ingress);
        assert_eq!(rule.is_some(), !by.is_empty(), "{from} -> {to}: {by:?}");
        assert!(
            rule.is_none_or(|r| by.iter().any(|b| b == r)),
            "{from} -> {to}: {by:?}"
        );
    }
}

#[test]
fn the_whole_internet_holds_groups_and_prefix_lists_too() {
    let e = ask(&view(), "pl-0abc", "edge", "443");
    assert_eq!(allowed_by(&e.ingress), ["v6 world", "s3"]);
    assert_eq!(
        e.ingress.allowed_by[0].why,
        ["::/0 holds every IPv6 address, prefix list pl-0abc's too (where it has IPv6 ones)"]
    );
}

#[test]
fn internet_over_ipv6_only() {
    let e = ask(&view(), "internet", "edge", "443");
    assert_eq!(e.families, [Family::V6]);
    assert_eq!(e.ingress.allowed_by[0].why, ["::/0 is the whole IPv6 internet"]);
}

#[test]
fn a_tier_reaches_itself_through_its_self_rules() {
    let e = ask(&view(), "edge", "edge", "5000/udp");
    assert!(e.allowed, "{e:#?}");
    assert_eq!(allowed_by(&e.egress), ["peers out"]);
    assert_eq!(allowed_by(&e.ingress), ["peers"]);
    assert_eq!(e.ingress.allowed_by[0].rule.peer, "self (tier edge)");
    assert!(e.notes[0].contains("self"), "{:?}", e.notes);
    let e = ask(&view(), "other", "other", "9000");
    assert!(
        !e.allowed,
        "no self rule: members of one group do not reach each other"
    );
}

#[test]
fn external_ends_have_one_side_to_check() {
    let e = ask(&view(), "edge", "sg-0123456789abcdef0", "8443");
    assert!(e.allowed && e.egress.checked && !e.ingress.checked);
    assert_eq!(allowed_by(&e.egress), ["to lb"]);
    assert!(
        e.ingress
            .note
            .as_deref()
            .unwrap()
            .contains("its own rules are outside this set")
    );
    let e = ask(&view(), "edge", "pl-0abc", "443");
    assert_eq!(allowed_by(&e.egress), ["to s3"]);
}

#[test]
fn peer_reasons() {
    let cases = [
        ("10.21.0.1", "10.21.0.1 is not within 10.20.0.0/16"),
        (
            "2001:db9::1",
            "10.20.0.0/16 is an IPv4 range, 2001:db9::1 is IPv6",
        ),
        (
            "internet",
            "10.20.0.0/16 is only part of the IPv4 internet (that takes 0.0.0.0/0)",
        ),
        (
            "sg-0123456789abcdef0",
            "10.20.0.0/16 holds group sg-0123456789abcdef0's addresses only if they lie in it: addresses are not in the rules",
        ),
    ];
    let view = view();
    for (from, want) in cases {
        let e = ask(&view, from, "edge", "22");
        let office = e
            .ingress
            .nearest
            .iter()
            .find(|v| v.rule.description.as_deref() == Some("office"));
        assert_eq!(office.unwrap().why.last().unwrap(), want, "{from}");
    }
}

#[test]
fn set_refs_match_only_live() {
    let e = ask(&view(), "sg-0123456789abcdef0", "other", "9000");
    let why = &e.ingress.nearest[0].why;
    assert_eq!(
        why,
        &["tier lb of set ns/shared: its group id is known only in AWS (--live reads it)"]
    );
}
