//! `trainer`: learn DDAEBM on a built-in 2-D data set, on CPU or CUDA.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use ddaebm_export::checkpoint::{Checkpoint, ScheduleKind};
use ddaebm_trainer::data::Toy;
use ddaebm_trainer::fit::{self, FitConfig, RunOptions};
use ddaebm_trainer::model::Ddaebm;

#[derive(Parser)]
#[command(name = "trainer", version, about = "Train DDAEBM (diffusion + adversarial energy-based model) with libtorch")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Train (or resume) a model; writes DIR/checkpoint.safetensors and DIR/log.csv.
    Fit(FitArgs),
    /// Draw samples from a checkpoint with the T-step sampler and write them as CSV.
    Sample {
        /// A checkpoint written by `trainer fit`.
        checkpoint: PathBuf,
        /// Number of samples.
        #[arg(short, default_value_t = 1000)]
        n: usize,
        /// Seed of the sampler.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output CSV file (one sample per row).
        #[arg(long, default_value = "samples.csv")]
        out: PathBuf,
    },
}

#[derive(clap::Args)]
struct FitArgs {
    /// Built-in data set: 25gaussians, 8gaussians, swissroll, pinwheel, circles, moons, rings, 2spirals, checkerboard.
    #[arg(long, default_value = "25gaussians")]
    dataset: String,
    /// Training iterations (total, counting those of a resumed run).
    #[arg(long, default_value_t = FitConfig::default().iters)]
    iters: u64,
    /// Batch size.
    #[arg(long, default_value_t = FitConfig::default().batch_size)]
    batch_size: usize,
    /// Number of denoising steps T.
    #[arg(long, default_value_t = FitConfig::default().steps)]
    steps: usize,
    /// Variance schedule: vp or geometric.
    #[arg(long, default_value = "vp", value_parser = parse_schedule)]
    schedule: ScheduleKind,
    /// β_min of the schedule.
    #[arg(long, default_value_t = FitConfig::default().beta_min)]
    beta_min: f64,
    /// β_max of the schedule.
    #[arg(long, default_value_t = FitConfig::default().beta_max)]
    beta_max: f64,
    /// Generator latent size nz.
    #[arg(long, default_value_t = FitConfig::default().nz)]
    nz: usize,
    /// Disable BatchNorm in the generator and encoder.
    #[arg(long)]
    no_batchnorm: bool,
    /// R1 penalty weight γ.
    #[arg(long, default_value_t = FitConfig::default().r1_gamma)]
    r1_gamma: f64,
    /// Seed of everything random.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Libtorch threads. 1 is the default: on a shared 2-core machine a second
    /// thread made a training step ~25x slower whenever another process held
    /// the other core (docs/training.md has the measurement).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Device: auto (CUDA if available), cpu, cuda, cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Run folder.
    #[arg(long, default_value = "runs/25gaussians")]
    out: PathBuf,
    /// Checkpoint every N iterations (0: only at the end).
    #[arg(long, default_value_t = FitConfig::default().checkpoint_every)]
    checkpoint_every: u64,
    /// Continue the run in this folder from its last checkpoint.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

fn parse_schedule(s: &str) -> Result<ScheduleKind, String> {
    match s {
        "vp" => Ok(ScheduleKind::Vp),
        "geometric" => Ok(ScheduleKind::Geometric),
        _ => Err(format!("unknown schedule `{s}`: use vp or geometric")),
    }
}

fn run_fit(a: FitArgs) -> Result<()> {
    if a.threads == 0 {
        anyhow::bail!("--threads must be at least 1");
    }
    let device = fit::parse_device(&a.device)?;
    let config = FitConfig {
        dataset: a.dataset.clone(),
        iters: a.iters,
        batch_size: a.batch_size,
        steps: a.steps,
        schedule: a.schedule,
        beta_min: a.beta_min,
        beta_max: a.beta_max,
        seed: a.seed,
        nz: a.nz,
        batchnorm: !a.no_batchnorm,
        r1_gamma: a.r1_gamma,
        checkpoint_every: a.checkpoint_every,
        ..FitConfig::default()
    };
    config.dataset.parse::<Toy>()?;
    let out = a.resume.clone().unwrap_or(a.out);
    let opts = RunOptions { out: out.clone(), device, threads: a.threads, progress: !a.quiet };
    eprintln!("trainer: {} on {:?}, {} thread(s), run folder {}", config.dataset, device, a.threads, out.display());
    let report = fit::fit(config, a.resume.as_deref(), &opts)?;
    let ckpt = Checkpoint::load(&report.checkpoint)?;
    let model = Ddaebm::from_checkpoint(&ckpt, device)?;
    let toy: Toy = ckpt.meta.dataset.parse()?;
    let (mmd, floor) = fit::mmd_report(&model, toy, 2000, 1);
    println!(
        "trained {} iterations at {:.1} it/s; L_E {:+.4}, L_G {:+.4}; MMD² {:.5} (data-vs-data floor {:.5})",
        report.iters_run, report.iters_per_sec, report.loss_energy, report.loss_generator, mmd, floor
    );
    println!("checkpoint: {}", report.checkpoint.display());
    Ok(())
}

fn run_sample(checkpoint: PathBuf, n: usize, seed: u64, out: PathBuf) -> Result<()> {
    let ckpt = Checkpoint::load(&checkpoint)?;
    let model = Ddaebm::from_checkpoint(&ckpt, tch::Device::cuda_if_available())?;
    let s = fit::sample(&model, n, seed, false);
    let norm = &ckpt.meta.normalisation;
    let d = model.arch.data_dim;
    let mut text = String::new();
    for row in s.chunks(d) {
        let cells: Vec<String> =
            row.iter().enumerate().map(|(j, v)| format!("{}", *v as f64 * norm.std[j] + norm.mean[j])).collect();
        text.push_str(&cells.join(","));
        text.push('\n');
    }
    std::fs::write(&out, text).with_context(|| format!("cannot write {}", out.display()))?;
    println!("wrote {n} samples to {}", out.display());
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Fit(a) => run_fit(a),
        Cmd::Sample { checkpoint, n, seed, out } => run_sample(checkpoint, n, seed, out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
