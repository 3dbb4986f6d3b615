//! The training loop: `trainer fit`.
//!
//! Each iteration draws its randomness from seeds derived from
//! (`seed`, iteration) — the data batch from a ChaCha RNG, everything
//! libtorch draws from its global generator re-seeded per iteration — so a
//! run is a pure function of its configuration, and `--resume` continues it
//! exactly from any checkpoint.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use ddaebm_host::base::GaussianBase;
use ddaebm_host::checkpoint::{
    Arch, BaseMeta, Checkpoint, CheckpointError, CheckpointMeta, HostTensor, ScheduleKind, BASE_BASIS, BASE_LOG_WEIGHT,
    BASE_MEAN, BASE_VARIANCE, FORMAT, VERSION,
};
use ddaebm_host::mixture::{choose_base, Mixture};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::adam::Adam;
use crate::data::{Source, Toy, UnknownDataset};
use crate::diffusion::{compute_schedule, ScheduleError};
use crate::eval::{self, EvalSizes};
use crate::losses::{energy_loss, generator_loss, Batch};
use crate::model::{Ddaebm, Ema, RestoreError};
use crate::sampling::{mix_seed, sample};
use crate::select::{self, Selector};

/// The whole training configuration (stored in every checkpoint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitConfig {
    /// Built-in data set name (ignored when `data` is set).
    pub dataset: String,
    /// The user's data file (`.csv` / `.npy`), instead of a built-in set.
    #[serde(default)]
    pub data: Option<String>,
    /// Turn a series into overlapping windows of this many rows.
    #[serde(default)]
    pub window: Option<usize>,
    /// Fraction of the user's rows held out for evaluation.
    #[serde(default)]
    pub holdout: f64,
    /// Train on these columns of the user's file only, in this order.
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// Leave these columns of the user's file out.
    #[serde(default)]
    pub drop_columns: Vec<String>,
    /// Leave out every column of the user's file that is constant.
    #[serde(default)]
    pub drop_constant: bool,
    /// A label column of the user's file: never trained on.
    #[serde(default)]
    pub label_column: Option<String>,
    /// Total training iterations.
    pub iters: u64,
    /// Batch size.
    pub batch_size: usize,
    /// T, the number of denoising steps.
    pub steps: usize,
    /// Variance schedule.
    pub schedule: ScheduleKind,
    /// β_min.
    pub beta_min: f64,
    /// β_max.
    pub beta_max: f64,
    /// Seed of everything random.
    pub seed: u64,
    /// Generator latent size.
    pub nz: usize,
    /// Trunk hidden widths.
    pub trunk: Vec<usize>,
    /// BatchNorm in G and q_φ.
    pub batchnorm: bool,
    /// Learning rate of f.
    pub lr_energy: f64,
    /// Learning rate of G and q_φ.
    pub lr_generator: f64,
    /// Adam β1.
    pub beta1: f64,
    /// Adam β2.
    pub beta2: f64,
    /// R1 penalty weight γ.
    pub r1_gamma: f64,
    /// Weight of the forward-KL half of the generator loss, L_rec + L_KL
    /// (docs/algorithm.md §5: 1).
    #[serde(default = "one_f64")]
    pub forward_kl_weight: f64,
    /// Lazy regularisation: apply the R1 penalty every this many iterations,
    /// with weight γ · lazy_reg (so its average strength is unchanged).
    #[serde(default = "one")]
    pub lazy_reg: u64,
    /// Exponential moving average of the generator's weights (0: off). The
    /// EMA weights are what sampling, evaluation and `export` use.
    #[serde(default)]
    pub ema_decay: f64,
    /// Cosine learning-rate decay from `lr_*` to `lr_min` over `iters`.
    #[serde(default)]
    pub cosine_lr: bool,
    /// Final learning rate of the cosine decay.
    #[serde(default = "lr_min")]
    pub lr_min: f64,
    /// Write a checkpoint every this many iterations (0: only at the end).
    pub checkpoint_every: u64,
    /// Append a row to `log.csv` every this many iterations.
    pub log_every: u64,
    /// Evaluate (metrics.csv) and redraw the pictures every this many iterations (0: only at the end).
    #[serde(default)]
    pub eval_every: u64,
    /// Give f a Gaussian base measure fitted to the training rows, with the
    /// network's output bounded to (−`residual_bound`, `residual_bound`)
    /// (`ddaebm_host::base`; docs/training.md, departure 9). Off in
    /// checkpoints written before it existed.
    #[serde(default)]
    pub energy_base: bool,
    /// B of the base measure: the network's part of f stays in (−B, B).
    #[serde(default = "default_residual_bound")]
    pub residual_bound: f64,
    /// Weight of the noise-contrastive term against the base measure in
    /// the energy loss (`losses::energy_loss`; 0: off).
    #[serde(default)]
    pub nce_weight: f64,
    /// Fraction of the user's training rows set aside to choose the energy
    /// (the training iteration and the residual's scale, `select`): 0.2
    /// with `--data`, 0 (off) for the built-in sets and in checkpoints
    /// written before it existed.
    #[serde(default)]
    pub select: f64,
    /// Components K of the energy's base measure: 1 (one Gaussian, the
    /// default of the built-in sets and of checkpoints written before
    /// mixtures existed), K ≥ 2 (a K-component Gaussian mixture), or 0:
    /// chosen on the rows set aside (`select`) among 1..8 (`--data`).
    #[serde(default = "one_usize")]
    pub base_components: usize,
    /// The share of each batch's rows drawn at step t = 0 (the rest
    /// uniform over 1..T−1); `None`: every step equally often (1/T each).
    #[serde(default)]
    pub t0_share: Option<f64>,
}

fn one_usize() -> usize {
    1
}

fn default_residual_bound() -> f64 {
    8.0
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            dataset: "25gaussians".into(),
            data: None,
            window: None,
            holdout: 0.0,
            columns: None,
            drop_columns: Vec::new(),
            drop_constant: false,
            label_column: None,
            iters: 5000,
            batch_size: 200,
            steps: 4,
            schedule: ScheduleKind::Vp,
            beta_min: 0.1,
            beta_max: 20.0,
            seed: 0,
            nz: 2,
            trunk: vec![300, 300],
            batchnorm: true,
            // docs/algorithm.md §5 says 1e-4; 2e-3 (with the cosine decay below) measured
            // best on 25gaussians (docs/quality.md: 70.8 % high-quality samples and
            // MMD² 0.0050 after 20,000 iterations, against 60.1 % and 0.0080 at 5e-4).
            lr_energy: 2e-3,
            lr_generator: 2e-3,
            beta1: 0.0,
            beta2: 0.9,
            r1_gamma: 0.02,
            forward_kl_weight: 1.0,
            // docs/algorithm.md §5 applies R1 every iteration; every 4th (at 4γ) trained as
            // well on 25gaussians and 1.37x faster (docs/training.md).
            lazy_reg: 4,
            ema_decay: 0.0,
            // Cosine decay to lr_min, as the reference's image runs
            // (docs/quality.md: better samples and MMD² at 20,000 iterations).
            cosine_lr: true,
            lr_min: 1e-5,
            checkpoint_every: 1000,
            log_every: 50,
            eval_every: 0,
            // Departure 9 (docs/training.md): without it −f(x, 0) ranks real
            // anomalies backwards (docs/anomaly-benchmark.md).
            energy_base: true,
            residual_bound: default_residual_bound(),
            nce_weight: 1.0,
            select: 0.0,
            base_components: 1,
            t0_share: None,
        }
    }
}

fn one_f64() -> f64 {
    1.0
}

fn one() -> u64 {
    1
}

fn lr_min() -> f64 {
    1e-5
}

impl FitConfig {
    /// The default bound B of the energy's residual: 8, for the user's data
    /// as for the built-in sets. With `--data` the run then chooses on
    /// held-out normal rows how much of it to use (`select`, s · B with
    /// s ∈ [0, 1]): a fixed B = 2, the default before that choice existed,
    /// held multimodal tables back (docs/training.md, departure 9).
    pub fn residual_bound_for(_user_data: bool) -> f64 {
        default_residual_bound()
    }

    /// The default weight of the noise-contrastive term: 4 with `--data`
    /// (the held-out choice needs a residual close to log p/q, which this
    /// term alone learns), 1 for the built-in sets (docs/training.md,
    /// departure 9, and "Settings chosen on held-out normal rows").
    pub fn nce_weight_for(user_data: bool) -> f64 {
        if user_data {
            4.0
        } else {
            1.0
        }
    }

    /// The default fraction of training rows set aside to choose the
    /// energy: 0.2 of the user's rows (docs/training.md, "Settings chosen on
    /// held-out normal rows"); none for the built-in sets, which are drawn
    /// fresh every batch.
    pub fn select_for(user_data: bool) -> f64 {
        if user_data {
            0.2
        } else {
            0.0
        }
    }

    /// The default components of the base measure: chosen on held-out rows
    /// (0) for the user's data, one Gaussian for the built-in sets
    /// (docs/training.md, departure 11).
    pub fn base_components_for(user_data: bool) -> usize {
        if user_data {
            0
        } else {
            1
        }
    }

    /// Learning-rate factor at iteration `iter`: 1, or the cosine decay
    /// towards `lr_min / lr`.
    pub fn lr_at(&self, base: f64, iter: u64) -> f64 {
        if !self.cosine_lr {
            return base;
        }
        let p = iter as f64 / self.iters.max(1) as f64;
        self.lr_min + 0.5 * (base - self.lr_min) * (1.0 + (std::f64::consts::PI * p).cos())
    }

    /// The data source this configuration names.
    pub fn source(&self) -> Result<Source> {
        Ok(match &self.data {
            Some(path) => {
                let mut s =
                    Source::from_file(Path::new(path), &self.column_choice(), self.window, self.holdout, self.seed)?;
                s.set_aside(self.select, mix_seed(self.seed, SELECT_STREAM));
                s
            }
            None => Source::Toy(self.dataset.parse::<Toy>()?),
        })
    }

    /// Which columns of the user's file the model reads.
    pub fn column_choice(&self) -> ddaebm_host::table::ColumnChoice {
        ddaebm_host::table::ColumnChoice {
            columns: self.columns.clone(),
            drop: self.drop_columns.clone(),
            drop_constant: self.drop_constant,
            label: self.label_column.clone(),
        }
    }

    /// The architecture this configuration builds.
    pub fn arch(&self, data_dim: usize) -> Arch {
        Arch {
            data_dim,
            nz: self.nz,
            t_emb_dim: 16,
            x_enc: vec![16, 32],
            t_enc: vec![16, 32],
            trunk: self.trunk.clone(),
            encoder_out: 16,
            batchnorm: self.batchnorm,
            bn_eps: 1e-5,
        }
    }
}

/// The state kept in a checkpoint's `train` record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainState {
    /// Configuration.
    pub config: FitConfig,
    /// Adam steps of the energy optimiser.
    pub adam_energy_step: u64,
    /// Adam steps of the generator optimiser.
    pub adam_generator_step: u64,
    /// Libtorch thread count used (results are reproducible for the same count).
    pub threads: usize,
    /// The best energy so far on the rows set aside (`select`).
    #[serde(default)]
    pub selection: Option<select::Best>,
}

/// Where and how to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Run folder (checkpoint, log).
    pub out: PathBuf,
    /// Training device.
    pub device: Device,
    /// Libtorch intra-op threads.
    pub threads: usize,
    /// Show a progress bar.
    pub progress: bool,
    /// Stop at this iteration (checkpoint, evaluation) as if interrupted,
    /// although the schedule (cosine decay) spans `iters`; `--resume`
    /// continues exactly. `None`: run to `iters`.
    pub stop_at: Option<u64>,
    /// A stop request (`trainer` sets it on SIGINT / SIGTERM), checked once
    /// per iteration: when set, the run writes its checkpoint at the
    /// iteration reached, flushes `log.csv` and returns [`Interrupted`].
    pub stop: Option<Arc<AtomicBool>>,
}

/// What stops [`fit`] (and the configuration around it); every message
/// says what to do.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    /// The user's data file cannot be used.
    #[error(transparent)]
    Data(#[from] ddaebm_host::table::DataError),
    /// `--dataset` names no built-in set.
    #[error(transparent)]
    UnknownDataset(#[from] UnknownDataset),
    /// The schedule flags give no valid diffusion.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// Reading or writing a checkpoint failed.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A checkpoint's tensors do not fit the model it describes.
    #[error(transparent)]
    Restore(#[from] RestoreError),
    /// `--resume DIR` names no readable checkpoint.
    #[error("no checkpoint to resume in {}; pass the run folder of an earlier `trainer fit`", .dir.display())]
    NoCheckpoint {
        /// The run folder.
        dir: PathBuf,
        /// Why it cannot be read.
        source: CheckpointError,
    },
    /// The checkpoint has no trainer state to resume from.
    #[error("{}: no trainer state; was it written by `trainer fit`?", .path.display())]
    NoTrainState {
        /// The checkpoint.
        path: PathBuf,
        /// Why the state does not parse.
        source: serde_json::Error,
    },
    /// The run folder cannot be created.
    #[error("cannot create run folder {}", .path.display())]
    CreateFolder {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file cannot be created.
    #[error("cannot write {}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Writing the log failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The trainer state does not serialise.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// The flags or the run's state refuse the request, or training
    /// diverged; the message says what to change.
    #[error("{0}")]
    Refused(String),
    /// [`RunOptions::stop`] was set: see [`Interrupted`].
    #[error(transparent)]
    Interrupted(#[from] Interrupted),
}

/// [`fit`]'s results.
pub type Result<T, E = FitError> = std::result::Result<T, E>;

/// Returns early with [`FitError::Refused`].
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err(FitError::Refused(format!($($arg)*)))
    };
}

/// The error [`fit`] returns when [`RunOptions::stop`] was set: nothing is
/// lost, the run continues exactly with `trainer fit --resume`.
#[derive(Debug, thiserror::Error)]
#[error(
    "interrupted at iteration {iteration} of {iters}: the checkpoint is saved ({}) and log.csv flushed; \
     continue with `trainer fit --resume {} --iters {iters}`",
    checkpoint.display(),
    out.display()
)]
pub struct Interrupted {
    /// Iterations done, all in the checkpoint.
    pub iteration: u64,
    /// The run's planned total.
    pub iters: u64,
    /// The checkpoint written.
    pub checkpoint: PathBuf,
    /// The run folder.
    pub out: PathBuf,
}

impl RunOptions {
    /// CPU, one thread, no progress bar, to the end: what tests and scripts
    /// that train in-process want.
    pub fn quiet_cpu(out: impl Into<PathBuf>) -> Self {
        RunOptions { out: out.into(), device: Device::Cpu, threads: 1, progress: false, stop_at: None, stop: None }
    }
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct FitReport {
    /// Path of the final checkpoint.
    pub checkpoint: PathBuf,
    /// Iterations run in this call.
    pub iters_run: u64,
    /// Mean training speed of this call.
    pub iters_per_sec: f64,
    /// Last energy loss.
    pub loss_energy: f64,
    /// Last generator loss.
    pub loss_generator: f64,
    /// The energy chosen on the rows set aside, when the run chose one.
    pub selection: Option<ddaebm_host::checkpoint::Selection>,
}

/// Seed stream of the rows the base measure is fitted to (built-in sets only).
const BASE_STREAM: u64 = u64::MAX - 1;
/// Seed stream of the rows set aside to choose the energy.
const SELECT_STREAM: u64 = u64::MAX - 2;
/// Seed stream of the base draws that choose the energy.
const SELECT_NOISE_STREAM: u64 = u64::MAX - 3;
/// Seed stream of the mixture fit's start.
const MIXTURE_STREAM: u64 = u64::MAX - 4;

/// The checkpoint file inside a run folder.
pub fn checkpoint_path(out: &Path) -> PathBuf {
    out.join("checkpoint.safetensors")
}

/// Parses `--device`: `auto` (CUDA when available), `cpu`, `cuda` or `cuda:N`.
pub fn parse_device(s: &str) -> Result<Device> {
    Ok(match s {
        "auto" => Device::cuda_if_available(),
        "cpu" => Device::Cpu,
        "cuda" | "gpu" => {
            if !tch::Cuda::is_available() {
                bail!("--device cuda: no CUDA device is visible to libtorch; use --device cpu (or auto)");
            }
            Device::Cuda(0)
        }
        other => match other.strip_prefix("cuda:").and_then(|n| n.parse::<usize>().ok()) {
            Some(n) if n < tch::Cuda::device_count() as usize => Device::Cuda(n),
            _ => bail!("--device {other}: expected auto, cpu, cuda or cuda:N with a visible device N"),
        },
    })
}

/// Trains from scratch (`resume = None`) or continues the run in `resume`
/// until `config.iters` (for a resumed run, `config` comes from the
/// checkpoint except `iters`).
pub fn fit(config: FitConfig, resume: Option<&Path>, opts: &RunOptions) -> Result<FitReport> {
    tch::set_num_threads(opts.threads as i32);
    std::fs::create_dir_all(&opts.out).map_err(|source| FitError::CreateFolder { path: opts.out.clone(), source })?;

    let (config, mut model, mut opt_e, mut opt_g, mut ema, start, resumed) = match resume {
        None => {
            let schedule = compute_schedule(config.schedule, config.beta_min, config.beta_max, config.steps)?;
            let source = config.source()?;
            let dim = source.dim();
            let mut model = Ddaebm::new(config.arch(dim), schedule, opts.device, config.seed);
            if config.energy_base {
                let rows = source.base_rows(mix_seed(config.seed, BASE_STREAM));
                model.set_base(Some(fit_base(&config, &rows, source.select_rows(), dim)));
            }
            let (e, g) = optimisers(&model, &config);
            let ema = (config.ema_decay > 0.0).then(|| Ema::new(&model));
            (config, model, e, g, ema, 0, None)
        }
        Some(dir) => {
            let path = checkpoint_path(dir);
            let ckpt =
                Checkpoint::load(&path).map_err(|source| FitError::NoCheckpoint { dir: dir.to_path_buf(), source })?;
            let state: TrainState = serde_json::from_value(ckpt.meta.train.clone())
                .map_err(|source| FitError::NoTrainState { path: path.clone(), source })?;
            let mut cfg = state.config.clone();
            cfg.iters = config.iters;
            if cfg.cosine_lr && state.config.iters != cfg.iters && cfg.iters > ckpt.meta.iteration {
                let at = ckpt.meta.iteration;
                let planned = state.config.iters;
                let hint = if at < planned {
                    format!(" (resume with --iters {planned} to finish the planned schedule)")
                } else {
                    String::new()
                };
                eprintln!(
                    "note: the cosine learning-rate schedule now spans {} iterations instead of {planned}; \
                     at iteration {at} the learning rate moves from {:.2e} to {:.2e}{hint}",
                    cfg.iters,
                    state.config.lr_at(state.config.lr_generator, at),
                    cfg.lr_at(cfg.lr_generator, at),
                );
            }
            if state.threads != opts.threads {
                eprintln!(
                    "note: resuming with {} threads, the run used {}; results will differ in the last bits",
                    opts.threads, state.threads
                );
            }
            let mut model = Ddaebm::from_checkpoint_live(&ckpt, opts.device)?;
            select::restore_live(&mut model, &ckpt, cfg.residual_bound)?;
            let (mut e, mut g) = optimisers(&model, &cfg);
            e.load_state("adam.energy", &ckpt.tensors, state.adam_energy_step)?;
            g.load_state("adam.generator", &ckpt.tensors, state.adam_generator_step)?;
            let mut ema = (cfg.ema_decay > 0.0).then(|| Ema::new(&model));
            if let Some(ema) = &mut ema {
                ema.load_state(&ckpt.tensors)?;
            }
            let at = ckpt.meta.iteration;
            (cfg, model, e, g, ema, at, Some((state.selection, ckpt.tensors)))
        }
    };
    let source = config.source()?;
    if source.dim() != model.arch.data_dim {
        bail!("the data has {} columns, the checkpoint's model {}", source.dim(), model.arch.data_dim);
    }
    if start >= config.iters {
        bail!("the run is already at iteration {start}; pass --iters larger than that to continue");
    }
    let end = match opts.stop_at {
        Some(stop) if stop <= start => bail!("--stop-at {stop}: the run is already at iteration {start}"),
        Some(stop) => stop.min(config.iters),
        None => config.iters,
    };

    let mut selector = Selector::new(&model, source.select_rows(), mix_seed(config.seed, SELECT_NOISE_STREAM));
    if let (Some(sel), Some((best, tensors))) = (selector.as_mut(), &resumed) {
        sel.restore(*best, tensors, opts.device)?;
    }
    let select_every = (config.iters / select::EVALUATIONS).max(50);
    if start == 0 {
        let _ = std::fs::remove_file(opts.out.join("metrics.csv"));
    }
    let select_log = opts.out.join("select.csv");
    if selector.is_some() {
        select::start_log(&select_log, start)?;
    }
    let log_path = opts.out.join("log.csv");
    let mut log = open_log(&log_path, start)?;
    let bar = progress_bar(opts.progress, start, end);
    let t0 = Instant::now();
    let (mut last_e, mut last_g) = (f64::NAN, f64::NAN);
    for iter in start..end {
        if opts.stop.as_ref().is_some_and(|stop| stop.load(Ordering::SeqCst)) {
            // Everything before `iter` is done: save it as a periodic checkpoint would.
            bar.abandon();
            let checkpoint =
                save(&model, &source, &config, &opt_e, &opt_g, ema.as_ref(), selector.as_ref(), iter, opts)?;
            log.flush()?;
            return Err(Interrupted { iteration: iter, iters: config.iters, checkpoint, out: opts.out.clone() }.into());
        }
        let iter_seed = mix_seed(config.seed, iter + 1);
        tch::manual_seed(iter_seed as i64);
        let mut rng = ChaCha8Rng::seed_from_u64(iter_seed);
        let x0 = Tensor::from_slice(&source.batch(config.batch_size, &mut rng))
            .view([config.batch_size as i64, source.dim() as i64])
            .to_device(opts.device);
        let t = draw_steps(&config, opts.device);
        let (x_t, x_t1) = model.diffusion.q_sample_pairs(&x0, &t);
        let batch = Batch { t, x_t, x_t1 };

        // Energy update.
        opt_e.lr = config.lr_at(config.lr_energy, iter);
        opt_g.lr = config.lr_at(config.lr_generator, iter);
        let lazy = config.lazy_reg.max(1);
        let gamma = if iter % lazy == 0 { config.r1_gamma * lazy as f64 } else { 0.0 };
        let le = energy_loss(&model.energy, &model.generator, &model.diffusion, &batch, gamma, config.nce_weight);
        opt_e.zero_grad();
        le.loss.backward();
        opt_e.step();

        // Generator + encoder update, f frozen.
        model.energy_vs.freeze();
        let lg = generator_loss(
            &model.energy,
            &model.generator,
            &model.encoder,
            &model.diffusion,
            &batch,
            config.forward_kl_weight,
        );
        opt_g.zero_grad();
        lg.loss.backward();
        opt_g.step();
        model.energy_vs.unfreeze();
        if let Some(ema) = &mut ema {
            ema.update(config.ema_decay);
        }

        let (e_val, g_val) = (le.loss.double_value(&[]), lg.loss.double_value(&[]));
        if !e_val.is_finite() || !g_val.is_finite() {
            bar.abandon();
            bail!(
                "training diverged at iteration {iter} (energy loss {e_val}, generator loss {g_val}); {}. \
                 Try a smaller learning rate or a larger --r1-gamma",
                kept_checkpoint(&opts.out)
            );
        }
        (last_e, last_g) = (e_val, g_val);
        let done = iter + 1;
        if done % config.log_every == 0 || done == end {
            let its = (done - start) as f64 / t0.elapsed().as_secs_f64();
            writeln!(
                log,
                "{done},{e_val:.6},{:.6},{:.6},{:.6},{g_val:.6},{:.6},{:.6},{:.6},{:.6},{its:.2}",
                le.f_real, le.f_fake, le.r1, lg.e_f, lg.lat, lg.rec, lg.kl
            )?;
            bar.set_message(format!("L_E {e_val:+.3}  L_G {g_val:+.3}  E_F {:+.3}  rec {:+.3}", lg.e_f, lg.rec));
        }
        bar.inc(1);
        if let Some(sel) = selector.as_mut() {
            if done % select_every == 0 || done == config.iters {
                let gains = sel.observe(&model, done);
                select::append_log(&select_log, done, &gains)?;
            }
        }
        if config.checkpoint_every > 0 && done % config.checkpoint_every == 0 && done != end {
            save(&model, &source, &config, &opt_e, &opt_g, ema.as_ref(), selector.as_ref(), done, opts)?;
            log.flush()?;
        }
        if config.eval_every > 0 && done % config.eval_every == 0 && done != end {
            log.flush()?;
            evaluate_and_plot(&model, ema.as_mut(), &source, &config, done, opts)?;
        }
    }
    let elapsed = t0.elapsed().as_secs_f64();
    bar.finish();
    let checkpoint = save(&model, &source, &config, &opt_e, &opt_g, ema.as_ref(), selector.as_ref(), end, opts)?;
    log.flush()?;
    evaluate_and_plot(&model, ema.as_mut(), &source, &config, end, opts)?;
    Ok(FitReport {
        checkpoint,
        iters_run: end - start,
        iters_per_sec: (end - start) as f64 / elapsed,
        loss_energy: last_e,
        loss_generator: last_g,
        selection: selector.as_ref().and_then(Selector::selection),
    })
}

/// The energy's base measure for the training rows `rows` (model units):
/// one Gaussian, a K-component mixture, or (`base_components` 0) the
/// better of both on the rows set aside, `held_out` (printed).
fn fit_base(config: &FitConfig, rows: &[f32], held_out: &[f32], dim: usize) -> GaussianBase {
    let (b, seed) = (config.residual_bound, mix_seed(config.seed, MIXTURE_STREAM));
    let gaussian = || GaussianBase::fit(rows, dim, b);
    match config.base_components {
        1 => gaussian(),
        0 if held_out.is_empty() => gaussian(),
        0 => {
            let (base, candidates) = choose_base(rows, held_out, dim, b, seed);
            let lls: Vec<String> = candidates.iter().map(|c| format!("K={} {:.3}", c.components, c.held_out)).collect();
            eprintln!(
                "base: {} (held-out mean log-likelihood per row: {})",
                match base.components() {
                    1 => "one Gaussian".to_string(),
                    k => format!("a mixture of {k} Gaussians"),
                },
                lls.join(", ")
            );
            base
        }
        k => match Mixture::fit(rows, dim, k, seed) {
            Some(m) => m.to_base(b),
            None => {
                eprintln!(
                    "warning: a mixture of {k} Gaussians could not be fitted (a covariance degenerated); using one"
                );
                gaussian()
            }
        },
    }
}

/// The step t of each pair of a batch (`[batch_size]` int64): uniform over
/// 0..T−1 (docs/algorithm.md §5), or with `t0_share` p, a share p at t = 0
/// and the rest uniform over 1..T−1 (docs/training.md, departure 12).
fn draw_steps(config: &FitConfig, device: Device) -> Tensor {
    let n = config.batch_size as i64;
    match config.t0_share {
        None => Tensor::randint(config.steps as i64, [n], (Kind::Int64, device)),
        Some(p) => {
            let rest = Tensor::randint_low(1, config.steps.max(2) as i64, [n], (Kind::Int64, device));
            let zero = Tensor::rand([n], (Kind::Float, device)).lt(p);
            rest.masked_fill(&zero, 0)
        }
    }
}

/// Says which checkpoint survives a failed run.
fn kept_checkpoint(out: &Path) -> String {
    match Checkpoint::load(&checkpoint_path(out)) {
        Ok(c) => format!("the last good checkpoint (iteration {}) is kept in {}", c.meta.iteration, out.display()),
        Err(_) => "no checkpoint had been written yet".to_string(),
    }
}

fn optimisers(model: &Ddaebm, c: &FitConfig) -> (Adam, Adam) {
    let e = Adam::new(Ddaebm::parameters(&model.energy_vs), c.lr_energy, c.beta1, c.beta2);
    let g = Adam::new(Ddaebm::parameters(&model.gen_vs), c.lr_generator, c.beta1, c.beta2);
    (e, g)
}

fn open_log(path: &Path, start: u64) -> Result<std::io::BufWriter<std::fs::File>> {
    const HEADER: &str = "iteration,loss_energy,f_real,f_fake,r1,loss_generator,e_f,l_lat,l_rec,l_kl,iters_per_sec";
    let file = if start == 0 {
        let mut f =
            std::fs::File::create(path).map_err(|source| FitError::Write { path: path.to_path_buf(), source })?;
        writeln!(f, "{HEADER}")?;
        f
    } else {
        // Resume: drop rows past the checkpoint (written after it by the interrupted run).
        let old = std::fs::read_to_string(path).unwrap_or_default();
        let mut f =
            std::fs::File::create(path).map_err(|source| FitError::Write { path: path.to_path_buf(), source })?;
        writeln!(f, "{HEADER}")?;
        for line in old.lines().skip(1) {
            match line.split(',').next().and_then(|s| s.parse::<u64>().ok()) {
                Some(it) if it <= start => writeln!(f, "{line}")?,
                _ => {}
            }
        }
        f
    };
    Ok(std::io::BufWriter::new(file))
}

fn progress_bar(show: bool, start: u64, total: u64) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} it {per_sec} eta {eta} {msg}",
        )
        .expect("valid template"),
    );
    bar.set_position(start);
    bar.reset_eta();
    bar
}

/// Writes the run's checkpoint (atomically) and returns its path.
#[allow(clippy::too_many_arguments)]
pub fn save(
    model: &Ddaebm,
    source: &Source,
    config: &FitConfig,
    opt_e: &Adam,
    opt_g: &Adam,
    ema: Option<&Ema>,
    selector: Option<&Selector>,
    iteration: u64,
    opts: &RunOptions,
) -> Result<PathBuf> {
    let mut tensors = model.to_host();
    let chosen = selector.and_then(|s| s.best.map(|b| (s, b)));
    // Never replace a good checkpoint with a broken one.
    if let Some((name, _)) = tensors.iter().find(|(_, t)| t.data.iter().any(|v| !v.is_finite())) {
        bail!(
            "training diverged by iteration {iteration}: `{name}` is no longer finite; {}. \
             Try a smaller learning rate or a larger --r1-gamma",
            kept_checkpoint(&opts.out)
        );
    }
    tensors.extend(opt_e.state("adam.energy"));
    tensors.extend(opt_g.state("adam.generator"));
    if let Some(ema) = ema {
        tensors.extend(ema.state());
    }
    if let Some((sel, _)) = chosen {
        // energy.* is what export deploys: the chosen network, scaled;
        // live.energy.* what a resumed run trains on.
        for (name, t) in sel.deployed_tensors() {
            if let Some(live) = tensors.insert(name.clone(), t) {
                tensors.insert(format!("{}{name}", select::LIVE_PREFIX), live);
            }
        }
        tensors.extend(sel.best_tensors());
    }
    let energy_base = model.base.as_ref().map(|b| {
        let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        let k = b.components();
        tensors.insert(BASE_BASIS.into(), HostTensor { shape: vec![k * b.dim, b.dim], data: f32s(&b.basis) });
        tensors.insert(BASE_VARIANCE.into(), HostTensor { shape: vec![k * b.dim], data: f32s(&b.variance) });
        if k > 1 {
            tensors.insert(BASE_LOG_WEIGHT.into(), HostTensor { shape: vec![k], data: f32s(&b.log_weight) });
            tensors.insert(BASE_MEAN.into(), HostTensor { shape: vec![k, b.dim], data: f32s(&b.mean) });
        }
        let residual_bound = match chosen {
            Some((_, best)) if best.scale > 0.0 => best.scale * b.residual_bound,
            _ => b.residual_bound,
        };
        BaseMeta { residual_bound, shrinkage: b.shrinkage }
    });
    let state = TrainState {
        config: config.clone(),
        adam_energy_step: opt_e.step,
        adam_generator_step: opt_g.step,
        threads: opts.threads,
        selection: chosen.map(|(_, b)| b),
    };
    let meta = CheckpointMeta {
        format: FORMAT.into(),
        version: VERSION,
        arch: model.arch.clone(),
        schedule: model.schedule.clone(),
        normalisation: source.normalisation(),
        dataset: source.name(),
        iteration,
        train: serde_json::to_value(state)?,
        energy_base,
        input: Some(source.input_contract()),
        selection: selector.and_then(Selector::selection),
    };
    let path = checkpoint_path(&opts.out);
    Checkpoint { meta, tensors }.save(&path)?;
    Ok(path)
}

/// Appends a quick evaluation to `metrics.csv` and redraws the pictures
/// (a failed picture is reported, not fatal: training results matter more).
fn evaluate_and_plot(
    model: &Ddaebm,
    mut ema: Option<&mut Ema>,
    source: &Source,
    config: &FitConfig,
    iteration: u64,
    opts: &RunOptions,
) -> Result<()> {
    // Evaluate what a device gets: the EMA weights, when kept.
    if let Some(ema) = ema.as_deref_mut() {
        ema.swap();
    }
    let r = eval::evaluate(model, source, iteration, EvalSizes::QUICK, mix_seed(config.seed, iteration));
    let drawn = eval::write_plots(model, source, &opts.out, config.seed);
    if let Some(ema) = ema {
        ema.swap();
    }
    let path = opts.out.join("metrics.csv");
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    if text.is_empty() {
        text.push_str("iteration,mmd2,mmd2_floor,modes_covered,high_quality_pct,nll\n");
    }
    // Keep rows up to this iteration (a resumed run rewrites the rest).
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| l.split(',').next().and_then(|v| v.parse::<u64>().ok()).map_or(true, |it| it < iteration))
        .map(String::from)
        .collect();
    let opt = |v: Option<f64>| v.map_or(String::new(), |x| format!("{x:.6}"));
    lines.push(format!(
        "{iteration},{:.6},{:.6},{},{},{}",
        r.mmd2,
        r.mmd2_floor,
        r.modes_covered.map_or(String::new(), |m| m.to_string()),
        opt(r.high_quality_pct),
        opt(r.nll)
    ));
    ddaebm_host::checkpoint::write_atomic(&path, (lines.join("\n") + "\n").as_bytes())?;
    if let Err(e) = drawn {
        eprintln!("warning: could not draw the pictures: {e}");
    }
    Ok(())
}

/// MMD² between `n` model samples and `n` fresh data points, and the
/// data-vs-data noise floor (two independent data draws).
pub fn mmd_report(model: &Ddaebm, toy: Toy, n: usize, seed: u64) -> (f64, f64) {
    let s = sample(model, n, seed, false);
    let mut rng = ChaCha8Rng::seed_from_u64(mix_seed(seed, u64::MAX));
    let d1 = toy.sample(n, &mut rng);
    let d2 = toy.sample(n, &mut rng);
    (crate::metrics::mmd2(&s, &d1, 2), crate::metrics::mmd2(&d2, &d1, 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t0_share_puts_that_share_of_the_batch_at_t_0() {
        let _g = crate::TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner());
        tch::manual_seed(4);
        let share_at_0 = |c: &FitConfig| {
            let t = Vec::<i64>::try_from(draw_steps(c, Device::Cpu)).unwrap();
            assert!(t.iter().all(|&s| (0..c.steps as i64).contains(&s)));
            t.iter().filter(|&&s| s == 0).count() as f64 / t.len() as f64
        };
        let uniform = FitConfig { batch_size: 20_000, ..FitConfig::default() };
        assert!((share_at_0(&uniform) - 0.25).abs() < 0.02);
        let skewed = FitConfig { t0_share: Some(0.75), ..uniform };
        assert!((share_at_0(&skewed) - 0.75).abs() < 0.02);
    }

    #[test]
    fn cosine_learning_rate_runs_from_lr_to_lr_min_over_iters() {
        let c = FitConfig { iters: 1000, lr_min: 1e-5, cosine_lr: true, ..FitConfig::default() };
        assert_eq!(c.lr_at(2e-3, 0), 2e-3);
        assert!((c.lr_at(2e-3, 500) - (2e-3 + 1e-5) / 2.0).abs() < 1e-15);
        assert!((c.lr_at(2e-3, 1000) - 1e-5).abs() < 1e-15);
        let decreasing = (1..1000).all(|i| c.lr_at(2e-3, i) < c.lr_at(2e-3, i - 1));
        assert!(decreasing);
        let constant = FitConfig { cosine_lr: false, ..c };
        assert!((0..1000).step_by(97).all(|i| constant.lr_at(2e-3, i) == 2e-3));
    }
}
