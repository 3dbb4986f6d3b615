//! Writes the deployable model file (docs/model-format.md, version 1).

use std::collections::HashMap;

use safetensors::tensor::TensorView;
use safetensors::Dtype;

use crate::checkpoint::{f32_le_bytes, Checkpoint, ScheduleKind};
use crate::fold::{fold_net, FoldError, Layer};

/// The model file format version written here.
pub const FORMAT_VERSION: u32 = 1;

/// Storage precision of the weight matrices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// IEEE single precision.
    F32,
    /// IEEE half precision (biases, slopes and coefficients stay f32).
    F16,
}

impl Precision {
    /// The `weight_dtype` metadata value.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
        }
    }
}

/// A model ready to be written: folded layers plus schedule and normalisation.
#[derive(Debug, Clone)]
pub struct DeployModel {
    /// Data dimension D.
    pub data_dim: usize,
    /// Latent size.
    pub nz: usize,
    /// T.
    pub steps: usize,
    /// Energy chain (input D, output 1).
    pub energy: Vec<Layer>,
    /// Generator chain (input D + nz, output D).
    pub generator: Vec<Layer>,
    /// coef1_t.
    pub coef1: Vec<f64>,
    /// coef2_t.
    pub coef2: Vec<f64>,
    /// √var_t.
    pub posterior_std: Vec<f64>,
    /// Normalisation mean.
    pub mean: Vec<f64>,
    /// Normalisation std.
    pub std: Vec<f64>,
    /// Informational metadata copied into the file.
    pub info: Vec<(String, String)>,
}

impl DeployModel {
    /// Folds a checkpoint into a deployable model. When the run kept an
    /// exponential moving average of the generator (`ema.generator.*`
    /// tensors), the averaged weights are exported.
    pub fn from_checkpoint(ckpt: &Checkpoint) -> Result<Self, FoldError> {
        let m = &ckpt.meta;
        let d = m.arch.data_dim;
        let energy = fold_net(ckpt, "energy", d, 1)?;
        let generator = if ckpt.tensors.keys().any(|k| k.starts_with("ema.generator.")) {
            let mut averaged = ckpt.clone();
            for (k, v) in &ckpt.tensors {
                if let Some(name) = k.strip_prefix("ema.") {
                    averaged.tensors.insert(name.to_string(), v.clone());
                }
            }
            fold_net(&averaged, "generator", d + m.arch.nz, d)?
        } else {
            fold_net(ckpt, "generator", d + m.arch.nz, d)?
        };
        let s = &m.schedule;
        let kind = match s.kind {
            ScheduleKind::Vp => "vp",
            ScheduleKind::Geometric => "geometric",
        };
        Ok(DeployModel {
            data_dim: d,
            nz: m.arch.nz,
            steps: s.steps,
            energy,
            generator,
            coef1: s.coef1.clone(),
            coef2: s.coef2.clone(),
            posterior_std: s.posterior_var.iter().map(|v| v.max(0.0).sqrt()).collect(),
            mean: m.normalisation.mean.clone(),
            std: m.normalisation.std.clone(),
            info: vec![
                ("schedule".into(), kind.into()),
                ("beta_min".into(), s.beta_min.to_string()),
                ("beta_max".into(), s.beta_max.to_string()),
                ("dataset".into(), m.dataset.clone()),
                ("iters".into(), m.iteration.to_string()),
            ],
        })
    }

    /// Serialises to model-file bytes with weights in `precision`.
    pub fn to_bytes(&self, precision: Precision) -> Vec<u8> {
        let f32s = |v: &[f64]| f32_le_bytes(&v.iter().map(|&x| x as f32).collect::<Vec<f32>>());
        // (name, dtype, shape, bytes)
        let mut entries: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = vec![
            ("schedule.coef1".into(), Dtype::F32, vec![self.steps], f32s(&self.coef1)),
            ("schedule.coef2".into(), Dtype::F32, vec![self.steps], f32s(&self.coef2)),
            ("schedule.posterior_std".into(), Dtype::F32, vec![self.steps], f32s(&self.posterior_std)),
            ("norm.mean".into(), Dtype::F32, vec![self.data_dim], f32s(&self.mean)),
            ("norm.inv_std".into(), Dtype::F32, vec![self.data_dim], f32s(&self.std.iter().map(|s| 1.0 / s).collect::<Vec<_>>())),
            ("norm.std".into(), Dtype::F32, vec![self.data_dim], f32s(&self.std)),
        ];
        for (net, layers) in [("energy", &self.energy), ("generator", &self.generator)] {
            for (i, l) in layers.iter().enumerate() {
                let (dtype, bytes) = match precision {
                    Precision::F32 => (Dtype::F32, f32s(&l.weight)),
                    Precision::F16 => {
                        (Dtype::F16, l.weight.iter().flat_map(|&w| half::f16::from_f64(w).to_le_bytes()).collect())
                    }
                };
                entries.push((format!("{net}.{i}.weight"), dtype, vec![l.out_dim, l.in_dim], bytes));
                let bias_shape = if l.per_step { vec![self.steps, l.out_dim] } else { vec![l.out_dim] };
                entries.push((format!("{net}.{i}.bias"), Dtype::F32, bias_shape, f32s(&l.bias)));
                if let Some(a) = l.prelu {
                    entries.push((format!("{net}.{i}.prelu"), Dtype::F32, vec![1], f32s(&[a])));
                }
            }
        }
        let mut meta: HashMap<String, String> = HashMap::from([
            ("format".into(), "ddaebm-model".into()),
            ("format_version".into(), FORMAT_VERSION.to_string()),
            ("data_dim".into(), self.data_dim.to_string()),
            ("nz".into(), self.nz.to_string()),
            ("steps".into(), self.steps.to_string()),
            ("weight_dtype".into(), precision.name().into()),
            ("energy_layers".into(), self.energy.len().to_string()),
            ("generator_layers".into(), self.generator.len().to_string()),
        ]);
        for (k, v) in &self.info {
            meta.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let views: Vec<(String, TensorView<'_>)> = entries
            .iter()
            .map(|(name, dtype, shape, bytes)| {
                (name.clone(), TensorView::new(*dtype, shape.clone(), bytes).expect("shape matches bytes"))
            })
            .collect();
        safetensors::serialize(views, Some(meta)).expect("valid tensors serialise")
    }
}
