//! Differential checks: every kernel path the host has gives the portable
//! reference kernel's bits (the documented summation order; for int8 the
//! plain integer dot product), on whatever model loads.
//!
//! On x86-64 each path (SSE2, AVX, AVX2, AVX-512; those the CPU has) is forced in
//! turn with `ddaebm_runtime::kernel_path`. A mismatch writes the model
//! file to `$DDAEBM_FUZZ_REPRODUCERS` (default: the system temp folder) as
//! `mismatch-<crc32>.safetensors` and panics with its path.

use ddaebm_runtime::{crc32, Error, Model, Rng};

/// Inputs per model: a few fixed rows, one batch.
const ROWS: usize = 3;

/// Bits (or the error) of what the model computes on fixed inputs: energy
/// at every step, the anomaly score, a batch of energies, one generator
/// pass and one full sample. Scratch and inputs are allocated once here.
pub fn results(model: &Model<'_>) -> Vec<Result<u32, Error>> {
    let d = model.data_dim();
    let nz = model.nz();
    let mut scratch = vec![0.0f32; model.scratch_len().max(model.batch_scratch_len(ROWS))];
    let xs: Vec<f32> = (0..ROWS * d).map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.173).collect();
    let mut out = Vec::new();
    let bits = |r: Result<f32, Error>| r.map(f32::to_bits);
    for x in xs.chunks(d) {
        for t in 0..model.steps() {
            out.push(bits(model.energy(x, t, &mut scratch)));
        }
        out.push(bits(model.anomaly_score(x, &mut scratch)));
    }
    let mut batch = vec![0.0f32; ROWS];
    match model.energy_batch(&xs, 0, &mut batch, &mut scratch) {
        Ok(()) => out.extend(batch.iter().map(|v| Ok(v.to_bits()))),
        Err(e) => out.push(Err(e)),
    }
    let z = vec![0.25f32; nz];
    let mut y = vec![0.0f32; d];
    match model.generate(&xs[..d], &z, 0, &mut y, &mut scratch) {
        Ok(()) => out.extend(y.iter().map(|v| Ok(v.to_bits()))),
        Err(e) => out.push(Err(e)),
    }
    match model.sample(&mut Rng::new(3), &mut y, &mut scratch) {
        Ok(()) => out.extend(y.iter().map(|v| Ok(v.to_bits()))),
        Err(e) => out.push(Err(e)),
    }
    out
}

/// Compares every kernel path with the portable one on `bytes` (a no-op
/// when the file does not load, or off x86-64).
pub fn compare_kernel_paths(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        use ddaebm_runtime::kernel_path::{force_kernel_path, widest_kernel_path, KernelPath};
        let Ok(model) = Model::from_bytes(bytes) else {
            return;
        };
        force_kernel_path(Some(KernelPath::Portable));
        let reference = results(&model);
        for path in KernelPath::ALL.into_iter().filter(|&p| p > KernelPath::Portable && p <= widest_kernel_path()) {
            force_kernel_path(Some(path));
            let got = results(&model);
            if got != reference {
                force_kernel_path(None);
                let at = reproducer(bytes);
                let k = got.iter().zip(&reference).position(|(a, b)| a != b).unwrap_or(0);
                panic!(
                    "kernel path {path:?} differs from the portable kernels at result {k} ({:?} vs {:?}); model file: {}",
                    got.get(k),
                    reference.get(k),
                    at
                );
            }
        }
        force_kernel_path(None);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// Saves `bytes` as a reproducer; returns where (or why not).
fn reproducer(bytes: &[u8]) -> String {
    let dir = std::env::var_os("DDAEBM_FUZZ_REPRODUCERS").map_or_else(std::env::temp_dir, Into::into);
    let path = dir.join(format!("mismatch-{:08x}.safetensors", crc32(bytes)));
    match std::fs::write(&path, bytes) {
        Ok(()) => path.display().to_string(),
        Err(e) => format!("(could not write {}: {e})", path.display()),
    }
}
