//! `export CHECKPOINT [--f32 | --fp16 | --bf16 | --int8]`: write a deployable model file.
//! `export inspect MODEL`: what a model file holds and what the runtime needs to run it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{ArgGroup, Parser};
use ddaebm_export::checkpoint::{write_atomic, Checkpoint};
use ddaebm_export::model_file::{DeployModel, Precision};

#[derive(Parser)]
#[command(name = "export", version, about = "Turn a DDAEBM checkpoint into a model file for devices")]
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

fn run(cli: Cli) -> Result<()> {
    let ckpt = Checkpoint::load(&cli.checkpoint)?;
    let precision = cli.precision();
    let model =
        DeployModel::from_checkpoint(&ckpt).with_context(|| format!("cannot export {}", cli.checkpoint.display()))?;
    let bytes = model.to_bytes(precision);
    // Never write a file the device runtime would refuse.
    ddaebm_runtime::Model::from_bytes(&bytes).map_err(|e| {
        anyhow::anyhow!("internal error: the runtime refuses the exported model ({e}); please report it")
    })?;
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

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|a| a == "inspect") {
        let result = match (args.next(), args.next()) {
            (Some(file), None) => inspect(std::path::Path::new(&file)),
            _ => Err(anyhow::anyhow!("usage: export inspect MODEL.safetensors")),
        };
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn precision(args: &[&str]) -> Result<Precision, clap::Error> {
        Ok(Cli::try_parse_from(["export", "ckpt.safetensors"].iter().chain(args))?.precision())
    }

    #[test]
    fn precision_flags_are_mutually_exclusive() {
        assert_eq!(precision(&[]).unwrap(), Precision::F32);
        assert_eq!(precision(&["--f32"]).unwrap(), Precision::F32);
        assert_eq!(precision(&["--fp16"]).unwrap(), Precision::F16);
        assert_eq!(precision(&["--bf16"]).unwrap(), Precision::Bf16);
        assert_eq!(precision(&["--int8"]).unwrap(), Precision::Int8);
        let flags = ["--f32", "--fp16", "--bf16", "--int8"];
        for a in flags {
            for b in flags.iter().filter(|b| **b != a) {
                let e = precision(&[a, b]).unwrap_err();
                assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict, "{a} {b}");
            }
        }
    }
}
