//! Embeds every `*.safetensors` file of `DDAEBM_REPLAY_DIR` (default
//! `../../runtime/fuzz/replay`), in file-name order, as one blob: for each
//! file a little-endian u32 length, then its bytes, padded to 8 bytes (so
//! every file starts 8-byte aligned, as `export`'s files expect to be).
//! Also puts `memory.x` (QEMU virt) where the linker finds it.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-env-changed=DDAEBM_REPLAY_DIR");
    let dir = match env::var_os("DDAEBM_REPLAY_DIR") {
        Some(p) if !p.is_empty() => manifest.join(p),
        _ => manifest.join("../../runtime/fuzz/replay"),
    };
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {} ({e}); set DDAEBM_REPLAY_DIR", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .collect();
    files.sort();
    let mut blob = Vec::new();
    for f in &files {
        let bytes = fs::read(f).unwrap_or_else(|e| panic!("cannot read {} ({e})", f.display()));
        blob.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        blob.extend_from_slice(&[0; 4]); // the file starts 8-byte aligned
        blob.extend_from_slice(&bytes);
        while blob.len() % 8 != 0 {
            blob.push(0);
        }
    }
    fs::write(out.join("replay.bin"), &blob).expect("write OUT_DIR/replay.bin");
    fs::copy(manifest.join("memory.x"), out.join("memory.x")).expect("copy memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
}
