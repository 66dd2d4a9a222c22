# syntax=docker/dockerfile:1
# The controller image: a static (musl) release binary on distroless "static", non-root, no shell.
#   docker build -t sg-provisioner:0.1.0 .
# The build stage runs deploy/build-static, the script CI runs too (tests/tools/check-image);
# see docs/install.md ("Container image") for what CI can and cannot check without a Docker engine.

ARG RUST_VERSION=1.95.0

FROM docker.io/library/rust:${RUST_VERSION}-slim-bookworm AS build
# musl-gcc compiles the C parts (aws-lc-sys) for the musl target; rustup adds the target's std.
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools=1.2.3-1 \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add x86_64-unknown-linux-musl
ENV CC_x86_64_unknown_linux_musl=musl-gcc \
    CARGO_TARGET_DIR=/target
WORKDIR /src
# rust-toolchain.toml stays out: the image's toolchain is the pinned one (RUST_VERSION), and the
# file's rustfmt/clippy components are not needed to build.
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY crds ./crds
COPY deploy/build-static ./deploy/build-static
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/target \
    bash deploy/build-static x86_64-unknown-linux-musl /out/sg-provisioner \
    && /out/sg-provisioner --version

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sg-provisioner /sg-provisioner
# distroless "nonroot": uid/gid 65532; the chart runs the pod as the same numeric user.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/sg-provisioner"]
CMD ["run"]
