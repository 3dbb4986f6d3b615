//! `trainer`: learn DDAEBM on a built-in 2-D data set, on CPU or CUDA.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use ddaebm_host::checkpoint::{Checkpoint, CheckpointError, ScheduleKind, VERSION};
use ddaebm_host::cli::UsageError;
use ddaebm_trainer::eval::{self, EvalSizes};
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
    /// Evaluate a checkpoint: sample quality and density metrics (docs/quality.md), printed and written as JSON.
    Eval {
        /// A checkpoint written by `trainer fit`.
        checkpoint: PathBuf,
        /// JSON output (default: eval.json next to the checkpoint).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Seed of the sampler.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Draw samples from a checkpoint with the T-step sampler; writes CSV, or NumPy `.npy` if OUT ends in .npy.
    Sample {
        /// A checkpoint written by `trainer fit`.
        checkpoint: PathBuf,
        /// Number of samples.
        #[arg(short, default_value_t = 1000)]
        n: usize,
        /// Seed of the sampler.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output file: CSV (one sample per row) or `.npy` (float32, [n, D]).
        #[arg(long, default_value = "samples.csv")]
        out: PathBuf,
    },
    /// Write fresh points of a built-in 2-D set as CSV, optionally followed by
    /// uniform off-data points, with a 0/1 `label` column (a probe for
    /// `export --probe` / `export score --label-column label`).
    Data {
        /// Built-in data set (as `fit --dataset`).
        #[arg(long, default_value = "25gaussians")]
        dataset: String,
        /// Number of data points (label 0).
        #[arg(short, default_value_t = 2000)]
        n: usize,
        /// Number of points uniform in the data's bounding box widened by a
        /// quarter on each side (label 1; 0 writes no label column).
        #[arg(long, default_value_t = 0)]
        anomalies: usize,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output CSV.
        #[arg(long, default_value = "data.csv")]
        out: PathBuf,
    },
}

#[derive(clap::Args)]
struct FitArgs {
    /// Built-in data set: 25gaussians (the default), 8gaussians, swissroll, pinwheel, circles, moons, rings, 2spirals, checkerboard.
    #[arg(long)]
    dataset: Option<String>,
    /// Train on your own data instead: a CSV (header optional, numeric columns) or `.npy` file.
    #[arg(long)]
    data: Option<PathBuf>,
    /// With --data: turn a series into overlapping windows of this many rows.
    #[arg(long)]
    window: Option<usize>,
    /// With --data: fraction of rows held out for evaluation, in [0, 1).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    holdout: f64,
    /// With --data: train on these columns only, in this order (comma-separated
    /// header names; `col0,col1,...` for a file without a header). The model file
    /// records them, and `export score` matches data files to them by name.
    #[arg(long, value_delimiter = ',', value_name = "NAMES", conflicts_with = "drop_columns")]
    columns: Option<Vec<String>>,
    /// With --data: leave these columns out (comma-separated names); the device input does not have them.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    drop_columns: Vec<String>,
    /// With --data: leave out every column that holds one value on every row (named in a line at the start).
    #[arg(long)]
    drop_constant: bool,
    /// With --data: a label column (e.g. `label`) that is never trained on.
    #[arg(long, value_name = "NAME")]
    label_column: Option<String>,
    /// Evaluate and redraw the pictures every N iterations (0: only at the end).
    #[arg(long, default_value_t = 1000)]
    eval_every: u64,
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
    #[arg(long, default_value_t = FitConfig::default().beta_min, allow_negative_numbers = true)]
    beta_min: f64,
    /// β_max of the schedule.
    #[arg(long, default_value_t = FitConfig::default().beta_max, allow_negative_numbers = true)]
    beta_max: f64,
    /// Generator latent size nz.
    #[arg(long, default_value_t = FitConfig::default().nz)]
    nz: usize,
    /// Disable BatchNorm in the generator and encoder.
    #[arg(long)]
    no_batchnorm: bool,
    /// R1 penalty weight γ.
    #[arg(long, default_value_t = FitConfig::default().r1_gamma, allow_negative_numbers = true)]
    r1_gamma: f64,
    /// Weight of the forward-KL half of the generator loss (L_rec + L_KL; 1 in docs/algorithm.md).
    #[arg(long, default_value_t = FitConfig::default().forward_kl_weight, allow_negative_numbers = true)]
    forward_kl_weight: f64,
    /// Apply the R1 penalty every N iterations only (weight γ·N).
    #[arg(long, default_value_t = FitConfig::default().lazy_reg)]
    lazy_reg: u64,
    /// Train f without the Gaussian base measure (docs/algorithm.md as written; its −f(x, 0) ranks real anomalies backwards, docs/training.md departure 9).
    #[arg(long)]
    no_energy_base: bool,
    /// Bound B of the network's part of f when f has a base measure: it stays in (−B, B). Default 8; with --data the run chooses on held-out normal rows how much of it to use (--select; docs/training.md, departure 9).
    #[arg(long, allow_negative_numbers = true)]
    residual_bound: Option<f64>,
    /// With --data: fraction of the training rows set aside (never trained on) to choose the energy by its held-out
    /// log-likelihood: the training iteration kept and how much of the learned residual is used (none: the Gaussian
    /// base alone). Default 0.2; 0 turns the choice off (docs/training.md, "Settings chosen on held-out normal rows").
    #[arg(long, value_name = "FRACTION", allow_negative_numbers = true)]
    select: Option<f64>,
    /// Components of the energy's Gaussian base: 1 (one Gaussian), K in 2..8 (a K-component mixture), or `auto`:
    /// chosen among 1..8 by the held-out log-likelihood of the rows --select sets aside. Default: auto with --data,
    /// 1 for the built-in sets (docs/training.md, departure 11).
    #[arg(long, value_name = "K|auto", value_parser = parse_components)]
    base_components: Option<usize>,
    /// Share of each batch drawn at the last denoising step, t = 0 (the one that sets the samples' final
    /// quality), the rest spread over the other steps; default: all T steps equally often.
    #[arg(long, value_name = "SHARE", allow_negative_numbers = true)]
    t0_share: Option<f64>,
    /// Weight of the noise-contrastive term against the base measure in the energy loss (0: off). Default: 4 with
    /// --data, 1 for the built-in sets.
    #[arg(long, allow_negative_numbers = true)]
    nce_weight: Option<f64>,
    /// Keep an exponential moving average of the generator with this decay (e.g. 0.999; 0 = off); sampling, evaluation and export use it.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    ema: f64,
    /// Keep the learning rate constant instead of the default cosine decay
    /// to --lr-min over the run.
    #[arg(long)]
    constant_lr: bool,
    /// The default (cosine decay); accepted so that older command lines still work.
    #[arg(long, hide = true, conflicts_with = "constant_lr")]
    cosine_lr: bool,
    /// Final learning rate of the cosine decay.
    #[arg(long, default_value_t = 1e-5, allow_negative_numbers = true)]
    lr_min: f64,
    /// Learning rate of both optimisers.
    #[arg(long, default_value_t = FitConfig::default().lr_energy, allow_negative_numbers = true)]
    lr: f64,
    /// Learning rate of the energy network only (overrides --lr for it).
    #[arg(long, allow_negative_numbers = true)]
    lr_energy: Option<f64>,
    /// Learning rate of the generator and posterior encoder only (overrides --lr for them).
    #[arg(long, allow_negative_numbers = true)]
    lr_generator: Option<f64>,
    /// Trunk width (hidden units per trunk layer).
    #[arg(long, default_value_t = 300)]
    width: usize,
    /// Trunk depth (hidden trunk layers).
    #[arg(long, default_value_t = 2)]
    depth: usize,
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
    /// Run folder [default: runs/<data file name without extension> with --data, runs/<dataset> otherwise].
    /// A folder that already holds a run is refused: continue it with --resume, or replace it with --overwrite.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Start afresh in a run folder that holds an earlier run: first delete its
    /// checkpoint, log.csv, metrics.csv, eval.json, pictures and model files (*.safetensors).
    #[arg(long, conflicts_with = "resume")]
    overwrite: bool,
    /// Checkpoint every N iterations (0: only at the end).
    #[arg(long, default_value_t = FitConfig::default().checkpoint_every)]
    checkpoint_every: u64,
    /// Stop at this iteration (checkpoint and evaluation) although the
    /// learning-rate schedule spans --iters; continue later with --resume.
    #[arg(long)]
    stop_at: Option<u64>,
    /// Continue the run in this folder from its last checkpoint.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

fn parse_components(s: &str) -> Result<usize, String> {
    match s {
        "auto" => Ok(0),
        _ => match s.parse::<usize>() {
            Ok(k) if (1..=ddaebm_host::mixture::MAX_COMPONENTS).contains(&k) => Ok(k),
            _ => Err(format!(
                "`{s}`: give auto or a number of components from 1 to {}",
                ddaebm_host::mixture::MAX_COMPONENTS
            )),
        },
    }
}

fn parse_schedule(s: &str) -> Result<ScheduleKind, String> {
    match s {
        "vp" => Ok(ScheduleKind::Vp),
        "geometric" => Ok(ScheduleKind::Geometric),
        _ => Err(format!("unknown schedule `{s}`: use vp or geometric")),
    }
}

/// The training configuration the flags describe, checked.
fn fit_config(a: &FitArgs) -> Result<FitConfig> {
    let config = FitConfig {
        dataset: a.dataset.clone().unwrap_or_else(|| FitConfig::default().dataset),
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
        forward_kl_weight: a.forward_kl_weight,
        checkpoint_every: a.checkpoint_every,
        eval_every: a.eval_every,
        lazy_reg: a.lazy_reg.max(1),
        energy_base: !a.no_energy_base,
        residual_bound: a.residual_bound.unwrap_or(FitConfig::residual_bound_for(a.data.is_some())),
        nce_weight: a.nce_weight.unwrap_or(FitConfig::nce_weight_for(a.data.is_some())),
        select: a.select.unwrap_or(FitConfig::select_for(a.data.is_some())),
        base_components: a.base_components.unwrap_or(FitConfig::base_components_for(a.data.is_some())),
        t0_share: a.t0_share,
        ema_decay: a.ema,
        cosine_lr: a.cosine_lr || !a.constant_lr,
        lr_min: a.lr_min,
        lr_energy: a.lr_energy.unwrap_or(a.lr),
        lr_generator: a.lr_generator.unwrap_or(a.lr),
        trunk: vec![a.width; a.depth],
        // Absolute, so `trainer eval` and `--resume` find it from any folder.
        data: a.data.as_ref().map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()).display().to_string()),
        window: a.window,
        holdout: a.holdout,
        columns: a.columns.clone(),
        drop_columns: a.drop_columns.clone(),
        drop_constant: a.drop_constant,
        label_column: a.label_column.clone(),
        ..FitConfig::default()
    };
    if a.batch_size == 0 {
        anyhow::bail!("--batch-size must be at least 1");
    }
    if a.batch_size < 2 && !a.no_batchnorm {
        anyhow::bail!(
            "--batch-size {}: BatchNorm (in the generator and encoder) normalises over the batch and needs at least 2 \
             rows per batch; use --batch-size 2 or more, or --no-batchnorm",
            a.batch_size
        );
    }
    if a.width == 0 || a.depth == 0 || a.depth > 5 {
        anyhow::bail!("--width must be at least 1 and --depth between 1 and 5 (the model file holds at most 8 layers)");
    }
    if !(0.0..1.0).contains(&config.ema_decay) {
        anyhow::bail!("--ema must be in [0, 1), got {}", config.ema_decay);
    }
    for (flag, lr) in [("--lr-energy", config.lr_energy), ("--lr-generator", config.lr_generator)] {
        if !(lr.is_finite() && lr > 0.0) {
            anyhow::bail!("{flag} (or --lr) must be a positive number, got {lr}");
        }
    }
    if !(config.r1_gamma.is_finite() && config.r1_gamma >= 0.0) {
        anyhow::bail!("--r1-gamma must be a number >= 0, got {}", config.r1_gamma);
    }
    if !(config.lr_min.is_finite() && config.lr_min >= 0.0) {
        anyhow::bail!("--lr-min must be a number >= 0, got {}", config.lr_min);
    }
    if !(config.forward_kl_weight.is_finite() && config.forward_kl_weight >= 0.0) {
        anyhow::bail!("--forward-kl-weight must be a number >= 0, got {}", config.forward_kl_weight);
    }
    if !(config.residual_bound.is_finite() && config.residual_bound > 0.0) {
        anyhow::bail!("--residual-bound must be a positive number, got {}", config.residual_bound);
    }
    if !(config.nce_weight.is_finite() && config.nce_weight >= 0.0) {
        anyhow::bail!("--nce-weight must be a number >= 0, got {}", config.nce_weight);
    }
    if !(0.0..1.0).contains(&config.holdout) {
        anyhow::bail!("--holdout must be in [0, 1), got {}", config.holdout);
    }
    if let Some(p) = config.t0_share.filter(|p| !(p.is_finite() && *p > 0.0 && *p < 1.0)) {
        anyhow::bail!("--t0-share must be in (0, 1), got {p}");
    }
    if !(0.0..=0.5).contains(&config.select) {
        anyhow::bail!("--select must be in [0, 0.5] (0 turns the choice off), got {}", config.select);
    }
    Ok(config)
}

/// A flag-value error of `trainer fit` (exit code 2, as clap's own usage errors).
fn usage(e: anyhow::Error) -> anyhow::Error {
    anyhow::Error::new(UsageError(format!("{e:#}")))
}

/// The flags a resumed run still takes from the command line (the rest comes from its checkpoint).
const RESUME_FLAGS: [&str; 6] = ["resume", "iters", "stop_at", "threads", "device", "quiet"];

/// The ids of the `fit` flags given on the command line (not defaulted).
fn given_flags(m: &clap::ArgMatches) -> Vec<String> {
    let cmd = Cli::command();
    let fit = cmd.find_subcommand("fit").expect("the fit subcommand");
    fit.get_arguments()
        .map(|arg| arg.get_id().as_str())
        .filter(|id| m.value_source(id) == Some(ValueSource::CommandLine))
        .map(String::from)
        .collect()
}

/// `--flag` spelling of a clap argument id.
fn flag(id: &str) -> String {
    format!("--{}", id.replace('_', "-"))
}

/// Warns about flags that the run would ignore without a word. `given`
/// lists the ids of the flags on the command line.
fn warn_ignored(a: &FitArgs, given: &[String]) {
    let has = |id: &str| given.iter().any(|g| g == id);
    if a.resume.is_some() {
        let ignored: Vec<String> =
            given.iter().filter(|g| !RESUME_FLAGS.contains(&g.as_str())).map(|g| flag(g)).collect();
        if !ignored.is_empty() {
            eprintln!(
                "warning: {} ignored with --resume: a resumed run keeps the settings stored in its checkpoint \
                 (only --iters, --stop-at, --threads, --device and --quiet apply)",
                if ignored.len() == 1 { format!("{} is", ignored[0]) } else { format!("{} are", ignored.join(", ")) }
            );
        }
    } else if let Some(data) = &a.data {
        if has("dataset") {
            eprintln!("warning: --dataset is ignored with --data (the run trains on {})", data.display());
        }
    } else {
        for id in [
            "window",
            "holdout",
            "select",
            "base_components",
            "columns",
            "drop_columns",
            "drop_constant",
            "label_column",
        ] {
            if has(id) {
                eprintln!("warning: {} applies to --data files only; ignored for the built-in data set", flag(id));
            }
        }
    }
    if let Some(stop) = a.stop_at.filter(|&s| s > a.iters) {
        eprintln!("warning: --stop-at {stop} is past --iters {}: the run stops at iteration {}", a.iters, a.iters);
    }
}

/// The default run folder: `runs/<data file stem>` with --data, `runs/<dataset>` otherwise.
fn default_out(config: &FitConfig) -> PathBuf {
    let name = match &config.data {
        Some(d) => Path::new(d).file_stem().map_or_else(|| "data".to_string(), |s| s.to_string_lossy().into_owned()),
        None => config.dataset.clone(),
    };
    Path::new("runs").join(name)
}

/// The files of a run in its folder: what `--overwrite` removes.
fn is_run_file(name: &str) -> bool {
    const NAMES: [&str; 7] =
        ["checkpoint.safetensors", "log.csv", "metrics.csv", "eval.json", "samples.png", "density.png", "curves.png"];
    // Model files (`export`'s model-*.safetensors) and interrupted atomic writes (`.NAME.tmp.PID`).
    let tmp_of = |n: &str| name.starts_with(&format!(".{n}.tmp."));
    NAMES.contains(&name) || name.ends_with(".safetensors") || NAMES.iter().any(|n| tmp_of(n)) || tmp_of("safetensors")
}

/// Refuses a run folder that holds a run, unless `overwrite`: then removes
/// that run's files (and nothing else) first.
fn prepare_run_folder(out: &Path, overwrite: bool) -> Result<()> {
    let ckpt = fit::checkpoint_path(out);
    if !ckpt.exists() {
        return Ok(());
    }
    if !overwrite {
        let at = Checkpoint::load(&ckpt).map(|c| format!(" at iteration {}", c.meta.iteration)).unwrap_or_default();
        anyhow::bail!(
            "{} already holds a run (checkpoint.safetensors{at}); continue it with `trainer fit --resume {} --iters N`, \
             start afresh there with --overwrite (deletes its checkpoint, logs, pictures and model files), or choose \
             another --out",
            out.display(),
            out.display()
        );
    }
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(out).with_context(|| format!("cannot read {}", out.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_file() && is_run_file(&name) {
            std::fs::remove_file(entry.path()).with_context(|| format!("--overwrite: cannot remove {name}"))?;
            removed.push(name);
        }
    }
    removed.sort();
    eprintln!("--overwrite: removed the earlier run's {} from {}", removed.join(", "), out.display());
    Ok(())
}

/// Checks that `dir` is a run folder `--resume` can continue, with messages
/// for the usual mistakes (the checkpoint file instead of its folder, a
/// folder without a checkpoint, a checkpoint of another format version).
fn resumable(dir: &Path) -> Result<Checkpoint> {
    if dir.is_file() {
        let folder = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        anyhow::bail!(
            "--resume takes the run folder, not a file: pass `--resume {}` (the folder that holds {})",
            folder.display(),
            dir.file_name().map_or(String::new(), |n| n.to_string_lossy().into_owned())
        );
    }
    if !dir.is_dir() {
        anyhow::bail!(
            "--resume {}: no such run folder; pass the --out folder of an earlier `trainer fit`",
            dir.display()
        );
    }
    let path = fit::checkpoint_path(dir);
    if !path.exists() {
        anyhow::bail!(
            "--resume {}: the folder holds no checkpoint.safetensors; pass the --out folder of an earlier `trainer fit`",
            dir.display()
        );
    }
    Checkpoint::load(&path).map_err(|e| match e {
        CheckpointError::Version { found, .. } => anyhow::anyhow!(
            "cannot resume {}: its checkpoint has format version {found} ({}), and this trainer reads version {VERSION}; \
             resume it with the trainer that wrote it, or start a new run there with `--out {} --overwrite`",
            dir.display(),
            if found > VERSION { "written by a newer trainer" } else { "written by an older trainer" },
            dir.display(),
        ),
        e => anyhow::Error::new(e).context(format!("cannot resume {}", dir.display())),
    })
}

/// The pictures in `out` written since `since`.
fn pictures_written(out: &Path, since: std::time::SystemTime) -> Vec<&'static str> {
    ["samples.png", "density.png", "curves.png"]
        .into_iter()
        .filter(|p| std::fs::metadata(out.join(p)).and_then(|m| m.modified()).is_ok_and(|t| t >= since))
        .collect()
}

/// SIGINT and SIGTERM set `stop` (the training loop then saves and
/// returns); a second one ends the process at once (checkpoints are
/// written atomically, so nothing is half-written).
fn stop_on_signals() -> Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = Arc::new(AtomicBool::new(false));
    let mut signals =
        signal_hook::iterator::Signals::new([SIGINT, SIGTERM]).context("cannot install signal handlers")?;
    let flag = Arc::clone(&stop);
    std::thread::spawn(move || {
        for sig in signals.forever() {
            if flag.swap(true, Ordering::SeqCst) {
                eprintln!("\ntrainer: stopped at once (signal {sig} again); the last saved checkpoint is kept");
                std::process::exit(INTERRUPTED);
            }
            eprintln!(
                "\ntrainer: stopping: saving a checkpoint at the end of this iteration (send it again to quit at once)"
            );
        }
    });
    Ok(stop)
}

/// Exit code of a run stopped by SIGINT / SIGTERM (128 + SIGINT, as shells report Ctrl-C).
const INTERRUPTED: i32 = 130;

fn run_fit(a: FitArgs, given: &[String]) -> Result<()> {
    if a.threads == 0 {
        return Err(usage(anyhow::anyhow!("--threads must be at least 1")));
    }
    let device = fit::parse_device(&a.device)?;
    let config = fit_config(&a).map_err(usage)?;
    warn_ignored(&a, given);
    let (out, source) = match &a.resume {
        Some(dir) => {
            let ckpt = resumable(dir)?;
            // The resumed run's data, for the summary line (fit reports a missing trainer state).
            let state: Option<fit::TrainState> = serde_json::from_value(ckpt.meta.train.clone()).ok();
            (dir.clone(), state.map(|s| s.config.source()).transpose()?)
        }
        None => {
            let source = config.source()?;
            let out = a.out.clone().unwrap_or_else(|| default_out(&config));
            prepare_run_folder(&out, a.overwrite)?;
            (out, Some(source))
        }
    };
    let stop = stop_on_signals()?;
    let opts = RunOptions {
        out: out.clone(),
        device,
        threads: a.threads,
        progress: !a.quiet,
        stop_at: a.stop_at,
        stop: Some(stop),
    };
    if let Some(source) = &source {
        eprintln!("data: {}", source.summary());
        for line in source.notes() {
            match line.strip_prefix("warning: ") {
                Some(w) => eprintln!("warning: {w}"),
                None => eprintln!("data: {line}"),
            }
        }
    }
    eprintln!("trainer: {device:?}, {} thread(s), run folder {}", a.threads, out.display());
    let started = std::time::SystemTime::now() - std::time::Duration::from_secs(1);
    let report = fit::fit(config, a.resume.as_deref(), &opts)?;
    println!(
        "trained {} iterations at {:.1} it/s; L_E {:+.4}, L_G {:+.4}",
        report.iters_run, report.iters_per_sec, report.loss_energy, report.loss_generator
    );
    if let Some(sel) = &report.selection {
        println!("energy chosen on held-out normal rows: {}", sel.describe());
    }
    if let Ok(m) = std::fs::read_to_string(out.join("metrics.csv")) {
        if let Some(last) = m.lines().last() {
            println!("last evaluation (iteration,mmd2,mmd2_floor,modes_covered,high_quality_pct,nll): {last}");
        }
    }
    println!("checkpoint: {}", report.checkpoint.display());
    let pictures = pictures_written(&out, started);
    if !pictures.is_empty() {
        println!(
            "pictures:   {}",
            pictures.iter().map(|p| out.join(p).display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}

fn run_eval(checkpoint: PathBuf, out: Option<PathBuf>, seed: u64) -> Result<()> {
    let ckpt = Checkpoint::load(&checkpoint)?;
    let model = Ddaebm::from_checkpoint(&ckpt, tch::Device::cuda_if_available())?;
    let state: fit::TrainState = serde_json::from_value(ckpt.meta.train.clone())
        .with_context(|| format!("{}: no trainer state", checkpoint.display()))?;
    let source = state.config.source()?;
    let r = eval::evaluate(&model, &source, ckpt.meta.iteration, EvalSizes::FULL, seed);
    println!("iteration            {}", r.iteration);
    println!(
        "MMD²                 {:.6}  (data-vs-data floor {:.6}, ratio {:.2})",
        r.mmd2,
        r.mmd2_floor,
        r.mmd2 / r.mmd2_floor
    );
    if let Some(m) = r.mmd2_bn_batch_stats {
        println!("MMD², BatchNorm batch statistics (reference behaviour) {m:.6}");
    }
    if let (Some(c), Some(t), Some(h)) = (r.modes_covered, r.modes_total, r.high_quality_pct) {
        println!("modes covered        {c} / {t}");
        println!("high-quality samples {h:.2} %");
    }
    if let Some(nll) = r.nll {
        match r.true_entropy {
            Some(h) => println!("energy NLL           {nll:.3} nats  (true entropy {h:.3})"),
            None => println!("energy NLL           {nll:.3} nats"),
        }
    }
    let out = out.unwrap_or_else(|| checkpoint.parent().map(PathBuf::from).unwrap_or_default().join("eval.json"));
    std::fs::write(&out, serde_json::to_string_pretty(&r)?)
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!("wrote {}", out.display());
    Ok(())
}

fn run_sample(checkpoint: PathBuf, n: usize, seed: u64, out: PathBuf) -> Result<()> {
    let ckpt = Checkpoint::load(&checkpoint)?;
    let model = Ddaebm::from_checkpoint(&ckpt, tch::Device::cuda_if_available())?;
    let s = ddaebm_trainer::sampling::sample(&model, n, seed, false);
    let norm = &ckpt.meta.normalisation;
    let d = model.arch.data_dim;
    let raw: Vec<f32> =
        s.iter().enumerate().map(|(i, v)| (*v as f64 * norm.std[i % d] + norm.mean[i % d]) as f32).collect();
    let bytes = if out.extension().is_some_and(|e| e == "npy") {
        npy_f32(&raw, n, d)
    } else {
        let mut text = String::new();
        for row in raw.chunks(d) {
            let cells: Vec<String> = row.iter().map(|v| v.to_string()).collect();
            text.push_str(&cells.join(","));
            text.push('\n');
        }
        text.into_bytes()
    };
    std::fs::write(&out, bytes).with_context(|| format!("cannot write {}", out.display()))?;
    println!("wrote {n} samples to {}", out.display());
    Ok(())
}

fn run_data(dataset: String, n: usize, anomalies: usize, seed: u64, out: PathBuf) -> Result<()> {
    use rand::{Rng, SeedableRng};
    let toy: ddaebm_trainer::data::Toy = dataset.parse()?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let points = toy.sample(n, &mut rng);
    let (lo, hi) = eval::bounds(&points);
    let mut text = String::from(if anomalies > 0 { "x,y,label\n" } else { "x,y\n" });
    let tail = if anomalies > 0 { ",0" } else { "" };
    for p in points.chunks(2) {
        text += &format!("{},{}{tail}\n", p[0], p[1]);
    }
    for _ in 0..anomalies {
        let u: Vec<f64> = (0..2)
            .map(|j| {
                let pad = 0.25 * (hi[j] - lo[j]);
                rng.gen_range(lo[j] - pad..hi[j] + pad)
            })
            .collect();
        text += &format!("{},{},1\n", u[0] as f32, u[1] as f32);
    }
    std::fs::write(&out, text).with_context(|| format!("cannot write {}", out.display()))?;
    println!("wrote {n} {dataset} points and {anomalies} uniform off-data points to {}", out.display());
    Ok(())
}

/// A NumPy v1.0 `.npy` file of little-endian f32, shape [n, d].
fn npy_f32(data: &[f32], n: usize, d: usize) -> Vec<u8> {
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({n}, {d}), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data.iter().flat_map(|v| v.to_le_bytes()));
    out
}

/// The exit code for an error: [`UsageError::EXIT_CODE`] for a
/// [`UsageError`], 1 otherwise (as `export`).
fn exit_code(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<UsageError>().is_some() {
        UsageError::EXIT_CODE
    } else {
        1
    }
}

fn main() -> ExitCode {
    ddaebm_host::cli::restore_default_sigpipe();
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let result = match cli.cmd {
        Cmd::Fit(a) => {
            let m = matches.subcommand_matches("fit").expect("the fit subcommand");
            run_fit(a, &given_flags(m))
        }
        Cmd::Eval { checkpoint, out, seed } => run_eval(checkpoint, out, seed),
        Cmd::Sample { checkpoint, n, seed, out } => run_sample(checkpoint, n, seed, out),
        Cmd::Data { dataset, n, anomalies, seed, out } => run_data(dataset, n, anomalies, seed, out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(fit::FitError::Interrupted(i)) = e.downcast_ref::<fit::FitError>() {
                eprintln!("trainer: {i}");
                return ExitCode::from(INTERRUPTED as u8);
            }
            eprintln!("error: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fit_args(args: &[&str]) -> FitArgs {
        let argv = ["trainer", "fit"].iter().chain(args).copied();
        match Cli::try_parse_from(argv).expect("flags parse").cmd {
            Cmd::Fit(a) => a,
            _ => unreachable!("`fit` parses as Cmd::Fit"),
        }
    }

    #[test]
    fn flag_defaults_are_the_config_defaults() {
        let c = fit_config(&fit_args(&[])).unwrap();
        let d = FitConfig::default();
        assert_eq!(
            (c.lr_energy, c.lr_generator, c.lazy_reg, c.r1_gamma),
            (d.lr_energy, d.lr_generator, d.lazy_reg, d.r1_gamma)
        );
        assert_eq!((c.steps, c.nz, c.trunk.clone(), c.beta_max), (d.steps, d.nz, d.trunk, d.beta_max));
        assert_eq!((c.cosine_lr, c.forward_kl_weight), (d.cosine_lr, d.forward_kl_weight));
        assert!(!fit_config(&fit_args(&["--constant-lr"])).unwrap().cosine_lr);
        assert!(fit_config(&fit_args(&["--cosine-lr"])).unwrap().cosine_lr);
    }

    #[test]
    fn per_network_learning_rates_override_lr() {
        let c = fit_config(&fit_args(&["--lr", "1e-3", "--lr-generator", "2e-3"])).unwrap();
        assert_eq!((c.lr_energy, c.lr_generator), (1e-3, 2e-3));
        let c = fit_config(&fit_args(&["--lr-energy", "3e-4"])).unwrap();
        assert_eq!((c.lr_energy, c.lr_generator), (3e-4, FitConfig::default().lr_generator));
    }

    #[test]
    fn non_positive_learning_rates_are_refused_with_the_flag_named() {
        for arg in ["--lr=0", "--lr-energy=-1e-3", "--lr-generator=NaN"] {
            let e = fit_config(&fit_args(&[arg])).unwrap_err().to_string();
            assert!(e.contains("must be a positive number"), "{arg}: {e}");
        }
        let e = fit_config(&fit_args(&["--lr-energy", "0"])).unwrap_err().to_string();
        assert!(e.starts_with("--lr-energy"), "{e}");
    }
}
