//! Sets `cfg(ddaebm_dsp)` on Armv7E-M targets (`thumbv7em-*`), which always
//! have the DSP extension (SMLAD, SXTB16) used by the int8 kernel. Stable
//! Rust does not set `cfg(target_feature = "dsp")` for Arm targets, so the
//! target name is the reliable signal.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(ddaebm_dsp)");
    println!("cargo:rerun-if-env-changed=TARGET");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("thumbv7em-") {
        println!("cargo:rustc-cfg=ddaebm_dsp");
    }
}
