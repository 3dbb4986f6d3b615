//! Replays model files (the structure-aware fuzz target's corpus, turned
//! into files by `runtime/fuzz/src/bin/corpus_to_models.rs`) through the
//! runtime and writes one `cmp` line per result with `core::fmt`: the
//! firmware (`../cortex-m4f-replay`, M4F and RISC-V, over semihosting) and the
//! host (`../host-check`, `replay` binary) both include this file, so their
//! lines are equal exactly when the results are bit-identical (values as raw
//! f32 bits, errors as the runtime's Display text). Plain `core`: no_std and
//! std, no allocation.

use core::fmt::{self, Write};

use ddaebm_runtime::{Model, Rng};

/// The scratch buffer both sides use (f32 values); a model that needs more
/// is reported as skipped, on both sides alike.
pub const SCRATCH: usize = 8192;

/// Inputs: `ROWS` readings of D values, a fixed pattern (raw units).
const ROWS: usize = 2;

/// Input value `i` of the fixed pattern.
fn input(i: usize) -> f32 {
    ((i * 37 % 23) as f32 - 11.0) * 0.173
}

/// Writes the value bits or the error.
fn put(out: &mut impl Write, index: usize, what: &str, r: Result<f32, ddaebm_runtime::Error>) -> fmt::Result {
    match r {
        Ok(v) => writeln!(out, "cmp {index} {what} {:08x}", v.to_bits()),
        Err(e) => writeln!(out, "cmp {index} {what} error: {e}"),
    }
}

/// Replays model file number `index`: load, then energy at every step and
/// the anomaly score of `ROWS` fixed inputs, and one sample.
pub fn replay(index: usize, bytes: &[u8], scratch: &mut [f32; SCRATCH], out: &mut impl Write) -> fmt::Result {
    let model = match Model::from_bytes(bytes) {
        Ok(m) => m,
        Err(e) => return writeln!(out, "cmp {index} load error: {e}"),
    };
    let (d, need) = (model.data_dim(), model.scratch_len());
    writeln!(out, "cmp {index} loaded D={d} nz={} T={} scratch={need}", model.nz(), model.steps())?;
    if need > SCRATCH || d > SCRATCH / 4 {
        return writeln!(out, "cmp {index} skipped (scratch)");
    }
    let (x, rest) = scratch.split_at_mut(SCRATCH / 4);
    let scratch = &mut rest[..need];
    for row in 0..ROWS {
        let x = &mut x[..d];
        for (k, v) in x.iter_mut().enumerate() {
            *v = input(row * d + k);
        }
        for t in 0..model.steps().min(8) {
            put(out, index, "energy", model.energy(x, t, scratch))?;
        }
        put(out, index, "score", model.anomaly_score(x, scratch))?;
    }
    let s = &mut x[..d];
    match model.sample(&mut Rng::new(index as u64), s, scratch) {
        Ok(()) => {
            write!(out, "cmp {index} sample")?;
            for v in s.iter().take(16) {
                write!(out, " {:08x}", v.to_bits())?;
            }
            writeln!(out)
        }
        Err(e) => writeln!(out, "cmp {index} sample error: {e}"),
    }
}

/// Replays every model file of `blob` (the layout `replay_files.rs` writes:
/// per file a u32 LE length, 4 zero bytes, the file, padding to 8 bytes;
/// `blob` itself 8-byte aligned) in order, then writes the `replayed N model
/// files` line. A truncated blob is an error after a line saying so.
pub fn replay_blob(blob: &[u8], scratch: &mut [f32; SCRATCH], out: &mut impl Write) -> fmt::Result {
    let (mut at, mut index) = (0usize, 0usize);
    while let Some(len) = blob.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes) {
        let start = at + 8;
        let Some(bytes) = blob.get(start..start + len as usize) else {
            writeln!(out, "replay blob truncated at file {index}")?;
            return Err(fmt::Error);
        };
        replay(index, bytes, scratch, out)?;
        index += 1;
        at = (start + len as usize + 7) & !7;
    }
    writeln!(out, "replayed {index} model files")
}
