//! `perf [CHECKPOINT] [--mcu] [--quick]`: one markdown table of the runtime's
//! speed against libtorch on the same weights, and (with `--mcu`) of the
//! Cortex-M4F kernels' instructions per multiply–accumulate under QEMU.
//!
//! Host rows: the checkpoint (default `runs/quickstart/checkpoint.safetensors`)
//! is exported in memory to f32, f16 and int8 model files and loaded by the
//! runtime; libtorch runs the trainer's own networks from the same
//! checkpoint (eval mode, `no_grad`, one intra- and one inter-op thread).
//! Every figure is the median of several timed repeats, the two sides
//! interleaved, so a noisy machine slows both alike and the ratio is
//! measured in one run.
//!
//! * batch 1, energy: one `Model::energy` vs one `EnergyNet::forward` on a
//!   [1, D] tensor;
//! * batch 1, sample: one `Model::sample` (T generator steps, its own normal
//!   draws) vs the same T steps in libtorch (`Generator::forward_t` +
//!   `posterior_sample_with`, noise from `Tensor::randn`);
//! * batch 1024, energy: `Model::energy_batch` vs `EnergyNet::forward` on
//!   [1024, D]; evaluations/s and GFLOP/s = 2 · MACs of the folded energy
//!   network · evaluations/s (the same useful work on both sides), against
//!   this core's f32 peak measured here: a register-resident loop of
//!   independent FMAs, 16-wide with AVX-512, 8-wide with AVX2+FMA, else
//!   4-wide SSE multiply + add.
//!
//! `--mcu` runs `scripts/firmware-report.sh` on the three exported files
//! (plus the committed defaults it always measures) and adds its
//! instructions per MAC, flash and RAM. `--quick` shortens every timing.

use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use ddaebm_export::model_file::{DeployModel, Precision};
use ddaebm_host::checkpoint::Checkpoint;
use ddaebm_runtime::{Model, Rng};
use ddaebm_trainer::model::Ddaebm;
use tch::{Device, Kind, Tensor};

const BATCH: usize = 1024;

/// Median seconds per call of `f`, timed as `reps` repeats of `calls` calls.
fn per_call(reps: usize, calls: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..calls {
                f();
            }
            start.elapsed().as_secs_f64() / calls as f64
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

/// Median seconds per call of `a` and of `b`, their repeats interleaved.
fn pair(reps: usize, calls: (usize, usize), mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64) {
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        ta.push(per_call(1, calls.0, &mut a));
        tb.push(per_call(1, calls.1, &mut b));
    }
    ta.sort_by(f64::total_cmp);
    tb.sort_by(f64::total_cmp);
    (ta[reps / 2], tb[reps / 2])
}

/// This core's single-thread f32 peak in GFLOP/s and how it was measured.
fn peak_gflops(quick: bool) -> (f64, &'static str) {
    let iters: u64 = if quick { 20_000_000 } else { 100_000_000 };
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU supports AVX-512 F (checked just above).
        let s = per_call(5, 1, || {
            black_box(unsafe { fma512_loop(black_box(iters)) });
        });
        return (iters as f64 * 12.0 * 16.0 * 2.0 / s / 1e9, "AVX-512 FMA, 12 × 16-wide independent chains");
    }
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above).
        let s = per_call(5, 1, || {
            black_box(unsafe { fma_loop(black_box(iters)) });
        });
        return (iters as f64 * 10.0 * 8.0 * 2.0 / s / 1e9, "AVX2 FMA, 10 × 8-wide independent chains");
    }
    let s = per_call(5, 1, || {
        black_box(mul_add_loop(black_box(iters)));
    });
    (iters as f64 * 8.0 * 4.0 * 2.0 / s / 1e9, "SSE 4-wide multiply + add, 8 independent chains")
}

/// `iters` × 10 independent 8-wide FMAs, all in registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_loop(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let m = _mm256_set1_ps(0.999_999);
    let c = _mm256_set1_ps(1e-7);
    let mut a = [_mm256_set1_ps(1.0); 10];
    for _ in 0..iters {
        for v in &mut a {
            *v = _mm256_fmadd_ps(*v, m, c);
        }
    }
    let mut s = 0.0;
    for v in a {
        let mut out = [0.0f32; 8];
        _mm256_storeu_ps(out.as_mut_ptr(), v);
        s += out.iter().sum::<f32>();
    }
    s
}

/// `iters` × 12 independent 16-wide FMAs, all in registers (two FMA
/// units × 4 cycles of latency need at least 8 chains).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma512_loop(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let m = _mm512_set1_ps(0.999_999);
    let c = _mm512_set1_ps(1e-7);
    let mut a = [_mm512_set1_ps(1.0); 12];
    for _ in 0..iters {
        for v in &mut a {
            *v = _mm512_fmadd_ps(*v, m, c);
        }
    }
    a.iter().map(|v| _mm512_reduce_add_ps(*v)).sum()
}

/// Fallback peak: 8 chains of 4-wide multiply + add (what baseline x86-64 and other targets have).
fn mul_add_loop(iters: u64) -> f32 {
    let mut a = [[1.0f32; 4]; 8];
    let m = black_box(0.999_999f32);
    let c = black_box(1e-7f32);
    for _ in 0..iters {
        for v in &mut a {
            for x in v.iter_mut() {
                *x = *x * m + c;
            }
        }
    }
    a.iter().flatten().sum()
}

fn energy_macs(bytes: &[u8]) -> usize {
    // Σ out·in over the energy weights, from the safetensors header.
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
    let mut macs = 0;
    for (i, _) in header.match_indices("\"energy.") {
        let rest = &header[i..];
        let name_end = rest[1..].find('"').unwrap() + 1;
        if !rest[..name_end].ends_with(".weight") {
            continue;
        }
        let shape = &rest[rest.find("\"shape\":[").unwrap() + 9..];
        let dims: Vec<usize> =
            shape[..shape.find(']').unwrap()].split(',').map(|d| d.trim().parse().unwrap()).collect();
        macs += dims[0] * dims[1];
    }
    macs
}

struct Row {
    what: String,
    runtime: String,
    libtorch: String,
    ratio: String,
    goal: String,
    met: String,
}

impl Row {
    /// A batch-1 row: seconds per call of the runtime and of libtorch, and
    /// the goal of issue 6 (runtime ≥ 10× faster).
    fn batch1(what: String, runtime_s: f64, libtorch_s: f64) -> Row {
        let speedup = libtorch_s / runtime_s;
        Row {
            what,
            runtime: format!("{:.2}", runtime_s * 1e6),
            libtorch: format!("{:.2}", libtorch_s * 1e6),
            ratio: format!("{speedup:.1}×"),
            goal: "≥ 10× faster".into(),
            met: if speedup >= 10.0 { "yes" } else { "no" }.into(),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mcu = args.iter().any(|a| a == "--mcu");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let ckpt_path = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("runs/quickstart/checkpoint.safetensors"));
    let ckpt = Checkpoint::load(&ckpt_path).unwrap_or_else(|e| {
        eprintln!(
            "perf: cannot load {} ({e}); run scripts/quickstart.sh first or pass a checkpoint",
            ckpt_path.display()
        );
        std::process::exit(2)
    });
    tch::set_num_threads(1);
    tch::set_num_interop_threads(1);
    let _guard = tch::no_grad_guard();
    let torch = Ddaebm::from_checkpoint(&ckpt, Device::Cpu).expect("libtorch model from the checkpoint");
    let deploy = DeployModel::from_checkpoint(&ckpt).expect("fold the checkpoint");
    let reps = if quick { 5 } else { 11 };
    let scale = if quick { 1 } else { 4 };

    let (peak, peak_how) = peak_gflops(quick);
    eprintln!("peak: {peak:.1} GFLOP/s ({peak_how})");

    let dir = std::env::temp_dir().join(format!("ddaebm-perf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    let mut rows = Vec::new();
    for precision in [Precision::F32, Precision::F16, Precision::Int8] {
        let name = precision.name();
        let bytes = deploy.to_bytes(precision);
        let path = dir.join(format!("model-{name}.safetensors"));
        std::fs::write(&path, &bytes).unwrap();
        files.push(path);
        let model = Model::from_bytes(&bytes).expect("the runtime loads the exported file");
        let (d, nz, steps) = (model.data_dim(), model.nz(), model.steps());
        let macs = energy_macs(&bytes);
        let mut scratch = vec![0f32; model.scratch_len()];
        let mut rng = Rng::new(1);
        let x: Vec<f32> = (0..d).map(|_| rng.normal()).collect();
        eprintln!("{name}: D = {d}, nz = {nz}, T = {steps}, energy MACs {macs}");

        // Batch 1, energy.
        let xt = Tensor::from_slice(&x).view([1, d as i64]);
        let t0 = Tensor::from_slice(&[0i64]);
        let (rt, lt) = pair(
            reps,
            (2000 * scale, 200 * scale),
            || {
                black_box(model.energy(black_box(&x), 0, &mut scratch).unwrap());
            },
            || {
                let _ = black_box(torch.energy.forward(black_box(&xt), &t0));
            },
        );
        rows.push(Row::batch1(format!("{name}: energy, batch 1 (µs / call)"), rt, lt));

        // Batch 1, one full T-step sample.
        let mut out = vec![0f32; d];
        let mut srng = Rng::new(7);
        let ts: Vec<Tensor> = (0..steps).map(|t| Tensor::from_slice(&[t as i64])).collect();
        let (rs, ls) = pair(
            reps,
            (500 * scale, 50 * scale),
            || {
                model.sample(&mut srng, &mut out, &mut scratch).unwrap();
                black_box(&out);
            },
            || {
                let mut xs = Tensor::randn([1, d as i64], (Kind::Float, Device::Cpu));
                for t in (0..steps).rev() {
                    let z = Tensor::randn([1, nz as i64], (Kind::Float, Device::Cpu));
                    let eps = if t > 0 {
                        Tensor::randn([1, d as i64], (Kind::Float, Device::Cpu))
                    } else {
                        Tensor::zeros([1, d as i64], (Kind::Float, Device::Cpu))
                    };
                    let x0 = torch.generator.forward_t(&xs, &z, &ts[t], false);
                    xs = torch.diffusion.posterior_sample_with(&x0, &xs, &ts[t], &eps);
                }
                let _ = black_box(xs);
            },
        );
        rows.push(Row::batch1(format!("{name}: sample (T = {steps} steps), batch 1 (µs / call)"), rs, ls));

        // Batch 1024, energy.
        let xs: Vec<f32> = (0..BATCH * d).map(|_| rng.normal()).collect();
        let xst = Tensor::from_slice(&xs).view([BATCH as i64, d as i64]);
        let tb = Tensor::zeros([BATCH as i64], (Kind::Int64, Device::Cpu));
        let mut outb = vec![0f32; BATCH];
        let mut big = vec![0f32; model.batch_scratch_len(BATCH)];
        let (rb, lb) = pair(
            reps,
            (2 * scale, 2 * scale),
            || {
                model.energy_batch(black_box(&xs), 0, &mut outb, &mut big).unwrap();
                black_box(&outb);
            },
            || {
                let _ = black_box(torch.energy.forward(black_box(&xst), &tb));
            },
        );
        let (er, el) = (BATCH as f64 / rb, BATCH as f64 / lb);
        let (gr, gl) = (2.0 * macs as f64 * er / 1e9, 2.0 * macs as f64 * el / 1e9);
        rows.push(Row {
            what: format!("{name}: energy, batch {BATCH} (evaluations / s)"),
            runtime: format!("{:.0}", er),
            libtorch: format!("{:.0}", el),
            ratio: format!("{:.2}×", er / el),
            goal: "≥ 1× (no slower)".into(),
            met: if er >= el { "yes" } else { "no" }.into(),
        });
        rows.push(Row {
            what: format!("{name}: energy, batch {BATCH} (GFLOP/s; % of {peak:.1} peak)"),
            runtime: format!("{gr:.1} ({:.0} %)", 100.0 * gr / peak),
            libtorch: format!("{gl:.1} ({:.0} %)", 100.0 * gl / peak),
            ratio: format!("{:.2}×", gr / gl),
            goal: "runtime ≥ 50 % of peak".into(),
            met: if gr >= 0.5 * peak { "yes" } else { "no" }.into(),
        });
    }

    if mcu {
        eprintln!("running scripts/firmware-report.sh on the exported files (a few minutes)");
        let out = Command::new(root.join("scripts/firmware-report.sh"))
            .args(&files)
            .output()
            .expect("run scripts/firmware-report.sh");
        if !out.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
            eprintln!("perf: firmware-report failed");
            std::process::exit(1);
        }
        let table = String::from_utf8_lossy(&out.stdout);
        for line in table.lines().skip(2) {
            let c: Vec<&str> = line.split('|').map(str::trim).collect();
            // | model | dtype | file | flash | flash w/o model | RAM | stack | instr/energy | MACs | instr/MAC (energy) | instr/sample | instr/MAC (sample) |
            if c.len() < 13 {
                continue;
            }
            let model = c[1].trim_matches('`');
            let model = if model.contains("ddaebm-perf") {
                format!("exported {}", model.rsplit('/').next().unwrap_or(model))
            } else {
                model.rsplit('/').next().unwrap_or(model).to_string()
            };
            let dtype = c[2];
            let ipm: f64 = c[10].parse().unwrap_or(f64::NAN);
            let goal = match dtype {
                "f32" => Some(2.0),
                "int8" => Some(1.6),
                _ => None,
            };
            rows.push(Row {
                what: format!("MCU {dtype} {model}: instr / MAC, energy (sample)"),
                runtime: format!("{} ({})", c[10], c[12]),
                libtorch: "–".into(),
                ratio: "–".into(),
                goal: goal.map_or("–".into(), |g| format!("≤ {g}")),
                met: goal.map_or("–".into(), |g| if ipm <= g { "yes" } else { "no" }.into()),
            });
            let flash: f64 = c[5].parse().unwrap_or(f64::NAN);
            let ram: f64 = c[6].parse::<f64>().unwrap_or(f64::NAN) + c[7].parse::<f64>().unwrap_or(f64::NAN);
            rows.push(Row {
                what: format!("MCU {dtype} {model}: flash w/o model; RAM + peak stack (bytes)"),
                runtime: format!("{}; {} + {} = {}", c[5], c[6], c[7], ram),
                libtorch: "–".into(),
                ratio: "–".into(),
                goal: "≤ 16384; ≤ 8192".into(),
                met: match (flash <= 16384.0, ram <= 8192.0) {
                    (true, true) => "yes",
                    (false, true) => "RAM only",
                    (true, false) => "flash only",
                    (false, false) => "no",
                }
                .into(),
            });
        }
    }
    let _ = std::fs::remove_dir_all(&dir);

    println!("| measurement | runtime | libtorch | ratio | goal | met |");
    println!("|---|---:|---:|---:|---|---|");
    for r in rows {
        println!("| {} | {} | {} | {} | {} | {} |", r.what, r.runtime, r.libtorch, r.ratio, r.goal, r.met);
    }
    println!();
    println!("peak: {peak:.1} GFLOP/s ({peak_how}); libtorch on the CPU with 1 thread");
}
