//! The graph of allowed flows: nodes, edges, labels, exposure.

use super::*;

fn edges(g: &Graph) -> Vec<(String, String, String, bool)> {
    g.edges
        .iter()
        .map(|e| (e.from.clone(), e.to.clone(), e.label.clone(), e.exposed))
        .collect()
}

fn e(from: &str, to: &str, label: &str, exposed: bool) -> (String, String, String, bool) {
    (from.into(), to.into(), label.into(), exposed)
}

#[test]
fn seed_graph() {
    let g = graph(&seed());
    let keys: Vec<_> = g.nodes.iter().map(|n| n.key.as_str()).collect();
    assert_eq!(keys, ["internet", "tier:app", "tier:db", "tier:web"]);
    assert_eq!(
        edges(&g),
        [
            e("internet", "tier:web", "tcp/80, tcp/443 (IPv4)", true),
            e("tier:app", "tier:db", "tcp/5432", false),
            e("tier:web", "internet", "tcp/443 (IPv4)", false),
            e("tier:web", "tier:app", "tcp/8080", false),
        ]
    );
}

#[test]
fn edges_need_both_halves_and_carry_the_common_traffic() {
    let view = view_of(&set_yaml(
        "[{name: a, egress: [
            {protocol: all, to: [{tier: b}]},
            {protocol: tcp, ports: 9000, to: [{tier: c}]},
            {protocol: tcp, ports: 22, to: [{cidr: 0.0.0.0/0}, {ipv6Cidr: '::/0'}]},
            {protocol: tcp, ports: 25, to: [{ipv6Cidr: '::/0'}]},
            {protocol: all, to: [{self: true}]}],
           ingress: [{protocol: all, from: [{self: true}]}, {protocol: udp, ports: 53, from: [{cidr: 10.0.0.0/8}]}]},
          {name: b, ingress: [
            {protocol: tcp, ports: 8000-8100, from: [{tier: a}]},
            {protocol: tcp, ports: 22, from: [{tier: a}]},
            {protocol: tcp, ports: 443, from: [{prefixListId: pl-0abc}, {securityGroupId: sg-0123456789abcdef0}]}]},
          {name: c, ingress: [{protocol: tcp, ports: 9001, from: [{tier: a}]}]}]",
    ));
    let g = graph(&view);
    assert_eq!(
        edges(&g),
        [
            e("cidr:10.0.0.0/8", "tier:a", "udp/53", false),
            e("pl:pl-0abc", "tier:b", "tcp/443", false),
            e("sg:sg-0123456789abcdef0", "tier:b", "tcp/443", false),
            e("tier:a", "internet", "tcp/22; tcp/25 (IPv6)", false),
            e("tier:a", "tier:a", "all", false),
            e("tier:a", "tier:b", "tcp/22, tcp/8000-8100", false),
        ],
        "a -> c has no common port: no edge"
    );
    let internet = g.nodes.iter().find(|n| n.kind == NodeKind::Internet).unwrap();
    assert_eq!(internet.detail.as_deref(), Some("0.0.0.0/0, ::/0"));
}

#[test]
fn live_tiers_show_their_group_ids() {
    let mut view = seed();
    view.tiers[0].group_id = Some("sg-0aaa".into());
    let g = graph(&view);
    let web = g.nodes.iter().find(|n| n.key == "tier:web").unwrap();
    assert_eq!(web.detail.as_deref(), Some("sg-0aaa"));
}
