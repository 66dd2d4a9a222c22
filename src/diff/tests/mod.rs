//! Table tests of the diff: the seed set planned against an empty account, a converged one,
//! and one with drift; `converge` for the usual changes, `safety` for what must not cut traffic
//! or take what is not ours.

use super::*;
use crate::api::SecurityGroupSet;
use crate::model;

mod converge;
mod safety;

pub(super) fn desired() -> DesiredSet {
    let set: SecurityGroupSet = serde_saphyr::from_str(include_str!(
        "../../../examples/globalbank-prod-c001-us-west-2-sg.yaml"
    ))
    .unwrap();
    let mut set = set;
    set.metadata.name = Some("gb".into());
    set.metadata.namespace = Some("platform".into());
    model::plan(
        &model::validate(&set, &model::Limits::default()).unwrap(),
        "default",
    )
}

pub(super) fn inputs() -> Inputs {
    Inputs {
        vpc_id: "vpc-1".into(),
        ..Default::default()
    }
}

pub(super) fn tcp(port: i32) -> RuleMatch {
    RuleMatch {
        protocol: "tcp".into(),
        from_port: port,
        to_port: port,
    }
}

pub(super) fn rule(port: i32, peer: ConcretePeer, description: &str) -> Rule {
    Rule {
        traffic: tcp(port),
        peer,
        description: Some(description.into()),
    }
}

pub(super) fn group_peer(id: &str) -> ConcretePeer {
    ConcretePeer::Group(GroupRef::Existing(id.into()))
}

/// What AWS holds once the seed set has converged (ids sg-web, sg-app, sg-db).
pub(super) fn converged() -> Observed {
    let d = desired();
    let ids = [("web", "sg-web"), ("app", "sg-app"), ("db", "sg-db")];
    let groups = d
        .groups
        .iter()
        .zip(ids)
        .map(|(g, (_, id))| ObservedGroup {
            id: id.into(),
            name: g.name.clone(),
            vpc_id: "vpc-1".into(),
            description: g.description.clone(),
            tags: g.tags.clone(),
            ingress: vec![],
            egress: vec![],
        })
        .collect::<Vec<_>>();
    let mut observed = Observed {
        groups,
        ..Default::default()
    };
    let cidr = |c: &str| ConcretePeer::Cidr(c.into());
    observed.groups[0].ingress = vec![
        rule(443, cidr("0.0.0.0/0"), "HTTPS from the internet"),
        rule(80, cidr("0.0.0.0/0"), "HTTP from the internet"),
    ];
    observed.groups[0].egress = vec![
        rule(443, cidr("0.0.0.0/0"), "HTTPS out"),
        rule(8080, group_peer("sg-app"), "App tier"),
    ];
    observed.groups[1].ingress = vec![rule(8080, group_peer("sg-web"), "From the web tier")];
    observed.groups[1].egress = vec![rule(5432, group_peer("sg-db"), "PostgreSQL on the db tier")];
    observed.groups[2].ingress = vec![rule(5432, group_peer("sg-app"), "PostgreSQL from the app tier")];
    for (tier, id) in ids {
        let parameter = ObservedParameter {
            value: id.into(),
            tags: Some(d.group(tier).unwrap().tags.clone()),
        };
        observed
            .parameters
            .insert(model::parameter_name("gb", tier), parameter);
    }
    observed
}

/// A parameter's value as written by hand, tags as they were.
pub(super) fn set_value(observed: &mut Observed, tier: &str, value: &str) {
    let p = observed
        .parameters
        .get_mut(&model::parameter_name("gb", tier))
        .unwrap();
    p.value = value.into();
}

/// A rule of app's ingress from `shared/lb`, another set's tier.
pub(super) fn from_shared_lb() -> model::DesiredRule {
    model::DesiredRule {
        traffic: tcp(9000),
        peer: model::SymbolicPeer::SetRef {
            namespace: "platform".into(),
            name: "shared".into(),
            tier: "lb".into(),
        },
        description: None,
    }
}
