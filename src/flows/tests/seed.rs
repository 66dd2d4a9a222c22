//! The seed's 3-tier questions (seed 000: web takes the internet, app takes web on 8080, db
//! takes app on PostgreSQL and has no egress).

use super::*;

#[test]
fn web_to_app_8080_is_allowed_by_the_named_rules_on_both_sides() {
    let e = ask(&seed(), "web", "app", "8080");
    assert!(e.allowed);
    assert_eq!(allowed_by(&e.egress), ["App tier"]);
    assert_eq!(allowed_by(&e.ingress), ["From the web tier"]);
    let egress = &e.egress.allowed_by[0].rule;
    assert_eq!(
        egress.origin.as_deref(),
        Some("spec.tiers[name=web].egress[1].to[0]")
    );
    assert_eq!(egress.summary(), "tcp/8080 to tier app");
    let ingress = &e.ingress.allowed_by[0].rule;
    assert_eq!(
        ingress.origin.as_deref(),
        Some("spec.tiers[name=app].ingress[0].from[0]")
    );
    assert!(e.notes.iter().any(|n| n.contains("stateful")), "{:?}", e.notes);
}

#[test]
fn internet_to_db_5432_is_denied_and_names_the_nearest_rule() {
    let e = ask(&seed(), "internet", "db", "5432");
    assert!(!e.allowed);
    assert!(!e.egress.checked, "the internet is not a tier: no egress side");
    assert!(e.egress.note.as_deref().unwrap().contains("outside this set"));
    assert!(!e.ingress.allowed);
    let near: Vec<_> = e.ingress.nearest.iter().map(|v| v.rule.summary()).collect();
    assert_eq!(near, ["tcp/5432 from tier app"]);
    let v = &e.ingress.nearest[0];
    assert!(v.traffic_matches && !v.peer_matches, "right port, wrong peer");
    assert_eq!(v.why, ["members of tier app's group only, not the internet"]);
}

#[test]
fn app_to_db_5432_is_allowed() {
    let e = ask(&seed(), "app", "db", "5432/tcp");
    assert!(e.allowed);
    assert_eq!(allowed_by(&e.egress), ["PostgreSQL on the db tier"]);
    assert_eq!(allowed_by(&e.ingress), ["PostgreSQL from the app tier"]);
}

#[test]
fn seed_questions_table() {
    // (from, to, traffic, allowed, egress allowed, ingress allowed)
    let cases = [
        ("internet", "web", "443", true, true, true),
        ("internet", "web", "80", true, true, true),
        ("internet", "web", "22", false, true, false),
        ("web", "app", "8081", false, false, false),
        ("web", "app", "8080/udp", false, false, false),
        ("web", "db", "5432", false, false, false),
        ("db", "internet", "443", false, false, true),
        ("db", "app", "5432", false, false, false),
        ("app", "web", "8080", false, false, false),
        // web may send 443 anywhere (0.0.0.0/0 holds app's addresses too), app takes no 443.
        ("web", "app", "443", false, true, false),
        ("web", "93.184.216.34", "443", true, true, true),
        ("web", "2001:db8::1", "443", false, false, true),
    ];
    let view = seed();
    for (from, to, traffic, allowed, egress, ingress) in cases {
        let e = ask(&view, from, to, traffic);
        let got = (e.allowed, e.egress.allowed, e.ingress.allowed);
        assert_eq!(
            got,
            (allowed, egress, ingress),
            "{from} -> {to} {traffic}: {e:#?}"
        );
    }
}

#[test]
fn internet_flows_say_which_family_is_open() {
    let e = ask(&seed(), "internet", "web", "443");
    assert_eq!(e.families, [Family::V4], "the seed opens 0.0.0.0/0 only");
    let e = ask(&seed(), "web", "internet", "443");
    assert!(e.allowed && !e.ingress.checked);
    assert_eq!(e.families, [Family::V4]);
}

#[test]
fn a_side_without_rules_says_so() {
    let e = ask(&seed(), "db", "app", "8080");
    assert_eq!(
        e.egress.note.as_deref(),
        Some("tier db has no egress rules: it allows no egress traffic")
    );
    assert!(e.egress.nearest.is_empty());
}

#[test]
fn far_rules_are_shown_when_none_is_near() {
    let e = ask(&seed(), "192.0.2.1", "web", "22");
    assert!(!e.allowed);
    // Both web ingress rules match the peer (0.0.0.0/0 holds the address) but not port 22.
    let near: Vec<_> = e.ingress.nearest.iter().map(|v| v.rule.summary()).collect();
    assert_eq!(near, ["tcp/443 from 0.0.0.0/0", "tcp/80 from 0.0.0.0/0"]);
    assert_eq!(e.ingress.nearest[0].why[0], "port 443, the flow's is 22");
    let e = ask(&seed(), "2001:db8::1", "app", "22");
    let v = &e.ingress.nearest[0];
    assert!(
        !v.traffic_matches && !v.peer_matches,
        "nothing near: the first rules, both reasons"
    );
    assert_eq!(v.why.len(), 2);
}

#[test]
fn neither_end_a_tier_is_an_error() {
    let view = seed();
    let q = Query {
        from: Endpoint::Internet,
        to: Endpoint::parse("10.0.0.1", &view).unwrap(),
        probe: Probe::parse("443").unwrap(),
    };
    let err = explain(&view, &q).unwrap_err();
    assert!(err.contains("neither"), "{err}");
}
