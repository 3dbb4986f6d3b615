//! Puts the memory map where the start-up crate's `link.x` finds it, as
//! `$OUT_DIR/memory.x`: `../common/memory.x` (the M4F's, used for every
//! Cortex-M family; this firmware is only linked, never run) or, for RISC-V,
//! `../common/memory-riscv-virt.x` (riscv-rt needs its region aliases). (No
//! `memory.x` in this folder: the linker would take it before `$OUT_DIR`'s.)
fn main() {
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let memory = match std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("riscv32") => "../common/memory-riscv-virt.x",
        _ => "../common/memory.x",
    };
    std::fs::copy(memory, out.join("memory.x")).unwrap_or_else(|e| panic!("copy {memory} ({e})"));
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={memory}");
}
