//! Unit tests of the model, by behaviour: `rule_match` (traffic to AWS's protocol and ports),
//! `plan` (a valid set to the desired groups), `validation` (set- and field-level refusals) and
//! `traffic_validation` (the per-rule traffic and peer table). The seed example is shared here.

use super::*;
use crate::api::SecurityGroupSet;

mod plan;
mod rule_match;
mod traffic_validation;
mod validation;

fn seed() -> SecurityGroupSet {
    serde_saphyr::from_str(include_str!(
        "../../../examples/globalbank-prod-c001-us-west-2-sg.yaml"
    ))
    .unwrap()
}
