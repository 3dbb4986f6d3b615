//! Embeds every `*.safetensors` file of `DDAEBM_REPLAY_DIR` (default
//! `../../runtime/fuzz/replay`), in file-name order, as one blob
//! (`../common/replay_files.rs`), and puts the board's memory map
//! (`DDAEBM_MEMORY`, a file in `../common`, default `memory.x`: QEMU MPS2)
//! where the linker finds it, as `memory.x`.

use std::{env, fs, path::PathBuf};

#[path = "../common/replay_files.rs"]
mod replay_files;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-env-changed=DDAEBM_REPLAY_DIR");
    let dir = match env::var_os("DDAEBM_REPLAY_DIR") {
        Some(p) if !p.is_empty() => manifest.join(p),
        _ => manifest.join("../../runtime/fuzz/replay"),
    };
    println!("cargo:rerun-if-changed={}", dir.display());
    let blob = replay_files::replay_files(&dir)
        .and_then(|files| replay_files::blob(&files))
        .unwrap_or_else(|e| panic!("cannot read the model files of {} ({e}); set DDAEBM_REPLAY_DIR", dir.display()));
    fs::write(out.join("replay.bin"), &blob).expect("write OUT_DIR/replay.bin");
    println!("cargo:rerun-if-env-changed=DDAEBM_MEMORY");
    let memory = env::var("DDAEBM_MEMORY").unwrap_or_else(|_| "memory.x".to_string());
    let memory = manifest.join("../common").join(memory);
    fs::copy(&memory, out.join("memory.x")).unwrap_or_else(|e| panic!("copy {} ({e})", memory.display()));
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={}", memory.display());
    println!("cargo:rerun-if-changed=../common/replay_files.rs");
    println!("cargo:rerun-if-changed=build.rs");
}
