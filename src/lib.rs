//! sg-provisioner: converges AWS security groups to `SecurityGroupSet` resources.
//!
//! Layout: `api` (CRD types), `cli` (the binary's subcommands). The controller's stages
//! (`model`, `diff`, `aws`, `reconcile`) join as they are built.

pub mod api;
pub mod aws;
pub mod cli;
pub mod diff;
pub mod metrics;
pub mod model;
