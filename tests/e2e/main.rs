//! End-to-end tests against a real kube-apiserver and the AWS emulator (see `support`).

mod support;

mod controller;
mod crd;
mod emulator;
