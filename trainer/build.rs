//! Bakes libtorch's library folder into the rpath of every binary of the
//! package (the `trainer` binary, tests, examples), so that users need no
//! `LD_LIBRARY_PATH`. `LIBTORCH` is set by `.cargo/config.toml` to the
//! `.libtorch` link that `scripts/setup-libtorch.sh` makes.
fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let Ok(dir) = std::env::var("LIBTORCH") {
        let lib = std::path::Path::new(&dir).join("lib");
        let lib = lib.canonicalize().unwrap_or(lib);
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    }
}
