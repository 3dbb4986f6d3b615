//! Sets `cfg(ddaebm_dsp)` on hard-float Armv7E-M targets
//! (`thumbv7em-*-eabihf`), which always have the DSP extension (SMLAD,
//! SXTB16) used by the int8 kernel and an FPU (its per-row scaling runs in
//! the same asm block). Stable Rust does not set `cfg(target_feature = "dsp")`
//! for Arm targets, so the target name is the reliable signal. Soft-float
//! Armv7E-M targets take the portable int8 path.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(ddaebm_dsp)");
    println!("cargo:rerun-if-env-changed=TARGET");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("thumbv7em-") && target.ends_with("eabihf") {
        println!("cargo:rustc-cfg=ddaebm_dsp");
    }
}
