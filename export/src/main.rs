//! `export CHECKPOINT [--fp16]`: write a deployable model file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use ddaebm_export::checkpoint::{write_atomic, Checkpoint};
use ddaebm_export::model_file::{DeployModel, Precision};

#[derive(Parser)]
#[command(name = "export", version, about = "Turn a DDAEBM checkpoint into a model file for devices")]
struct Cli {
    /// A checkpoint written by `trainer fit` (e.g. runs/25gaussians/checkpoint.safetensors).
    checkpoint: PathBuf,
    /// Store the weight matrices as IEEE half precision.
    #[arg(long, conflicts_with = "f32")]
    fp16: bool,
    /// Store the weight matrices as f32 (the default).
    #[arg(long)]
    f32: bool,
    /// Output file (default: model-f32.safetensors / model-f16.safetensors next to the checkpoint).
    #[arg(short, long)]
    out: Option<PathBuf>,
}

fn run(cli: Cli) -> Result<()> {
    let ckpt = Checkpoint::load(&cli.checkpoint)?;
    let precision = if cli.fp16 { Precision::F16 } else { Precision::F32 };
    let model = DeployModel::from_checkpoint(&ckpt)
        .with_context(|| format!("cannot export {}", cli.checkpoint.display()))?;
    let bytes = model.to_bytes(precision);
    let out = cli.out.unwrap_or_else(|| {
        let dir = cli.checkpoint.parent().map(PathBuf::from).unwrap_or_default();
        dir.join(format!("model-{}.safetensors", precision.name()))
    });
    write_atomic(&out, &bytes)?;
    let params: usize = model.energy.iter().chain(&model.generator).map(|l| l.weight.len() + l.bias.len()).sum();
    println!(
        "exported {} ({} weights, D = {}, nz = {}, T = {}, {} parameters after folding): {} bytes -> {}",
        ckpt.meta.dataset,
        precision.name(),
        model.data_dim,
        model.nz,
        model.steps,
        params,
        bytes.len(),
        out.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
