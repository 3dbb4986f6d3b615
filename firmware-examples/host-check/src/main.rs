//! Host side of the firmware parity test.
//!
//! `host-check MODEL` loads MODEL with the same `ddaebm-runtime`, scores the
//! same points and draws the same seeds as `../cortex-m4f-anomaly` (both
//! include `cortex-m4f-anomaly/src/cases.rs`), and prints the `cmp` lines in
//! exactly the firmware's format: raw f32 bits, so the comparison is
//! bit for bit. `scripts/firmware.sh --check` diffs them with the firmware's
//! decoded log.

use std::process::ExitCode;

use ddaebm_runtime::{Model, Rng};

#[path = "../../cortex-m4f-anomaly/src/cases.rs"]
#[allow(dead_code)]
mod cases;
use cases::{threshold, verdict, POINTS, SAMPLES, SEED_BASE};

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: host-check MODEL.safetensors   (the file the firmware embeds)");
        return ExitCode::from(2);
    };
    match run(&path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("host-check: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(path: &str) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let model = Model::from_bytes(&bytes).map_err(|e| format!("{path}: {e}"))?;
    if model.data_dim() != 2 {
        return Err(format!(
            "{path}: the firmware example scores 2-D readings, the model has D = {}",
            model.data_dim()
        ));
    }
    let mut scratch = vec![0f32; model.scratch_len()];
    let threshold = threshold(model.threshold());
    for (k, x) in POINTS.iter().enumerate() {
        let score = model
            .anomaly_score(x, &mut scratch)
            .map_err(|e| format!("anomaly_score: {e}"))?;
        println!(
            "cmp score {k} {:08x} {:08x} {:08x} {}",
            x[0].to_bits(),
            x[1].to_bits(),
            score.to_bits(),
            verdict(score, threshold)
        );
    }
    for k in 0..SAMPLES {
        let seed = SEED_BASE + k;
        let mut s = [0f32; 2];
        model
            .sample(&mut Rng::new(seed), &mut s, &mut scratch)
            .map_err(|e| format!("sample: {e}"))?;
        println!(
            "cmp sample {seed} {:08x} {:08x}",
            s[0].to_bits(),
            s[1].to_bits()
        );
    }
    Ok(())
}
