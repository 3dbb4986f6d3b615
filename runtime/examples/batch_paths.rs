//! `energy_batch` at batch 1024 on each host kernel path the CPU has, for
//! one or more model files: evaluations per second (the best of `REPS`
//! calls of each path, the paths interleaved so that they see the same
//! machine noise) and a hash of the outputs, which must be the same on
//! every path (the bit-identity promise).
//!
//! ```sh
//! cargo run --release -p ddaebm-runtime --example batch_paths -- MODEL.safetensors [MODEL …]
//! ```
//!
//! docs/performance.md quotes it for the batch kernels' steps.

use std::time::Instant;

use ddaebm_runtime::kernel_path::{force_kernel_path, widest_kernel_path, KernelPath};
use ddaebm_runtime::Model;

/// Inputs per call.
const BATCH: usize = 1024;
/// Timed calls per path.
const REPS: usize = 30;

fn main() {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        eprintln!("usage: batch_paths MODEL.safetensors [MODEL …]");
        std::process::exit(2);
    }
    let paths: Vec<KernelPath> = KernelPath::ALL.into_iter().filter(|&p| p <= widest_kernel_path()).collect();
    for file in &files {
        let bytes = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("batch_paths: cannot read {file}: {e}");
                std::process::exit(1);
            }
        };
        let model = match Model::from_bytes(&bytes) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("batch_paths: {file}: {e}");
                std::process::exit(1);
            }
        };
        let d = model.data_dim();
        // Deterministic inputs in [−2, 2).
        let xs: Vec<f32> = (0..BATCH * d).map(|i| ((i * 7919 % 1000) as f32 / 250.0) - 2.0).collect();
        let mut out = vec![0f32; BATCH];
        let mut scratch = vec![0f32; model.batch_scratch_len(BATCH)];
        let mut best = vec![f64::MAX; paths.len()];
        let mut hash = vec![0u32; paths.len()];
        for _ in 0..REPS {
            for (i, &p) in paths.iter().enumerate() {
                force_kernel_path(Some(p));
                let t = Instant::now();
                if let Err(e) = model.energy_batch(&xs, 0, &mut out, &mut scratch) {
                    eprintln!("batch_paths: {file}: {e}");
                    std::process::exit(1);
                }
                best[i] = best[i].min(t.elapsed().as_secs_f64());
                hash[i] = out.iter().fold(0u32, |h, v| h.rotate_left(5) ^ v.to_bits());
            }
        }
        force_kernel_path(None);
        println!("{file} (batch {BATCH}, best of {REPS}):");
        for ((p, b), h) in paths.iter().zip(&best).zip(&hash) {
            println!("  {:<9} {:>9.0} evaluations/s  outputs {h:08x}", format!("{p:?}"), BATCH as f64 / b);
        }
        if hash.iter().any(|h| *h != hash[0]) {
            eprintln!("batch_paths: {file}: the paths disagree");
            std::process::exit(1);
        }
    }
}
