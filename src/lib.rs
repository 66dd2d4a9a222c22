//! sg-provisioner: converges AWS security groups to `SecurityGroupSet` resources.
//!
//! Layout: `api` (CRD types), `model` (pure: spec → desired groups and rules), `diff` (pure:
//! desired vs observed → actions), `aws` (thin SDK adapters, typed errors), `reconcile` (plan →
//! observe → diff → execute → status), `flows` (pure: which flows a set's rules allow, for
//! `explain` and `diagram`), `cli` (the binary's subcommands), `metrics`.

pub mod api;
pub mod audit;
pub mod aws;
pub mod cli;
pub mod diff;
pub mod flows;
pub mod limits;
pub mod metrics;
pub mod model;
pub mod reconcile;
