//! Embeds the model file: `DDAEBM_MODEL` (a path, relative to this
//! package's folder or absolute) or, by default, the small committed
//! `model/default-f16.safetensors`. The file is copied to
//! `$OUT_DIR/model.safetensors`, which `src/main.rs` `include_bytes!`es.
//! Validates the file with the runtime and writes `SCRATCH_LEN`, the
//! scratch size it needs, to `$OUT_DIR/scratch_len.rs`. Also puts
//! `memory.x` where the linker finds it.

use std::{env, fs, path::PathBuf};

const DEFAULT_MODEL: &str = "model/default-f16.safetensors";

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));

    println!("cargo:rerun-if-env-changed=DDAEBM_MODEL");
    let model = match env::var_os("DDAEBM_MODEL") {
        Some(p) if !p.is_empty() => manifest.join(p), // join keeps absolute paths as they are
        _ => manifest.join(DEFAULT_MODEL),
    };
    println!("cargo:rerun-if-changed={}", model.display());
    let bytes = fs::read(&model).unwrap_or_else(|e| {
        panic!(
            "cannot read the model file {} ({e}); set DDAEBM_MODEL to a file written by `export`",
            model.display()
        )
    });
    // Validate the file with the runtime itself and size the scratch buffer for it.
    let loaded = ddaebm_runtime::Model::from_bytes(&bytes)
        .unwrap_or_else(|e| panic!("{} is not a usable model file: {e}", model.display()));
    fs::write(
        out.join("scratch_len.rs"),
        format!(
            "/// Scratch f32 values the embedded model needs (from build.rs).\nconst SCRATCH_LEN: usize = {};\n",
            loaded.scratch_len()
        ),
    )
    .expect("write OUT_DIR/scratch_len.rs");
    fs::write(out.join("model.safetensors"), &bytes).expect("write OUT_DIR/model.safetensors");
    // Only the file name goes into the firmware (logged at start-up).
    let name = model
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    println!("cargo:rustc-env=DDAEBM_MODEL_NAME={name}");

    // The board's memory map: DDAEBM_MEMORY (a file in ../common), by default
    // memory.x (QEMU's MPS2 boards AN385 / AN386 / AN500).
    println!("cargo:rerun-if-env-changed=DDAEBM_MEMORY");
    let memory = env::var("DDAEBM_MEMORY").unwrap_or_else(|_| "memory.x".to_string());
    fs::copy(manifest.join("../common").join(&memory), out.join("memory.x")).expect("copy the memory map");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=../common/{memory}");
    println!("cargo:rerun-if-changed=build.rs");
}
