//! End-to-end tests against a real kube-apiserver and the AWS emulator (see `support`).

mod support;

mod argocd;
mod controller;
mod corpus;
mod crd;
mod emulator;
mod iam;
mod image;
mod install;
mod leader;
mod pipeline;
mod rbac;
