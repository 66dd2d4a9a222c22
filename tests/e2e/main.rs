//! End-to-end tests against a real kube-apiserver and the AWS emulator (see `support`).

mod support;

mod adoption;
mod argocd;
mod assume_role;
mod configmap;
mod corpus;
mod crash;
mod crd;
mod create_update;
mod delete;
mod diagram_cli;
mod drift;
mod egress_and_quota;
mod emulator;
mod explain_cli;
mod explain_live;
mod failures;
mod fencing;
mod hostile;
mod iam;
mod image;
mod install;
mod install_dry_run;
mod leader;
mod observability;
mod observe_only;
mod pipeline;
mod plan_writes;
mod rbac;
mod references;
mod shared_view;
mod stalls;
mod undecodable;
