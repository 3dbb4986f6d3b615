//! The `export` command line, as a library so end-to-end tests can drive it:
//! - `export CHECKPOINT [--f32 | --fp16 | --bf16 | --int8] [--calibrate FILE] [--probe FILE]`:
//!   write a deployable model file after printing its accuracy report;
//! - `export inspect MODEL`: what a model file holds and what the runtime needs;
//! - `export score MODEL DATA`: score a data file through the runtime.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::checkpoint::{write_atomic, Checkpoint};
use crate::model_file::{DeployModel, Precision};
use crate::{calibrate, report, score};
use anyhow::{bail, Context, Result};
use clap::{ArgGroup, Parser};

/// `export CHECKPOINT ...`.
#[derive(Parser)]
#[command(name = "export", version, about = "Turn a DDAEBM checkpoint into a model file for devices")]
#[command(
    after_help = "Other commands:\n  export inspect MODEL          what a model file holds and what the runtime needs\n  export score MODEL DATA ...   score a CSV / .npy file through the runtime (export score --help)"
)]
#[command(group(ArgGroup::new("precision").args(["f32", "fp16", "bf16", "int8"]).multiple(false)))]
struct Cli {
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
    /// Held-out NORMAL data (CSV / .npy, raw units): store anomaly-score
    /// quantiles and a threshold in the file, for the runtime's
    /// `is_anomaly` / `tail_probability`.
    #[arg(long, value_name = "FILE")]
    calibrate: Option<PathBuf>,
    /// Quantile level of the calibrated threshold (fraction of normal
    /// readings below it).
    #[arg(long, default_value_t = calibrate::DEFAULT_LEVEL, value_name = "P")]
    threshold_level: f64,
    /// A labelled probe file for the accuracy report (CSV / .npy, raw units,
    /// with the 0/1 column named by --label-column). Default: samples of the
    /// f32 model vs uniform points around them.
    #[arg(long, value_name = "FILE")]
    probe: Option<PathBuf>,
    /// Name of the 0/1 label column of the --probe file (1 = anomaly).
    #[arg(long, default_value = "label", value_name = "NAME")]
    label_column: String,
    /// The model was trained on windows of this many rows (`trainer fit
    /// --window`): window the --calibrate and --probe files the same way.
    #[arg(long, value_name = "ROWS")]
    window: Option<usize>,
    /// Refuse to write the file when its error against f32 exceeds this:
    /// max energy error relative to the score spread, and max generator-step
    /// and sample error in data standard deviations (see docs/export.md).
    #[arg(long, default_value_t = 0.1, value_name = "ERR")]
    max_error: f64,
    /// The anomaly score the file declares (what `anomaly_score`,
    /// calibration and `is_anomaly` use): `reconstruction` = the generator's
    /// denoising reconstruction error at step 0, averaged over --draws noise
    /// draws (the default: it ranked anomalies far better in every
    /// measurement, docs/export.md), or `energy` = −f(x, 0) (ALGORITHM.md §4).
    #[arg(long, default_value = "reconstruction", value_parser = ["energy", "reconstruction"], value_name = "KIND")]
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

impl Cli {
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

fn run(cli: Cli) -> Result<()> {
    let ckpt = Checkpoint::load(&cli.checkpoint)?;
    let precision = cli.precision();
    let mut model =
        DeployModel::from_checkpoint(&ckpt).with_context(|| format!("cannot export {}", cli.checkpoint.display()))?;
    if !(cli.max_error > 0.0) {
        bail!("--max-error must be positive, got {}", cli.max_error);
    }
    if !(1..=ddaebm_runtime::MAX_DRAWS).contains(&cli.draws) {
        bail!("--draws must be in 1..={}, got {}", ddaebm_runtime::MAX_DRAWS, cli.draws);
    }
    if cli.score == "reconstruction" {
        model.score = ddaebm_runtime::ScoreKind::Reconstruction;
        model.draws = cli.draws;
    }

    // Calibration: the chosen precision's own scores of held-out normal data.
    if let Some(path) = &cli.calibrate {
        let uncalibrated = model.to_bytes(precision);
        let runtime = runtime_model(&uncalibrated)?;
        let rows = score::read_rows(path, model.data_dim, None, false, cli.window)?;
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
            let rows = score::read_rows(path, model.data_dim, Some(&cli.label_column), false, cli.window)?;
            let source = format!(
                "{} ({} rows{})",
                path.display(),
                rows.table.rows,
                if rows.labels.is_some() { ", labelled" } else { ", no label column" }
            );
            report::Probe { points: rows.table.data, labels: rows.labels, source }
        }
        None => report::default_probe(&runtime_model(reference)?, 512, 0)
            .map_err(|e| anyhow::anyhow!("cannot sample the f32 model for the probe: {e}"))?,
    };
    let rows = report::measure(reference, &files, &probe, report::Settings::default())
        .map_err(|e| anyhow::anyhow!("accuracy report failed: {e}"))?;
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
            bail!("{msg}; nothing was written. Use a wider precision (--fp16 or --f32), or pass --allow-inaccurate to write it anyway");
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
        cli.score,
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
#[derive(Parser)]
#[command(name = "export score", about = "Score a CSV / .npy file with a model file, through the device runtime")]
struct ScoreCli {
    /// The model file (`export` output).
    model: PathBuf,
    /// The readings, raw units, one per row (CSV with optional header, or .npy).
    data: PathBuf,
    /// Name of a 0/1 label column (1 = anomaly): it is not scored, and AUROC,
    /// average precision and the detection rate are printed.
    #[arg(long, value_name = "NAME")]
    label_column: Option<String>,
    /// The model was trained on windows of this many rows: score every
    /// window (a window is labelled 1 when any of its rows is).
    #[arg(long, value_name = "ROWS")]
    window: Option<usize>,
    /// Per-row output CSV: score,tail_probability,anomaly[,label].
    #[arg(short, long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Also write the summary as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// `export score MODEL DATA`: scores through the runtime, prints a summary.
fn score_file(cli: ScoreCli) -> Result<()> {
    let bytes = std::fs::read(&cli.model).with_context(|| format!("cannot read {}", cli.model.display()))?;
    let model = ddaebm_runtime::Model::from_bytes(&bytes)
        .map_err(|e| anyhow::anyhow!("{} is not a usable model file: {e}", cli.model.display()))?;
    let rows = score::read_rows(&cli.data, model.data_dim(), cli.label_column.as_deref(), true, cli.window)?;
    let scores = score::anomaly_scores(&model, &rows.table).with_context(|| format!("{}", cli.data.display()))?;
    let labels = rows.labels.as_deref();
    let summary = score::summarise(&scores, labels, model.threshold().map(f64::from));
    if let Some(out) = &cli.out {
        score::write_scores(out, &model, &scores, labels)?;
    }
    println!(
        "scored {} {} of {} with {}",
        summary.rows,
        if cli.window.is_some() { "windows" } else { "rows" },
        cli.data.display(),
        cli.model.display()
    );
    let show = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.4}"));
    if labels.is_some() {
        println!("  AUROC              {}", show(summary.auroc));
        println!("  average precision  {}", show(summary.average_precision));
    }
    match summary.threshold {
        Some(th) => {
            println!("  threshold          {th:.5} (calibrated)");
            println!("  flagged            {}", show(summary.flagged_rate));
            if labels.is_some() {
                println!("  detection rate     {}", show(summary.detection_rate));
                println!("  false-alarm rate   {}", show(summary.false_alarm_rate));
            }
        }
        None => println!("  (no calibration in the model file: export with --calibrate for verdicts)"),
    }
    if let Some(path) = &cli.json {
        write_atomic(path, serde_json::to_string_pretty(&summary)?.as_bytes())?;
    }
    Ok(())
}

/// `export inspect FILE`: metadata, tensors and the runtime's needs.
fn inspect(path: &std::path::Path) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let model = ddaebm_runtime::Model::from_bytes(&bytes)
        .map_err(|e| anyhow::anyhow!("{} is not a usable model file: {e}", path.display()))?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).context("not a safetensors file")?;
    println!("{}: {} bytes", path.display(), bytes.len());
    println!("metadata:");
    let mut meta: Vec<(String, String)> = header.metadata().clone().unwrap_or_default().into_iter().collect();
    meta.sort();
    for (k, v) in meta {
        println!("  {k:<18} {v}");
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
    let macs = |net: &str| -> usize {
        tensors
            .iter()
            .filter(|(n, _)| n.starts_with(net) && n.ends_with(".weight"))
            .map(|(_, t)| t.shape.iter().product::<usize>())
            .sum()
    };
    println!(
        "anomaly score: {}",
        match model.score_kind() {
            ddaebm_runtime::ScoreKind::Energy => "energy, -f(x, 0)".to_string(),
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
    println!("runtime needs:");
    println!("  flash              {} bytes (the file, read in place)", bytes.len());
    println!("  scratch RAM        {} bytes ({} f32, `scratch_len()`)", 4 * model.scratch_len(), model.scratch_len());
    println!(
        "  per call           energy: {} multiply-accumulates; sample: {} x {} = {}",
        macs("energy."),
        model.steps(),
        macs("generator."),
        model.steps() * macs("generator.")
    );
    Ok(())
}

/// Runs the command line `args` (the first item is the program name), as
/// the `export` binary does. Errors carry the message to print.
pub fn run_args<I, T>(args: I) -> Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    match args.get(1).and_then(|a| a.to_str()) {
        Some("score") => score_file(ScoreCli::try_parse_from(&args[1..]).map_err(clap_error)?),
        Some("inspect") => match &args[2..] {
            [file] => inspect(std::path::Path::new(file)),
            _ => Err(anyhow::anyhow!("usage: export inspect MODEL.safetensors")),
        },
        _ => run(Cli::try_parse_from(&args).map_err(clap_error)?),
    }
}

/// Help and version requests print and exit successfully, as clap does;
/// usage errors become this function's error.
fn clap_error(e: clap::Error) -> anyhow::Error {
    if !e.use_stderr() {
        e.exit();
    }
    anyhow::anyhow!("{}", e.render().to_string().trim_end().trim_start_matches("error: "))
}
