//! Unit tests of flows, by behaviour: `seed` (the seed's 3-tier questions), `peers` (CIDRs,
//! IPv6, prefix lists, groups, self), `traffic` (protocols, ranges, ICMP), `parse` (endpoints
//! and PORT/PROTO), `exposure`, `graph` and `view` (desired and observed into one view).

use super::*;
use crate::api::SecurityGroupSet;
use crate::model::{self, Limits};

mod exposure;
mod graph;
mod parse;
mod peers;
mod seed;
mod traffic;
mod view;

const SEED: &str = include_str!("../../../examples/globalbank-prod-c001-us-west-2-sg.yaml");

/// The view of a set written as YAML (validated as the CLI does).
fn view_of(yaml: &str) -> FlowView {
    let set: SecurityGroupSet = serde_saphyr::from_str(yaml).unwrap();
    let valid = model::validate(&set, &Limits::default()).expect("valid set");
    FlowView::from_desired(&model::plan(&valid, "default"), Some(&set.spec))
}

fn seed() -> FlowView {
    view_of(SEED)
}

/// A set named `t` in namespace `ns` with these tiers (YAML flow style).
fn set_yaml(tiers: &str) -> String {
    format!(
        "apiVersion: sgprovisioner.io/v1alpha1\nkind: SecurityGroupSet\nmetadata: {{name: t, namespace: ns}}\n\
         spec:\n  vpc: {{id: vpc-0abc1234}}\n  allowPublicRiskyPorts: true\n  tiers: {tiers}\n"
    )
}

/// `explain` on the view, the ends and traffic parsed as the CLI does.
fn ask(view: &FlowView, from: &str, to: &str, traffic: &str) -> Explanation {
    let query = Query {
        from: Endpoint::parse(from, view).unwrap(),
        to: Endpoint::parse(to, view).unwrap(),
        probe: Probe::parse(traffic).unwrap(),
    };
    explain(view, &query).unwrap()
}

/// The descriptions (else summaries) of the rules that allow the flow, per side.
fn allowed_by(side: &Side) -> Vec<String> {
    side.allowed_by
        .iter()
        .map(|v| v.rule.description.clone().unwrap_or_else(|| v.rule.summary()))
        .collect()
}
