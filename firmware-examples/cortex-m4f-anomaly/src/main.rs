//! DDAEBM on a Cortex-M4F: loads the embedded model file without a heap,
//! scores a fixed stream of 2-D readings against a threshold and draws a few
//! samples, logging everything with defmt over semihosting, then exits QEMU
//! with status 0. A panic or a HardFault exits with a non-zero status.
//!
//! Every result is also logged as a `cmp` line holding only the raw f32 bits,
//! which `scripts/firmware.sh --check` compares with `../host-check`.

#![no_std]
#![no_main]
#![cfg_attr(
    any(feature = "fail-panic", feature = "fail-hardfault", feature = "measure"),
    allow(unreachable_code, unused_variables)
)]

use ddaebm_runtime::{Model, Rng};

/// `#[entry]`, `singleton!` and the defmt logger of this architecture.
#[path = "../../common/rt.rs"]
mod rt;
use rt::{entry, singleton};

mod cases;
use cases::{threshold, verdict, NORMAL_POINTS, POINTS, SAMPLES, SEED_BASE};

/// The model file, chosen at build time (`DDAEBM_MODEL`, see build.rs),
/// placed at an 8-byte aligned address: the runtime reads any alignment, but
/// its fastest MCU loops (`VLDM` of eight F32 / F16 weights) need 4-byte
/// aligned weight rows, which `export`'s files give when the file itself
/// starts aligned (its data buffer and F32 / F16 tensors sit at multiples
/// of 8 / 4 bytes).
static MODEL: &[u8] = {
    #[repr(C, align(8))]
    struct Aligned<T: ?Sized>(T);
    static ALIGNED: &Aligned<[u8]> = &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/model.safetensors")));
    &ALIGNED.0
};

// `SCRATCH_LEN`: exactly `model.scratch_len()` of the embedded model
// (= `scratch_len_for(D, nz, max width)`), computed by build.rs with the
// runtime itself, so the buffer fits whatever model is embedded. It is still
// checked at start-up.
include!(concat!(env!("OUT_DIR"), "/scratch_len.rs"));

#[entry]
fn main() -> ! {
    stack::paint();

    // A `static` buffer in .bss (no heap, not on the stack), taken once.
    let scratch: &'static mut [f32; SCRATCH_LEN] = singleton!(: [f32; SCRATCH_LEN] = [0.0; SCRATCH_LEN]).unwrap();

    #[cfg(feature = "fail-panic")]
    panic!("fail-panic feature: testing the panic exit path");
    #[cfg(all(feature = "fail-hardfault", target_arch = "arm"))]
    cortex_m::asm::udf(); // UsageFault, escalated to HardFault
    #[cfg(all(feature = "fail-hardfault", target_arch = "riscv32"))]
    // SAFETY: `unimp` is an illegal instruction: it traps to the exception
    // handler of ../common/exit.rs, which exits; nothing runs after it.
    unsafe {
        core::arch::asm!("unimp")
    };

    let model = match Model::from_bytes(MODEL) {
        Ok(m) => m,
        Err(e) => fail_with(e, "cannot load the embedded model file"),
    };
    defmt::info!(
        "model {=str}: {=usize} bytes, D = {=usize}, nz = {=usize}, T = {=usize}, weights {}, max width {=usize}, scratch {=usize} of {=usize} f32",
        env!("DDAEBM_MODEL_NAME"),
        MODEL.len(),
        model.data_dim(),
        model.nz(),
        model.steps(),
        model.weight_dtype(),
        model.max_width(),
        model.scratch_len(),
        SCRATCH_LEN
    );
    if model.data_dim() != 2 {
        defmt::error!("this example scores 2-D readings; the model has D = {=usize}", model.data_dim());
        exit(false);
    }
    if model.scratch_len() > SCRATCH_LEN {
        defmt::error!(
            "the model needs {=usize} scratch f32, the firmware has {=usize}: rebuild (build.rs sizes it from the model)",
            model.scratch_len(),
            SCRATCH_LEN
        );
        exit(false);
    }
    let scratch = &mut scratch[..model.scratch_len()];

    #[cfg(feature = "measure")]
    measure::run(&model, scratch);

    // Anomaly scores: −f(x, 0), higher is more anomalous.
    let threshold = threshold(model.threshold());
    defmt::info!(
        "threshold {=f32} (bits {=u32:#010x}, {=str})",
        threshold,
        threshold.to_bits(),
        if model.is_calibrated() {
            "calibrated: from the model file"
        } else {
            "fallback: the model file has no calibration"
        }
    );
    let mut flagged = 0usize;
    for (k, x) in POINTS.iter().enumerate() {
        let score = match model.anomaly_score(x, scratch) {
            Ok(s) => s,
            Err(e) => fail_with(e, "anomaly_score failed"),
        };
        let v = verdict(score, threshold);
        flagged += (v != "normal") as usize;
        defmt::info!(
            "score {=usize} x = ({=f32}, {=f32}) score = {=f32} -> {=str} (expected {=str})",
            k,
            x[0],
            x[1],
            score,
            v,
            if k < NORMAL_POINTS { "normal" } else { "anomaly" }
        );
        defmt::info!(
            "cmp score {=usize} {=u32:08x} {=u32:08x} {=u32:08x} {=str}",
            k,
            x[0].to_bits(),
            x[1].to_bits(),
            score.to_bits(),
            v
        );
    }
    defmt::info!("{=usize} of {=usize} readings flagged as anomalous", flagged, POINTS.len());

    // Samples from the T-step sampler, raw units, one seed each.
    for k in 0..SAMPLES {
        let seed = SEED_BASE + k;
        let mut s = [0.0f32; 2];
        if let Err(e) = model.sample(&mut Rng::new(seed), &mut s, scratch) {
            fail_with(e, "sample failed");
        }
        defmt::info!("sample seed {=u64} = ({=f32}, {=f32})", seed, s[0], s[1]);
        defmt::info!("cmp sample {=u64} {=u32:08x} {=u32:08x}", seed, s[0].to_bits(), s[1].to_bits());
    }

    defmt::info!("stack high-water mark: {=usize} bytes", stack::used());
    defmt::info!("done");
    exit(true)
}

/// The `measure` build (scripts/firmware-report.sh counts the instructions
/// QEMU executes between the markers): one empty marker pair (the overhead of
/// the markers themselves), one `anomaly_score`, one `sample`.
#[cfg(feature = "measure")]
mod measure {
    use core::hint::black_box;
    use ddaebm_runtime::{Model, Rng};

    use crate::markers::{ddaebm_marker_begin, ddaebm_marker_end};

    pub fn run(model: &Model<'_>, scratch: &mut [f32]) -> ! {
        // Region 0: nothing (marker overhead, subtracted by the report).
        ddaebm_marker_begin();
        ddaebm_marker_end();

        // Region 1: one energy evaluation.
        let x = black_box(crate::cases::POINTS[0]);
        ddaebm_marker_begin();
        let score = model.anomaly_score(&x, scratch);
        ddaebm_marker_end();
        let score = match score {
            Ok(s) => s,
            Err(e) => crate::fail_with(e, "anomaly_score failed"),
        };

        // Region 2: one full sample (T generator steps).
        let mut rng = Rng::new(black_box(crate::cases::SEED_BASE));
        let mut s = [0.0f32; 2];
        ddaebm_marker_begin();
        let r = model.sample(&mut rng, &mut s, scratch);
        ddaebm_marker_end();
        if let Err(e) = r {
            crate::fail_with(e, "sample failed");
        }

        defmt::info!("measure score = {=f32}", score);
        defmt::info!("measure sample = ({=f32}, {=f32})", s[0], s[1]);
        defmt::info!("stack high-water mark: {=usize} bytes", crate::stack::used());
        defmt::info!("measure done");
        crate::exit(true)
    }
}

/// The measured-region markers (shared with the stream example).
#[cfg(feature = "measure")]
#[path = "../../common/markers.rs"]
mod markers;

/// Stack high-water mark (shared with the stream example).
#[path = "../../common/stack.rs"]
mod stack;

fn fail_with(e: ddaebm_runtime::Error, what: &str) -> ! {
    defmt::error!("{=str}: {}", what, e);
    exit(false)
}

/// `exit`, the panic and fault handlers (shared with the other examples).
#[path = "../../common/exit.rs"]
mod exit;
use exit::exit;

// defmt requires a panic hook for its `panic!`/`unwrap!` macros.
#[defmt::panic_handler]
fn defmt_panic() -> ! {
    exit(false)
}
