use super::*;

/// The set named `name` in `namespace`, validated then planned for `cluster`.
fn desired_of(mut set: SecurityGroupSet, name: &str, namespace: &str, cluster: &str) -> DesiredSet {
    set.metadata.name = Some(name.into());
    set.metadata.namespace = Some(namespace.into());
    plan(&validate(&set, &Limits::default()).expect("valid"), cluster)
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
