//! The `export` command line (a module of the binary only: it and
//! [`crate::score`] are the only parts of `export` that use `anyhow`):
//! - `export [convert] CHECKPOINT [--f32 | --fp16 | --bf16 | --int8] [--calibrate FILE] [--probe FILE]`:
//!   write a deployable model file after printing its accuracy report (the
//!   bare form `export CHECKPOINT ...` is `export convert CHECKPOINT ...`);
//! - `export inspect MODEL`: what a model file holds and what the runtime needs;
//! - `export score MODEL DATA`: score a data file through the runtime.
//!
//! Usage errors are [`UsageError`]s (the binary exits with 2 for them, as
//! `trainer` does); `--help` and `--version` print and succeed.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{ArgGroup, Parser, Subcommand};
use ddaebm_export::model_file::{DeployModel, Precision};
use ddaebm_export::{calibrate, report};
use ddaebm_host::checkpoint::{write_atomic, Checkpoint};

use crate::score;

pub use ddaebm_host::cli::{restore_default_sigpipe, UsageError};

/// Returns early with a [`UsageError`].
macro_rules! usage {
    ($($arg:tt)*) => {
        return Err(anyhow::Error::new(UsageError(format!($($arg)*))))
    };
}

/// The exit code for an error returned by [`run_args`]:
/// [`UsageError::EXIT_CODE`] for a [`UsageError`], 1 otherwise.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<UsageError>().is_some() {
        UsageError::EXIT_CODE
    } else {
        1
    }
}

/// `export [COMMAND]`.
#[derive(Parser)]
#[command(
    name = "export",
    version,
    about = "Turn a DDAEBM checkpoint into a model file for devices, inspect model files, score data with them",
    override_usage = "export [convert] CHECKPOINT [OPTIONS]\n       export inspect MODEL\n       export score MODEL DATA [OPTIONS]\n       export help [COMMAND]",
    after_help = "`export CHECKPOINT [OPTIONS]` (no command) is `export convert CHECKPOINT [OPTIONS]`.",
    subcommand_required = true
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Turn a checkpoint into a model file, after printing its accuracy
    /// report (the default command: `export CHECKPOINT` is `export convert CHECKPOINT`).
    Convert(ConvertCli),
    /// What a model file holds and what the runtime needs: metadata, tensors,
    /// calibration, flash, scratch RAM, multiply-accumulates per call.
    Inspect {
        /// A model file written by `export` (e.g. runs/25gaussians/model-f32.safetensors).
        model: PathBuf,
        /// Print the same facts as one JSON object on stdout instead (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// Score a CSV / .npy file with a model file, through the device runtime.
    Score(ScoreCli),
}

/// The command names; anything else in first place is the bare conversion form.
const COMMANDS: [&str; 4] = ["convert", "inspect", "score", "help"];

/// `export convert CHECKPOINT ...`.
#[derive(clap::Args)]
#[command(group(ArgGroup::new("precision").args(["f32", "fp16", "bf16", "int8"]).multiple(false)))]
struct ConvertCli {
    /// A checkpoint written by `trainer fit` (e.g. runs/25gaussians/checkpoint.safetensors).
    checkpoint: PathBuf,
    /// Store the weight matrices as f32 (the default).
    #[arg(long)]
    f32: bool,
    /// Store the weight matrices as IEEE half precision.
    #[arg(long)]
    fp16: bool,
    /// Store the weight matrices as bfloat16 (round to nearest even).
    #[arg(long)]
    bf16: bool,
    /// Store the weight matrices as symmetric per-output-channel int8 with an
    /// f32 scale per row.
    #[arg(long)]
    int8: bool,
    /// Output file (default: model-{f32,f16,bf16,int8}.safetensors next to the checkpoint).
    #[arg(short, long)]
    out: Option<PathBuf>,
    /// Held-out NORMAL data (CSV / .npy, raw units, no label column): store
    /// anomaly-score quantiles and a threshold in the file, for the
    /// runtime's `is_anomaly` / `tail_probability`.
    #[arg(long, value_name = "FILE")]
    calibrate: Option<PathBuf>,
    /// Quantile level of the calibrated threshold (fraction of normal
    /// readings below it).
    #[arg(long, default_value_t = calibrate::DEFAULT_LEVEL, value_name = "P", allow_negative_numbers = true)]
    threshold_level: f64,
    /// A labelled probe file for the accuracy report (CSV / .npy, raw units,
    /// with the 0/1 column named by --label-column). Default: samples of the
    /// f32 model vs uniform points around them.
    #[arg(long, value_name = "FILE")]
    probe: Option<PathBuf>,
    /// Name of the 0/1 label column of the --probe file (1 = anomaly).
    #[arg(long, default_value = "label", value_name = "NAME")]
    label_column: String,
    /// Window the --calibrate and --probe files into this many rows. Only
    /// for checkpoints that do not record their window (older ones): the
    /// window of `trainer fit --window` is taken from the checkpoint, and a
    /// --window that disagrees with it is an error.
    #[arg(long, value_name = "ROWS")]
    window: Option<usize>,
    /// Refuse to write the file when its error against f32 exceeds this:
    /// max energy error relative to the score spread, and max generator-step
    /// and sample error in data standard deviations (see docs/export.md).
    #[arg(long, default_value_t = 0.1, value_name = "ERR", allow_negative_numbers = true)]
    max_error: f64,
    /// The anomaly score the file declares (what `anomaly_score`,
    /// calibration and `is_anomaly` use): `energy` = −f(x, 0) (docs/algorithm.md
    /// §4; one energy-network pass), or `reconstruction` = the generator's
    /// denoising reconstruction error at step 0, averaged over --draws noise
    /// draws (one generator pass each). `auto` (the default) picks energy
    /// when the checkpoint's energy has a base measure (trained by this
    /// release's `trainer fit`), reconstruction for older checkpoints, whose
    /// energy ranks real anomalies backwards (docs/anomaly-benchmark.md).
    #[arg(long, default_value = "auto", value_parser = ["auto", "energy", "reconstruction"], value_name = "KIND")]
    score: String,
    /// Noise draws of the reconstruction score (each costs one generator pass).
    #[arg(long, default_value_t = ddaebm_runtime::DEFAULT_DRAWS, value_name = "N")]
    draws: usize,
    /// Write the file even when it exceeds --max-error.
    #[arg(long)]
    allow_inaccurate: bool,
    /// Also write the accuracy report as JSON.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

impl ConvertCli {
    /// The chosen weight precision (clap rejects more than one flag).
    fn precision(&self) -> Precision {
        if self.fp16 {
            Precision::F16
        } else if self.bf16 {
            Precision::Bf16
        } else if self.int8 {
            Precision::Int8
        } else {
            Precision::F32
        }
    }
}

/// Loads model bytes in the runtime, which every written file must pass.
fn runtime_model(bytes: &[u8]) -> Result<ddaebm_runtime::Model<'_>> {
    ddaebm_runtime::Model::from_bytes(bytes)
        .map_err(|e| anyhow::anyhow!("internal error: the runtime refuses the exported model ({e}); please report it"))
}

fn convert(cli: ConvertCli) -> Result<()> {
    if !(cli.max_error > 0.0) {
        usage!("--max-error must be positive, got {}", cli.max_error);
    }
    if !(1..=ddaebm_runtime::MAX_DRAWS).contains(&cli.draws) {
        usage!("--draws must be in 1..={}, got {}", ddaebm_runtime::MAX_DRAWS, cli.draws);
    }
    if !(cli.threshold_level > 0.0 && cli.threshold_level < 1.0) {
        usage!("--threshold-level must be in (0, 1), got {}", cli.threshold_level);
    }
    if cli.out.as_deref() == Some(Path::new("-")) {
        usage!("-o -: the model file is binary and is not written to stdout; give a file name");
    }
    // Flags that would be silently ignored.
    if cli.calibrate.is_none() && cli.threshold_level != calibrate::DEFAULT_LEVEL {
        eprintln!("warning: --threshold-level applies with --calibrate only; ignored");
    }
    if cli.probe.is_none() && cli.label_column != "label" {
        eprintln!("warning: --label-column names the label column of the --probe file; without --probe it is ignored");
    }
    if cli.calibrate.is_none() && cli.probe.is_none() && cli.window.is_some() {
        eprintln!("warning: --window windows the --calibrate and --probe files; without them it is ignored");
    }
    let ckpt = Checkpoint::load(&cli.checkpoint)?;
    let precision = cli.precision();
    let mut model =
        DeployModel::from_checkpoint(&ckpt).with_context(|| format!("cannot export {}", cli.checkpoint.display()))?;
    let score = match cli.score.as_str() {
        "auto" if model.base.is_some() => "energy",
        "auto" => {
            eprintln!(
                "note: {} has no energy base measure (trained before it existed, or with --no-energy-base): \
                 its energy ranks real anomalies backwards, so the file declares the reconstruction score",
                cli.checkpoint.display()
            );
            "reconstruction"
        }
        other => other,
    };
    if score == "energy" && cli.draws != ddaebm_runtime::DEFAULT_DRAWS {
        eprintln!("warning: --draws sets the reconstruction score's noise draws; with the energy score it is ignored");
    }
    if score == "reconstruction" {
        model.score = ddaebm_runtime::ScoreKind::Reconstruction;
        model.draws = cli.draws;
    }

    // The --calibrate and --probe files are fitted to the model's input
    // contract (column names, window) when the checkpoint has one.
    let input = score::ModelInput::new(model.data_dim, model.input.clone(), cli.window)
        .map_err(|e| anyhow::Error::new(UsageError(e)))?;

    // Calibration: the chosen precision's own scores of held-out normal data.
    if let Some(path) = &cli.calibrate {
        let uncalibrated = model.to_bytes(precision);
        let runtime = runtime_model(&uncalibrated)?;
        let rows = score::read_calibration_rows(path, &input)?;
        rows.notes.iter().for_each(|n| eprintln!("note: {n}"));
        let scores = score::anomaly_scores(&runtime, &rows.table).with_context(|| format!("{}", path.display()))?;
        let c = calibrate::calibrate(&scores, calibrate::DEFAULT_QUANTILES, cli.threshold_level)
            .with_context(|| format!("cannot calibrate on {}", path.display()))?;
        println!(
            "calibrated on {} normal rows of {}: threshold {:.5} (the {} quantile of their scores; median {:.5})",
            c.rows,
            path.display(),
            c.threshold,
            c.level,
            c.quantiles[c.quantiles.len() / 2]
        );
        model.calibration = Some(c);
    }

    // Accuracy report: every precision against f32, through the runtime.
    let files: Vec<(Precision, Vec<u8>)> =
        [Precision::F32, Precision::F16, Precision::Bf16, Precision::Int8].map(|p| (p, model.to_bytes(p))).into();
    for (_, bytes) in &files {
        runtime_model(bytes)?;
    }
    let reference = &files[0].1;
    let probe = match &cli.probe {
        Some(path) => {
            let rows = score::read_rows(path, &input, Some(&cli.label_column), false)?;
            rows.notes.iter().for_each(|n| eprintln!("note: {n}"));
            let source = format!(
                "{} ({} rows{})",
                path.display(),
                rows.table.rows,
                if rows.labels.is_some() { ", labelled" } else { ", no label column" }
            );
            report::Probe { points: rows.table.data, labels: rows.labels, source }
        }
        None => report::default_probe(&runtime_model(reference)?, 512, 0)
            .context("cannot sample the f32 model for the probe")?,
    };
    let rows =
        report::measure(reference, &files, &probe, report::Settings::default()).context("accuracy report failed")?;
    println!("accuracy against f32 on {}:", probe.source);
    print!("{}", report::table(&rows, precision));
    if let Some(path) = &cli.report {
        let json = serde_json::json!({
            "probe": probe.source,
            "written": precision.name(),
            "max_error": cli.max_error,
            "rows": rows.iter().map(|r| serde_json::json!({
                "precision": r.precision.name(),
                "file_bytes": r.file_bytes,
                "score_max_abs_error": r.energy_max,
                "score_mean_abs_error": r.energy_mean,
                "score_max_relative_error": r.energy_relative,
                "step_max_abs_error": r.step_max,
                "step_mean_abs_error": r.step_mean,
                "sample_max_abs_error": r.sample_max,
                "sample_mean_abs_error": r.sample_mean,
                "auroc": r.auroc,
            })).collect::<Vec<_>>(),
        });
        write_atomic(path, serde_json::to_string_pretty(&json)?.as_bytes())?;
    }
    let chosen = rows.iter().find(|r| r.precision == precision).context("internal error: no report row")?;
    if !(chosen.worst() <= cli.max_error) {
        let msg = format!(
            "the {} export exceeds the accuracy bound: worst error {:.3e} > --max-error {} (anomaly score {:.3e} of \
             its spread, generator step {:.3e} σ, sample {:.3e} σ)",
            precision.name(),
            chosen.worst(),
            cli.max_error,
            chosen.energy_relative,
            chosen.step_max,
            chosen.sample_max
        );
        if !cli.allow_inaccurate {
            anyhow::bail!("{msg}; nothing was written. Use a wider precision (--fp16 or --f32), or pass --allow-inaccurate to write it anyway");
        }
        eprintln!("warning: {msg}; writing it anyway (--allow-inaccurate)");
    }

    let bytes = files.into_iter().find(|(p, _)| *p == precision).map(|(_, b)| b).context("internal error")?;
    let out = cli.out.unwrap_or_else(|| {
        let dir = cli.checkpoint.parent().map(PathBuf::from).unwrap_or_default();
        dir.join(format!("model-{}.safetensors", precision.name()))
    });
    write_atomic(&out, &bytes)?;
    let params: usize = model.energy.iter().chain(&model.generator).map(|l| l.weight.len() + l.bias.len()).sum();
    println!(
        "exported {} ({} weights, {} score, D = {}, nz = {}, T = {}, {} parameters after folding{}): {} bytes -> {}",
        ckpt.meta.dataset,
        precision.name(),
        if model.base.is_some() && score == "energy" { "energy (with base measure)" } else { score },
        model.data_dim,
        model.nz,
        model.steps,
        params,
        if model.calibration.is_some() { ", calibrated" } else { "" },
        bytes.len(),
        out.display()
    );
    Ok(())
}

/// `export score MODEL DATA ...`.
#[derive(clap::Args)]
struct ScoreCli {
    /// The model file (`export` output).
    model: PathBuf,
    /// The readings, raw units, one per row (CSV with optional header, or .npy).
    data: PathBuf,
    /// Name of a 0/1 label column (1 = anomaly): it is not scored, and AUROC,
    /// average precision and the detection rate are printed.
    #[arg(long, value_name = "NAME")]
    label_column: Option<String>,
    /// Score every window of this many rows (a window is labelled 1 when
    /// any of its rows is). Only for model files that do not record their
    /// window (older ones): the window is taken from the model file, and a
    /// --window that disagrees with it is an error.
    #[arg(long, value_name = "ROWS")]
    window: Option<usize>,
    /// Per-row output CSV: score,tail_probability,anomaly[,label]; `-` writes
    /// it to stdout (the summary then goes to stderr).
    #[arg(short, long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Also write the summary as JSON; `-` writes it to stdout (the summary
    /// lines then go to stderr).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// Whether `path` is `-`, standard output.
fn is_stdout(path: Option<&Path>) -> bool {
    path == Some(Path::new("-"))
}

/// Writes `bytes` to stdout.
fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes).and_then(|()| out.flush()).context("cannot write to stdout")
}

/// `export score MODEL DATA`: scores through the runtime, prints a summary.
fn score_file(cli: ScoreCli) -> Result<()> {
    let (csv_out, json_out) = (is_stdout(cli.out.as_deref()), is_stdout(cli.json.as_deref()));
    if csv_out && json_out {
        usage!("-o - and --json - both ask for stdout; send one of them to a file");
    }
    let bytes = std::fs::read(&cli.model).with_context(|| format!("cannot read {}", cli.model.display()))?;
    let model = ddaebm_runtime::Model::from_bytes(&bytes).map_err(|e| not_a_model_file(&cli.model, &bytes, e))?;
    let input = score::ModelInput::of_model_file(&bytes, &model, cli.window)?;
    let rows = score::read_rows(&cli.data, &input, cli.label_column.as_deref(), true)?;
    rows.notes.iter().for_each(|n| eprintln!("note: {n}"));
    let scores = score::anomaly_scores(&model, &rows.table).with_context(|| format!("{}", cli.data.display()))?;
    let labels = rows.labels.as_deref();
    let summary = score::summarise(&scores, labels, model.threshold().map(f64::from));
    match &cli.out {
        Some(_) if csv_out => write_stdout(score::scores_csv(&model, &scores, labels)?.as_bytes())?,
        Some(out) => score::write_scores(out, &model, &scores, labels)?,
        None => {}
    }
    // The summary goes to stderr when stdout carries data.
    let mut text = String::new();
    let mut line = |l: String| {
        text += &l;
        text.push('\n');
    };
    line(format!(
        "scored {} {} of {} with {}",
        summary.rows,
        if input.window.is_some() { "windows" } else { "rows" },
        cli.data.display(),
        cli.model.display()
    ));
    let show = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.4}"));
    if labels.is_some() {
        line(format!("  AUROC              {}", show(summary.auroc)));
        line(format!("  average precision  {}", show(summary.average_precision)));
    }
    match summary.threshold {
        Some(th) => {
            line(format!("  threshold          {th:.5} (calibrated)"));
            line(format!("  flagged            {}", show(summary.flagged_rate)));
            if labels.is_some() {
                line(format!("  detection rate     {}", show(summary.detection_rate)));
                line(format!("  false-alarm rate   {}", show(summary.false_alarm_rate)));
            }
        }
        None => line("  (no calibration in the model file: export with --calibrate for verdicts)".to_string()),
    }
    if csv_out || json_out {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
    match &cli.json {
        Some(_) if json_out => write_stdout((serde_json::to_string_pretty(&summary)? + "\n").as_bytes())?,
        Some(path) => write_atomic(path, serde_json::to_string_pretty(&summary)?.as_bytes())?,
        None => {}
    }
    Ok(())
}

/// The error for bytes the runtime refuses: a training checkpoint is named
/// as such (it needs `export` first); anything else gets the runtime's reason.
fn not_a_model_file(path: &Path, bytes: &[u8], e: ddaebm_runtime::Error) -> anyhow::Error {
    let is_checkpoint = safetensors::SafeTensors::read_metadata(bytes)
        .ok()
        .and_then(|(_, header)| header.metadata().as_ref().map(|m| m.contains_key(ddaebm_host::checkpoint::META_KEY)))
        .unwrap_or(false);
    if is_checkpoint {
        anyhow::anyhow!(
            "{} is a training checkpoint, not a model file; make a model file from it with `export {}` \
             (writes model-f32.safetensors next to it), then use that",
            path.display(),
            path.display()
        )
    } else {
        anyhow::Error::new(e).context(format!("{} is not a usable model file", path.display()))
    }
}

/// `export inspect FILE [--json]`: metadata, tensors and the runtime's needs.
fn inspect(path: &Path, json: bool) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let model = ddaebm_runtime::Model::from_bytes(&bytes).map_err(|e| not_a_model_file(path, &bytes, e))?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).context("not a safetensors file")?;
    if json {
        return inspect_json(path, &bytes, &model, &header);
    }
    println!("{}: {} bytes", path.display(), bytes.len());
    println!("metadata:");
    let metadata = header.metadata().clone().unwrap_or_default();
    let mut meta: Vec<(&String, &String)> = metadata.iter().collect();
    meta.sort();
    for (k, v) in meta {
        match k.as_str() {
            // Possibly hundreds of names: listed under "input" below.
            "columns" | "dropped_columns" => {
                println!("  {k:<18} ({} names, listed under `input` below)", v.split(',').count())
            }
            _ => println!("  {k:<18} {v}"),
        }
    }
    println!("tensors:");
    let mut tensors: Vec<(String, safetensors::tensor::TensorInfo)> =
        header.tensors().into_iter().map(|(k, v)| (k, v.clone())).collect();
    tensors.sort_by_key(|(_, t)| t.data_offsets.0);
    for (name, t) in &tensors {
        let shape: Vec<String> = t.shape.iter().map(|d| d.to_string()).collect();
        println!(
            "  {name:<28} {:<5} [{}] {} bytes",
            format!("{:?}", t.dtype),
            shape.join(", "),
            t.data_offsets.1 - t.data_offsets.0
        );
    }
    let macs = |net: &str| network_macs(&header, net);
    println!(
        "anomaly score: {}",
        match model.score_kind() {
            ddaebm_runtime::ScoreKind::Energy if model.has_energy_base() =>
                "energy, -f(x, 0): the energy network's output bounded to (-B, B) plus a Gaussian base measure"
                    .to_string(),
            ddaebm_runtime::ScoreKind::Energy =>
                "energy, -f(x, 0) (no base measure: an energy of docs/algorithm.md as written)".to_string(),
            ddaebm_runtime::ScoreKind::Reconstruction =>
                "reconstruction error of the generator at step 0 (reconstruction_draws generator passes)".to_string(),
        }
    );
    match model.threshold() {
        Some(th) => println!(
            "calibration: threshold {th} on the anomaly score, {} quantiles (is_anomaly / tail_probability available)",
            model.quantile_count()
        ),
        None => println!("calibration: none (export with --calibrate HELDOUT.csv for is_anomaly / tail_probability)"),
    }
    print_input(&metadata, model.data_dim());
    match metadata.get("crc32") {
        Some(crc) => println!(
            "checksum: CRC-32 {crc} ({:#010x}) of the {}-byte data section, checked by the runtime at load",
            crc.parse::<u32>().unwrap_or(0),
            ddaebm_export::model_file::data_section(&bytes).len()
        ),
        None => println!(
            "checksum: none (written before model files carried one: a corrupt data section goes unnoticed; \
             re-export the checkpoint to add it)"
        ),
    }
    println!("runtime needs:");
    println!("  flash              {} bytes (the file, read in place)", bytes.len());
    println!("  scratch RAM        {} bytes ({} f32, `scratch_len()`)", 4 * model.scratch_len(), model.scratch_len());
    let base_macs = base_macs(&model);
    println!(
        "  per call           energy: {} multiply-accumulates{}; sample: {} x {} = {}",
        macs("energy.") + base_macs,
        if base_macs > 0 { format!(" ({base_macs} of them the base measure)") } else { String::new() },
        model.steps(),
        macs("generator."),
        model.steps() * macs("generator.")
    );
    Ok(())
}

/// Multiply-accumulates of one pass of network `net` (`energy.` or
/// `generator.`): the sum of out × in over its `*.weight` tensors.
fn network_macs(header: &safetensors::tensor::Metadata, net: &str) -> usize {
    header
        .tensors()
        .iter()
        .filter(|(n, _)| n.starts_with(net) && n.ends_with(".weight"))
        .map(|(_, t)| t.shape.iter().product::<usize>())
        .sum()
}

/// Multiply-accumulates of the energy's base measure (D × D), 0 without one.
fn base_macs(model: &ddaebm_runtime::Model<'_>) -> usize {
    // K projections of D × D (0 components without a base).
    model.base_components() * model.data_dim() * model.data_dim()
}

/// `export inspect FILE --json`: the facts of `inspect` as one JSON object
/// (scripts read the MAC counts from it: scripts/firmware-report.sh).
fn inspect_json(
    path: &Path,
    bytes: &[u8],
    model: &ddaebm_runtime::Model<'_>,
    header: &safetensors::tensor::Metadata,
) -> Result<()> {
    let metadata: std::collections::BTreeMap<String, String> =
        header.metadata().clone().unwrap_or_default().into_iter().collect();
    let mut tensors: Vec<(String, safetensors::tensor::TensorInfo)> =
        header.tensors().into_iter().map(|(k, v)| (k, v.clone())).collect();
    tensors.sort_by_key(|(_, t)| t.data_offsets.0);
    let (energy, generator, base) =
        (network_macs(header, "energy."), network_macs(header, "generator."), base_macs(model));
    let json = serde_json::json!({
        "file": path.display().to_string(),
        "bytes": bytes.len(),
        "metadata": metadata,
        "tensors": tensors.iter().map(|(name, t)| serde_json::json!({
            "name": name,
            "dtype": format!("{:?}", t.dtype),
            "shape": t.shape,
            "bytes": t.data_offsets.1 - t.data_offsets.0,
        })).collect::<Vec<_>>(),
        "score": match model.score_kind() {
            ddaebm_runtime::ScoreKind::Energy => "energy",
            ddaebm_runtime::ScoreKind::Reconstruction => "reconstruction",
        },
        "energy_base": model.has_energy_base(),
        "threshold": model.threshold(),
        "quantiles": model.quantile_count(),
        "steps": model.steps(),
        "scratch_f32": model.scratch_len(),
        "scratch_bytes": 4 * model.scratch_len(),
        "macs": {
            "energy_network": energy,
            "energy_base": base,
            "energy": energy + base,
            "generator": generator,
            "sample": model.steps() * generator,
        },
    });
    write_stdout((serde_json::to_string_pretty(&json)? + "\n").as_bytes())
}

/// The `input` lines of `export inspect`: what a reading is (the input
/// contract), or that the file does not say.
fn print_input(metadata: &std::collections::HashMap<String, String>, data_dim: usize) {
    let contract = match ddaebm_host::contract::InputContract::from_metadata(metadata, data_dim) {
        Ok(Some(c)) => c,
        Ok(None) => {
            println!(
                "input: {data_dim} values per reading; column names and window not recorded (a file written before \
                 model files carried them): give `export score` exactly {data_dim} columns in the training order"
            );
            return;
        }
        Err(e) => {
            println!("input: the file's input contract is malformed ({e:#}); re-export the checkpoint");
            return;
        }
    };
    let c = contract.columns.len();
    if contract.window == 1 {
        println!("input: single rows of {c} columns, in this order (`Model::column_name(i)`):");
    } else {
        println!(
            "input: windows of {} rows x {c} columns = {data_dim} values, oldest row first: value k*{c} + j is \
             column j of row k (`Model::window()`; trained on a window every {} rows):",
            contract.window, contract.window_stride
        );
    }
    println!("  columns            {}", contract.columns.join(", "));
    if !contract.dropped_columns.is_empty() {
        println!("  dropped columns    {} (in the training file, not inputs)", contract.dropped_columns.join(", "));
    }
    if let Some(label) = &contract.label_column {
        println!("  label column       {label} (in the training file, not an input)");
    }
}

/// Runs the command line `args` (the first item is the program name), as
/// the `export` binary does: `export [convert] CHECKPOINT ...`, `export
/// inspect MODEL`, `export score MODEL DATA ...`, `export help [COMMAND]`.
/// Help and version requests print and return `Ok`; usage errors are
/// [`UsageError`]s; other errors carry the message to print.
pub fn run_args<I, T>(args: I) -> Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // The bare form `export CHECKPOINT ...` is `export convert CHECKPOINT ...`.
    if let Some(first) = args.get(1) {
        let top_level = ["-h", "--help", "-V", "--version"];
        let name = first.to_string_lossy();
        if !COMMANDS.contains(&name.as_ref()) && !top_level.contains(&name.as_ref()) {
            args.insert(1, "convert".into());
        }
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help, --version: print (errors writing are of no consequence) and succeed.
            let _ = e.print();
            return Ok(());
        }
        Err(e) => {
            let text = e.render().to_string();
            let text = if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                format!("give a command or a checkpoint\n\n{}", text.trim_end())
            } else {
                text.trim_end().trim_start_matches("error: ").to_string()
            };
            return Err(anyhow::Error::new(UsageError(text)));
        }
    };
    match cli.cmd {
        Cmd::Convert(c) => convert(c),
        Cmd::Inspect { model, json } => inspect(&model, json),
        Cmd::Score(s) => score_file(s),
    }
}
