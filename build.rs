//! Packs the binary's relative relocations (RELR, `-z pack-relative-relocs`) on glibc targets:
//! a position-independent binary otherwise carries ~2 MiB of `.rela.dyn` that the loader reads
//! at every start, and those pages count as resident memory. glibc 2.36 and binutils 2.38 read
//! and write RELR; musl before 1.2.4 (the image's) does not, and a static glibc link
//! (`crt-static`) is left as it is.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let static_link = features.split(',').any(|f| f == "crt-static");
    if env == "gnu" && !static_link {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
