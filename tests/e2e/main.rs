//! End-to-end tests against a real kube-apiserver and the AWS emulator (see `support`).

mod support;

mod crd;
mod emulator;
