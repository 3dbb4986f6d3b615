//! Sets the short cfg names the runtime's per-target code is chosen by
//! (heapless's model: decided once here, not spelled out at every use):
//!
//! * `ddaebm_fpu`: bare-metal hard-float Arm (`target_arch = "arm"`,
//!   `target_os = "none"`, `target_abi = "eabihf"`: Cortex-M4F, M7, M33,
//!   M55): the FPU float loops (`kernels/fpu.rs`), `VCVTB` for f16 and
//!   `VSQRT` in the RNG.
//! * `ddaebm_dsp`: those of them with the DSP extension (SMLAD, SXTB16) for
//!   the int8 kernel (`kernels/dsp.rs`; its per-row scaling runs in the same
//!   asm block, so it needs the FPU too): every `thumbv7em-*-eabihf` target,
//!   and `thumbv8m.main-*-eabihf` built for a core that has it
//!   (`-C target-cpu=cortex-m33` or `cortex-m35p`).
//! * `ddaebm_mve`: `thumbv8m.main-*-eabihf` built for a core with Helium
//!   (`-C target-cpu=cortex-m55` or `cortex-m85`; rustc has no
//!   `thumbv8.1m` target): the int8 dot products in `kernels/mve.rs`,
//!   instead of the DSP path.
//!   Stable Rust does not set `cfg(target_feature = "dsp")` for Arm targets,
//!   so the target name and the target CPU are the signal. Other targets take
//!   the portable int8 path (`kernels/portable.rs`).
//! * `ddaebm_avx512`: x86-64 with a compiler that has the AVX-512
//!   intrinsics (Rust 1.89 or later): the AVX-512 + VNNI int8 batch kernel
//!   in `kernels/x86.rs`, used when the CPU has those features (detected at
//!   run time).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(ddaebm_avx512)");
    println!("cargo::rustc-check-cfg=cfg(ddaebm_fpu)");
    println!("cargo::rustc-check-cfg=cfg(ddaebm_dsp)");
    println!("cargo::rustc-check-cfg=cfg(ddaebm_mve)");
    println!("cargo:rerun-if-env-changed=TARGET");
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    // `ddaebm_avx512`: x86-64 built by a compiler with the AVX-512
    // intrinsics (stable from Rust 1.89; the crate builds from 1.85): the
    // host's AVX-512 + VNNI int8 batch kernel (`kernels/x86.rs`), chosen at
    // run time when the CPU has it.
    if var("CARGO_CFG_TARGET_ARCH") == "x86_64" && rustc_minor(&var("RUSTC")) >= 89 {
        println!("cargo:rustc-cfg=ddaebm_avx512");
    }
    let target = var("TARGET");
    let fpu = var("CARGO_CFG_TARGET_ARCH") == "arm"
        && var("CARGO_CFG_TARGET_OS") == "none"
        && var("CARGO_CFG_TARGET_ABI") == "eabihf";
    if fpu {
        println!("cargo:rustc-cfg=ddaebm_fpu");
    }
    // The target CPU from the rustflags (`-C target-cpu=NAME`, `-Ctarget-cpu=NAME`).
    let flags = var("CARGO_ENCODED_RUSTFLAGS");
    let cpu = flags.split('\x1f').filter_map(|f| f.trim_start_matches("-C").strip_prefix("target-cpu=")).next_back();
    let v8m = fpu && target.starts_with("thumbv8m.main-");
    let mve = v8m && matches!(cpu, Some("cortex-m55" | "cortex-m85"));
    let v8m_dsp = matches!(cpu, Some("cortex-m33" | "cortex-m35p"));
    if mve {
        println!("cargo:rustc-cfg=ddaebm_mve");
    } else if fpu && (target.starts_with("thumbv7em-") || (v8m && v8m_dsp)) {
        println!("cargo:rustc-cfg=ddaebm_dsp");
    }
}

/// The minor version of the compiler at `rustc` (`rustc 1.MINOR.…`; 0 when
/// it cannot be read, which leaves the newer-compiler code out).
fn rustc_minor(rustc: &str) -> u32 {
    let rustc = if rustc.is_empty() { "rustc" } else { rustc };
    std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| v.split_whitespace().nth(1).and_then(|n| n.split('.').nth(1)).and_then(|m| m.parse().ok()))
        .unwrap_or(0)
}
