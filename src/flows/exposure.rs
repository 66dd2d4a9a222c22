//! What the internet reaches: every ingress rule whose CIDR is 0.0.0.0/0 or ::/0, with the
//! risky ports it opens (the audit's list).

use serde::Serialize;

use super::{Family, FlowView, RulePeer, RuleRef};
use crate::audit::{risky_port_name, risky_ports};
use crate::model::Direction;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RiskyPort {
    pub port: i32,
    pub name: &'static str,
}

/// One ingress rule open to the whole internet of a family.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Exposure {
    #[serde(flatten)]
    pub rule: RuleRef,
    pub family: Family,
    /// Risky ports the rule opens (a port, a range holding it, or protocol all).
    pub risky: Vec<RiskyPort>,
}

/// Every ingress rule from 0.0.0.0/0 or ::/0, in the set's tier order and each tier's rule order.
pub fn exposed(view: &FlowView) -> Vec<Exposure> {
    let mut out = Vec::new();
    for tier in &view.tiers {
        for rule in &tier.ingress {
            let RulePeer::Cidr(net) = &rule.peer else {
                continue;
            };
            if !net.is_world() {
                continue;
            }
            out.push(Exposure {
                rule: RuleRef::of(tier, Direction::Ingress, rule),
                family: net.family(),
                risky: risky_ports(&rule.traffic)
                    .into_iter()
                    .map(|port| RiskyPort {
                        port,
                        name: risky_port_name(port),
                    })
                    .collect(),
            });
        }
    }
    out
}
