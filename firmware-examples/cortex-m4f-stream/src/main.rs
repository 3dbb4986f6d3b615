//! DDAEBM streaming anomaly detection on a Cortex-M4F: a real, labelled
//! physiological series (UCR anomaly archive #135, embedded in flash by
//! build.rs) is fed one sample at a time, as an ADC interrupt would, through
//! the runtime's window scorer; every due window is scored with the int8
//! model, flagged against the model file's calibrated threshold, and also
//! against a threshold learned on the device from its first
//! [`FIELD_WINDOWS`] windows (field calibration). Alarms are logged with
//! defmt over semihosting; at the end, the events found and the false
//! alarms of both thresholds, and the stack high-water mark. QEMU then exits
//! with status 0 (non-zero on an error, panic or HardFault).
//!
//! Every window is also logged as a `cmp` line (window index, score bits,
//! alarm) that `scripts/stream-firmware.sh --check` compares with
//! `export score` on the host, bit for bit.

#![no_std]
#![no_main]
#![cfg_attr(feature = "measure", allow(unreachable_code, unused_variables, unused_mut))]

use ddaebm_runtime::{FieldCalibration, Model, WindowScorer};

/// `#[entry]`, `singleton!` and the defmt logger of this architecture.
#[path = "../../common/rt.rs"]
mod rt;
use rt::{entry, singleton};

// SCRATCH_LEN, WINDOW_VALUES, CHANNELS, ROWS, FIRST_ROW, EVENTS, MODEL_NAME,
// SERIES_NAME: from build.rs, for the embedded model and series.
include!(concat!(env!("OUT_DIR"), "/stream.rs"));

/// Field calibration: the device learns its alarm threshold as this
/// quantile of the scores of its first [`FIELD_WINDOWS`] windows (one false
/// alarm per thousand normal windows, if later windows look like them).
const FIELD_LEVEL: f32 = 0.999;
/// Windows of normal operation the field calibration learns from.
const FIELD_WINDOWS: u32 = 1000;

/// The model file, 8-byte aligned (the runtime reads any alignment; its
/// fastest loops need 4-byte aligned weight rows, which `export`'s files
/// give when the file starts aligned).
static MODEL: &[u8] = {
    #[repr(C, align(8))]
    struct Aligned<T: ?Sized>(T);
    static ALIGNED: &Aligned<[u8]> = &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/model.safetensors")));
    &ALIGNED.0
};

/// The streamed samples: `ROWS × CHANNELS` f32, little-endian.
static SERIES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/series.bin"));

/// What an ADC read returns in this example: sample `row` of the series, in
/// raw units (a real board converts its ADC counts to the training units
/// here).
fn adc_read(row: usize, sample: &mut [f32; CHANNELS]) {
    for (c, v) in sample.iter_mut().enumerate() {
        let at = (row * CHANNELS + c) * 4;
        *v = match SERIES.get(at..at + 4).and_then(|b| b.try_into().ok()) {
            Some(b) => f32::from_le_bytes(b),
            None => f32::NAN, // past the end: never asked for (row < ROWS)
        };
    }
}

/// Detection tally of one threshold.
#[derive(Default)]
struct Tally {
    /// Windows above the threshold.
    alarms: u32,
    /// Of them, windows that hold no labelled sample.
    false_alarms: u32,
    /// Runs of consecutive false-alarm windows.
    false_episodes: u32,
    /// Whether the last window was a false alarm.
    in_false: bool,
    /// Whether each labelled event had an alarm window that overlaps it.
    found: [bool; EVENTS.len()],
}

impl Tally {
    fn add(&mut self, alarm: bool, start: usize, end: usize) {
        let mut labelled = false;
        for (k, &(a, b)) in EVENTS.iter().enumerate() {
            if start < b && a < end {
                labelled = true;
                self.found[k] |= alarm;
            }
        }
        let false_alarm = alarm && !labelled;
        self.alarms += alarm as u32;
        self.false_alarms += false_alarm as u32;
        self.false_episodes += (false_alarm && !self.in_false) as u32;
        self.in_false = false_alarm;
    }

    fn events_found(&self) -> usize {
        self.found.iter().filter(|&&f| f).count()
    }
}

#[entry]
fn main() -> ! {
    stack::paint();

    // `static` buffers in .bss (no heap, not on the stack), each taken once.
    let scratch: &'static mut [f32; SCRATCH_LEN] = singleton!(: [f32; SCRATCH_LEN] = [0.0; SCRATCH_LEN]).unwrap();

    let model = match Model::from_bytes(MODEL) {
        Ok(m) => m,
        Err(e) => fail_with(e, "cannot load the embedded model file"),
    };
    let scorer = match WindowScorer::<WINDOW_VALUES>::for_model(&model) {
        Ok(s) => s,
        Err(e) => fail_with(e, "the model's window does not fit this firmware"),
    };
    let scorer: &'static mut WindowScorer<WINDOW_VALUES> = singleton!(: WindowScorer<WINDOW_VALUES> = scorer).unwrap();
    let shape = scorer.shape();
    let Some(threshold) = model.threshold() else {
        defmt::error!("the model file has no calibrated threshold: export it with --calibrate");
        exit(false)
    };
    let mut field = match FieldCalibration::new(FIELD_LEVEL, FIELD_WINDOWS) {
        Ok(f) => f,
        Err(e) => fail_with(e, "field calibration"),
    };
    defmt::info!(
        "model {=str}: {=usize} bytes, weights {}, D = {=usize}: windows of {=usize} samples x {=usize} channel(s), one every {=usize} sample(s); scratch {=usize} f32",
        MODEL_NAME,
        MODEL.len(),
        model.weight_dtype(),
        model.data_dim(),
        shape.window,
        shape.channels,
        shape.stride,
        SCRATCH_LEN
    );
    defmt::info!(
        "series {=str}: streaming rows {=usize}..{=usize} ({=usize} samples), {=usize} labelled event(s)",
        SERIES_NAME,
        FIRST_ROW,
        FIRST_ROW + ROWS,
        ROWS,
        EVENTS.len()
    );
    for &(a, b) in EVENTS.iter() {
        defmt::info!("labelled event: rows {=usize}..{=usize}", FIRST_ROW + a, FIRST_ROW + b);
    }
    defmt::info!(
        "threshold {=f32} (calibrated, from the model file); field calibration: the {=f32} quantile of the first {=u32} windows",
        threshold,
        FIELD_LEVEL,
        FIELD_WINDOWS
    );
    let scratch = &mut scratch[..model.scratch_len()];

    #[cfg(feature = "measure")]
    measure::run(&model, scorer, &mut field, scratch);

    let mut file = Tally::default();
    let mut learned = Tally::default();
    let mut sample = [0.0f32; CHANNELS];
    for row in 0..ROWS {
        adc_read(row, &mut sample);
        let score = match scorer.push_score(&model, &sample, scratch) {
            Ok(None) => continue,
            Ok(Some(score)) => score,
            Err(e) => fail_with(e, "scoring a window failed"),
        };
        // Window k holds samples [k·stride, k·stride + window).
        let k = (scorer.windows() - 1) as usize;
        let (start, end) = (k * shape.stride, k * shape.stride + shape.window);
        let alarm = score > threshold;
        file.add(alarm, start, end);
        defmt::info!("cmp w {=usize} {=u32:08x} {=u8}", k, score.to_bits(), alarm as u8);
        if alarm {
            defmt::warn!(
                "ALARM window {=usize} (rows {=usize}..{=usize}): score {=f32} > {=f32}",
                k,
                FIRST_ROW + start,
                FIRST_ROW + end,
                score,
                threshold
            );
        }
        // Field calibration: learn from the first windows, then flag with
        // the learned threshold.
        match field.learned_threshold() {
            None => {
                if let Err(e) = field.observe(score) {
                    fail_with(e, "field calibration");
                }
                if let Some(t) = field.learned_threshold() {
                    defmt::info!(
                        "field calibration done after {=u32} windows: learned threshold {=f32} ({=str}), the file's {=f32}",
                        field.seen(),
                        t,
                        if field.is_exact() { "exact quantile" } else { "P2 estimate" },
                        threshold
                    );
                }
            }
            Some(t) => learned.add(score > t, start, end),
        }
    }

    let windows = scorer.windows() as u32;
    defmt::info!(
        "{=u32} windows scored; calibrated threshold {=f32}: {=usize} of {=usize} labelled event(s) found, {=u32} alarm windows, {=u32} false alarm windows in {=u32} episode(s)",
        windows,
        threshold,
        file.events_found(),
        EVENTS.len(),
        file.alarms,
        file.false_alarms,
        file.false_episodes
    );
    if let Some(t) = field.learned_threshold() {
        defmt::info!(
            "field threshold {=f32} (after the first {=u32} windows, on the other {=u32}): {=usize} of {=usize} labelled event(s) found, {=u32} alarm windows, {=u32} false alarm windows in {=u32} episode(s)",
            t,
            FIELD_WINDOWS,
            windows.saturating_sub(FIELD_WINDOWS),
            learned.events_found(),
            EVENTS.len(),
            learned.alarms,
            learned.false_alarms,
            learned.false_episodes
        );
    }
    defmt::info!("stack high-water mark: {=usize} bytes", stack::used());
    defmt::info!("done");
    exit(true)
}

/// The `measure` build (`scripts/stream-firmware.sh --report` counts the
/// instructions QEMU executes between the markers): an empty marker pair
/// (the markers' own cost), one `push_score` that completes a window (the
/// per-window cost: push, window, scoring), one `push` that does not
/// complete one (the per-sample cost between windows, for strides > 1), and
/// one field-calibration step (`observe` + `is_anomaly`).
#[cfg(feature = "measure")]
mod measure {
    use core::hint::black_box;
    use ddaebm_runtime::{FieldCalibration, Model, WindowScorer};

    use crate::markers::{ddaebm_marker_begin, ddaebm_marker_end};
    use crate::{adc_read, CHANNELS, WINDOW_VALUES};

    pub fn run(
        model: &Model<'_>,
        scorer: &mut WindowScorer<WINDOW_VALUES>,
        field: &mut FieldCalibration,
        scratch: &mut [f32],
    ) -> ! {
        ddaebm_marker_begin();
        ddaebm_marker_end();

        // Fill the window but for its last sample, then measure the sample
        // that completes it.
        let mut sample = [0.0f32; CHANNELS];
        let window = scorer.shape().window;
        for row in 0..window - 1 {
            adc_read(row, &mut sample);
            if let Err(e) = scorer.push(&sample) {
                crate::fail_with(e, "push failed");
            }
        }
        adc_read(window - 1, &mut sample);
        let sample = black_box(sample);
        ddaebm_marker_begin();
        let score = scorer.push_score(model, &sample, scratch);
        ddaebm_marker_end();
        let score = match score {
            Ok(Some(s)) => s,
            Ok(None) => crate::fail_with(ddaebm_runtime::Error::NonFiniteOutput, "no window was due"),
            Err(e) => crate::fail_with(e, "push_score failed"),
        };

        // A push alone (the copy into the ring buffer, no window due).
        let mut scorer2 = match WindowScorer::<WINDOW_VALUES>::new(model, scorer.shape()) {
            Ok(s) => s,
            Err(e) => crate::fail_with(e, "window scorer"),
        };
        ddaebm_marker_begin();
        let due = scorer2.push(&sample);
        ddaebm_marker_end();
        black_box(due.ok());

        let score = black_box(score);
        ddaebm_marker_begin();
        let observed = field.observe(score);
        let verdict = field.is_anomaly(model, score);
        ddaebm_marker_end();
        black_box((observed.ok(), verdict.ok()));

        defmt::info!("measure score = {=f32}", score);
        defmt::info!("stack high-water mark: {=usize} bytes", crate::stack::used());
        defmt::info!("measure done");
        crate::exit(true)
    }
}

/// The measured-region markers (shared with the anomaly example).
#[cfg(feature = "measure")]
#[path = "../../common/markers.rs"]
mod markers;

/// Stack high-water mark (shared with the anomaly example).
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
