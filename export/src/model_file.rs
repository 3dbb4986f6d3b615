//! Writes the deployable model file (docs/model-format.md, version
//! [`FORMAT_VERSION`], the newest the runtime reads).

use std::collections::HashMap;

use safetensors::tensor::TensorView;
use safetensors::Dtype;

use crate::calibrate::Calibration;
use crate::fold::{fold_net, FoldError, Layer};
use ddaebm_host::checkpoint::{f32_le_bytes, Checkpoint, ScheduleKind};
use ddaebm_host::contract::InputContract;
use ddaebm_runtime::ScoreKind;

/// The model file format version written here: the runtime's.
pub use ddaebm_runtime::FORMAT_VERSION;

/// Storage precision of the weight matrices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// IEEE single precision.
    F32,
    /// IEEE half precision (biases, slopes and coefficients stay f32).
    F16,
    /// bfloat16, rounded to nearest even (biases, slopes and coefficients stay f32).
    Bf16,
    /// Symmetric per-output-channel int8 with an f32 scale per row
    /// (`{net}.{i}.scale`); biases, slopes and coefficients stay f32.
    Int8,
}

impl Precision {
    /// The `weight_dtype` metadata value.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
            Precision::Bf16 => "bf16",
            Precision::Int8 => "int8",
        }
    }
}

/// Symmetric per-output-channel int8 quantisation of a row-major
/// `[out, in]` matrix: for row o, `scale[o] = max_i |W[o, i]| / 127`
/// (rounded to f32; 1 for an all-zero row), `q[o, i] = round(W[o, i] /
/// scale[o])` (ties away from zero) clamped to [−127, 127]. The division
/// uses the stored f32 scale, so `scale[o] · q[o, i]` is the grid point
/// nearest to `W[o, i]` for the scale the runtime reads. Returns (q, scale).
pub fn quantise_int8(weight: &[f64], out_dim: usize, in_dim: usize) -> (Vec<i8>, Vec<f32>) {
    let mut q = Vec::with_capacity(weight.len());
    let mut scale = Vec::with_capacity(out_dim);
    for row in weight.chunks(in_dim.max(1)).take(out_dim) {
        let max = row.iter().fold(0.0f64, |m, w| m.max(w.abs()));
        let s = (max / 127.0) as f32;
        let s = if s > 0.0 && s.is_finite() { s } else { 1.0 };
        scale.push(s);
        q.extend(row.iter().map(|&w| (w / f64::from(s)).round().clamp(-127.0, 127.0) as i8));
    }
    (q, scale)
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
    /// Anomaly-score calibration (`export --calibrate`), if any.
    pub calibration: Option<Calibration>,
    /// `x_{t+1} = a_bar[t] · x_0 + sigma_bar[t] · ε`, for t = 0..T (the
    /// checkpoint's `a_bar[t + 1]`, `sigma_bar[t + 1]`).
    pub a_bar: Vec<f64>,
    /// See `a_bar`.
    pub sigma_bar: Vec<f64>,
    /// The anomaly score the file declares.
    pub score: ScoreKind,
    /// Noise draws of the reconstruction score.
    pub draws: usize,
    /// The energy's Gaussian base measure, if the checkpoint has one.
    pub base: Option<DeployBase>,
    /// What the model reads (column names, window), if the checkpoint says.
    pub input: Option<InputContract>,
}

/// The energy's base measure as the model file stores it
/// (`crate::base`; docs/model-format.md).
#[derive(Debug, Clone, PartialEq)]
pub struct DeployBase {
    /// `[K·D, D]`, row j of component k = v_kj (K = 1: one Gaussian).
    pub basis: Vec<f64>,
    /// `[T, K·D]`: 1 / (ā_t² λ_kj + σ̄_t²) for step index t = 0..T−1.
    pub inv_var: Vec<f64>,
    /// B.
    pub bound: f64,
    /// K.
    pub components: usize,
    /// Mixtures only (K ≥ 2): `[T, K, D]` the means ā_t μ_k and `[T, K]`
    /// log w_k − ½ Σ_j ln(ā_t² λ_kj + σ̄_t²) (docs/model-format.md).
    pub mixture: Option<(Vec<f64>, Vec<f64>)>,
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
            ]
            .into_iter()
            .chain(m.selection.as_ref().map(|s| ("selection".into(), s.describe())))
            .collect(),
            calibration: None,
            a_bar: s.a_bar.iter().skip(1).copied().collect(),
            sigma_bar: s.sigma_bar.iter().skip(1).copied().collect(),
            score: ScoreKind::Energy,
            draws: ddaebm_runtime::DEFAULT_DRAWS,
            base: ckpt.gaussian_base()?.map(|b| DeployBase {
                inv_var: (0..s.steps).flat_map(|t| b.inv_var(s.a_bar[t], s.sigma_bar[t])).collect(),
                components: b.components(),
                mixture: (b.components() > 1).then(|| {
                    (
                        (0..s.steps).flat_map(|t| b.step_mean(s.a_bar[t])).collect(),
                        (0..s.steps).flat_map(|t| b.step_log_weight(s.a_bar[t], s.sigma_bar[t])).collect(),
                    )
                }),
                basis: b.basis,
                bound: b.residual_bound,
            }),
            input: m.input.clone(),
        })
    }

    /// Serialises to model-file bytes with weights in `precision`: the
    /// metadata states the input contract (when known) and the CRC-32 of
    /// the data section (`crc32`, decimal), which the runtime checks at load.
    pub fn to_bytes(&self, precision: Precision) -> Vec<u8> {
        let f32s = |v: &[f64]| f32_le_bytes(&v.iter().map(|&x| x as f32).collect::<Vec<f32>>());
        // (name, dtype, shape, bytes)
        let mut entries: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = vec![
            ("schedule.coef1".into(), Dtype::F32, vec![self.steps], f32s(&self.coef1)),
            ("schedule.coef2".into(), Dtype::F32, vec![self.steps], f32s(&self.coef2)),
            ("schedule.posterior_std".into(), Dtype::F32, vec![self.steps], f32s(&self.posterior_std)),
            ("norm.mean".into(), Dtype::F32, vec![self.data_dim], f32s(&self.mean)),
            (
                "norm.inv_std".into(),
                Dtype::F32,
                vec![self.data_dim],
                f32s(&self.std.iter().map(|s| 1.0 / s).collect::<Vec<_>>()),
            ),
            ("norm.std".into(), Dtype::F32, vec![self.data_dim], f32s(&self.std)),
        ];
        if self.a_bar.len() == self.steps && self.sigma_bar.len() == self.steps {
            entries.push(("schedule.a_bar".into(), Dtype::F32, vec![self.steps], f32s(&self.a_bar)));
            entries.push(("schedule.sigma_bar".into(), Dtype::F32, vec![self.steps], f32s(&self.sigma_bar)));
        }
        if let Some(c) = &self.calibration {
            entries.push((
                "calibration.quantiles".into(),
                Dtype::F32,
                vec![c.quantiles.len()],
                f32_le_bytes(&c.quantiles),
            ));
            entries.push(("calibration.threshold".into(), Dtype::F32, vec![1], f32_le_bytes(&[c.threshold])));
        }
        if let Some(b) = &self.base {
            let (d, k) = (self.data_dim, b.components);
            entries.push(("base.basis".into(), Dtype::F32, vec![k * d, d], f32s(&b.basis)));
            entries.push(("base.inv_var".into(), Dtype::F32, vec![self.steps, k * d], f32s(&b.inv_var)));
            entries.push(("base.bound".into(), Dtype::F32, vec![1], f32s(&[b.bound])));
            if let Some((mean, log_weight)) = &b.mixture {
                entries.push(("base.mean".into(), Dtype::F32, vec![self.steps, k, d], f32s(mean)));
                entries.push(("base.log_weight".into(), Dtype::F32, vec![self.steps, k], f32s(log_weight)));
            }
        }
        for (net, layers) in [("energy", &self.energy), ("generator", &self.generator)] {
            for (i, l) in layers.iter().enumerate() {
                let mut scale = None;
                let (dtype, bytes) = match precision {
                    Precision::F32 => (Dtype::F32, f32s(&l.weight)),
                    Precision::F16 => {
                        (Dtype::F16, l.weight.iter().flat_map(|&w| half::f16::from_f64(w).to_le_bytes()).collect())
                    }
                    Precision::Bf16 => {
                        (Dtype::BF16, l.weight.iter().flat_map(|&w| half::bf16::from_f64(w).to_le_bytes()).collect())
                    }
                    Precision::Int8 => {
                        let (q, s) = quantise_int8(&l.weight, l.out_dim, l.in_dim);
                        scale = Some(s);
                        (Dtype::I8, q.iter().flat_map(|q| q.to_le_bytes()).collect())
                    }
                };
                entries.push((format!("{net}.{i}.weight"), dtype, vec![l.out_dim, l.in_dim], bytes));
                if let Some(s) = scale {
                    entries.push((format!("{net}.{i}.scale"), Dtype::F32, vec![l.out_dim], f32_le_bytes(&s)));
                }
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
        if self.score == ScoreKind::Reconstruction {
            meta.insert("anomaly_score".into(), "reconstruction".into());
            meta.insert("reconstruction_draws".into(), self.draws.to_string());
        }
        if let Some(c) = &self.calibration {
            meta.insert("calibration_rows".into(), c.rows.to_string());
            meta.insert("threshold_level".into(), c.level.to_string());
        }
        if let Some(c) = &self.input {
            meta.extend(c.to_metadata());
        }
        for (k, v) in &self.info {
            meta.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let serialise = |meta: HashMap<String, String>| {
            let views: Vec<(String, TensorView<'_>)> = entries
                .iter()
                .map(|(name, dtype, shape, bytes)| {
                    (name.clone(), TensorView::new(*dtype, shape.clone(), bytes).expect("shape matches bytes"))
                })
                .collect();
            safetensors::serialize(views, Some(meta)).expect("valid tensors serialise")
        };
        // The data section does not depend on the metadata: serialise once
        // for it, then again with its checksum in the header.
        let draft = serialise(meta.clone());
        let crc = ddaebm_runtime::crc32(data_section(&draft));
        meta.insert("crc32".into(), crc.to_string());
        let bytes = serialise(meta);
        assert_eq!(data_section(&bytes), data_section(&draft), "the metadata moved the data section");
        bytes
    }
}

/// The bytes after a safetensors file's header (what `crc32` covers).
pub fn data_section(bytes: &[u8]) -> &[u8] {
    let n = bytes.get(..8).map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize);
    bytes.get(8 + n..).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fold::forward;
    use ddaebm_runtime::{Model, WeightDtype};

    /// A deterministic pseudo-random value in [-1, 1).
    fn val(k: usize) -> f64 {
        let x = (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
        (x >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    fn layer(seed: usize, out_dim: usize, in_dim: usize, per_step: bool, prelu: bool) -> Layer {
        let n_bias = if per_step { 3 * out_dim } else { out_dim };
        Layer {
            out_dim,
            in_dim,
            weight: (0..out_dim * in_dim).map(|k| 0.7 * val(seed * 1000 + k)).collect(),
            bias: (0..n_bias).map(|k| 0.3 * val(seed * 1000 + 500 + k)).collect(),
            per_step,
            prelu: prelu.then_some(0.2),
        }
    }

    fn model() -> DeployModel {
        let mut energy = vec![layer(1, 6, 2, true, true), layer(2, 4, 6, false, true), layer(3, 1, 4, false, false)];
        // An all-zero row (int8 scale 1, q = 0) in the middle layer.
        energy[1].weight[..6].iter_mut().for_each(|w| *w = 0.0);
        DeployModel {
            data_dim: 2,
            nz: 1,
            steps: 3,
            energy,
            generator: vec![layer(4, 5, 3, true, true), layer(5, 2, 5, false, false)],
            coef1: vec![1.0, 0.6, 0.3],
            coef2: vec![0.0, 0.2, 0.1],
            posterior_std: vec![0.0, 0.4, 0.6],
            mean: vec![0.5, -1.0],
            std: vec![2.0, 0.5],
            info: vec![],
            calibration: None,
            a_bar: vec![0.9, 0.6, 0.3],
            sigma_bar: vec![0.4, 0.8, 0.95],
            score: ScoreKind::Energy,
            base: None,
            draws: 8,
            input: None,
        }
    }

    /// Every file carries the CRC-32 of its data section, which the runtime
    /// checks; the input contract reaches the runtime's accessors.
    #[test]
    fn files_carry_their_checksum_and_input_contract() {
        let mut m = model();
        let bytes = m.to_bytes(Precision::F16);
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        let meta = header.metadata().clone().unwrap();
        assert_eq!(meta["crc32"], ddaebm_runtime::crc32(data_section(&bytes)).to_string());
        assert!(!meta.contains_key("columns"));
        let mut bad = bytes.clone();
        *bad.last_mut().unwrap() ^= 0x80;
        assert!(matches!(Model::from_bytes(&bad), Err(ddaebm_runtime::Error::ChecksumMismatch { .. })));

        m.input = Some(InputContract {
            columns: vec!["speed".into(), "temp, °C".into()],
            window: 1,
            window_stride: 1,
            dropped_columns: vec!["id".into()],
            label_column: Some("label".into()),
        });
        let bytes = m.to_bytes(Precision::F32);
        let model = Model::from_bytes(&bytes).unwrap();
        assert_eq!(model.window(), Some((1, 1, 2)));
        assert_eq!((model.column_name(0), model.column_name(1)), (Some("speed"), Some("temp%2C °C")));
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        let meta = header.metadata().clone().unwrap();
        assert_eq!(InputContract::from_metadata(&meta, 2).unwrap(), m.input);
    }

    #[test]
    fn int8_quantisation() {
        let w = [0.5, -1.27, 0.0, 0.004, 0.0, 0.0, 0.0, 0.0, 3.0, 1.5, -3.0, 0.75];
        let (q, s) = quantise_int8(&w, 3, 4);
        assert_eq!(s, vec![(1.27f64 / 127.0) as f32, 1.0, (3.0f64 / 127.0) as f32]);
        assert_eq!(q[1], -127);
        assert_eq!(&q[4..8], &[0, 0, 0, 0]);
        assert_eq!(&q[8..], &[127, 64, -127, 32]);
        // Every weight is within half a step of its grid point.
        for (k, (&w, &q)) in w.iter().zip(&q).enumerate() {
            let step = f64::from(s[k / 4]);
            assert!((w - step * f64::from(q)).abs() <= 0.5 * step * (1.0 + 1e-6), "{k}");
        }
    }

    /// Every precision loads in the runtime, reports its dtype, and
    /// computes what an f64 forward pass with the stored (rounded /
    /// dequantised) weights computes.
    #[test]
    fn every_precision_round_trips_through_the_runtime() {
        let m = model();
        let stored = |l: &Layer, p: Precision| -> Layer {
            let weight = match p {
                Precision::F32 => l.weight.iter().map(|&w| f64::from(w as f32)).collect(),
                Precision::F16 => l.weight.iter().map(|&w| half::f16::from_f64(w).to_f64()).collect(),
                Precision::Bf16 => l.weight.iter().map(|&w| half::bf16::from_f64(w).to_f64()).collect(),
                Precision::Int8 => {
                    let (q, s) = quantise_int8(&l.weight, l.out_dim, l.in_dim);
                    q.iter().enumerate().map(|(k, &q)| f64::from(s[k / l.in_dim]) * f64::from(q)).collect()
                }
            };
            let round = |v: &[f64]| v.iter().map(|&b| f64::from(b as f32)).collect();
            Layer { weight, bias: round(&l.bias), prelu: l.prelu.map(|a| f64::from(a as f32)), ..l.clone() }
        };
        let mut sizes = Vec::new();
        for (p, dtype) in [
            (Precision::F32, WeightDtype::F32),
            (Precision::F16, WeightDtype::F16),
            (Precision::Bf16, WeightDtype::Bf16),
            (Precision::Int8, WeightDtype::Int8),
        ] {
            let bytes = m.to_bytes(p);
            let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
            sizes.push(bytes.len() - 8 - header_len);
            let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
            let w = st.tensor("energy.1.weight").unwrap();
            let want = match p {
                Precision::F32 => Dtype::F32,
                Precision::F16 => Dtype::F16,
                Precision::Bf16 => Dtype::BF16,
                Precision::Int8 => Dtype::I8,
            };
            assert_eq!(w.dtype(), want);
            assert_eq!(st.tensor("energy.1.bias").unwrap().dtype(), Dtype::F32);
            let scale = st.tensor("energy.1.scale");
            if p == Precision::Int8 {
                let scale = scale.unwrap();
                assert_eq!((scale.dtype(), scale.shape()), (Dtype::F32, &[4usize][..]));
                assert_eq!(&scale.data()[..4], &1.0f32.to_le_bytes());
            } else {
                assert!(scale.is_err());
            }
            let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
            assert_eq!(meta.metadata().as_ref().unwrap()["weight_dtype"], p.name());

            let model = Model::from_bytes(&bytes).unwrap();
            assert_eq!(model.weight_dtype(), dtype);
            assert_eq!(dtype.as_str(), p.name());
            let energy: Vec<Layer> = m.energy.iter().map(|l| stored(l, p)).collect();
            let generator: Vec<Layer> = m.generator.iter().map(|l| stored(l, p)).collect();
            let mut scratch = vec![0f32; model.scratch_len()];
            // Int8 layers also round their input activations to i16 (the
            // runtime's SMLAD path, docs/performance.md): ≈ 2⁻¹⁵ relative
            // per layer on top of the stored weights.
            let tol = if p == Precision::Int8 { 5e-4 } else { 1e-5 };
            for k in 0..20 {
                let x = [1.5 * val(7000 + k) as f32, 1.5 * val(8000 + k) as f32];
                let z = [val(9000 + k) as f32];
                let t = k % 3;
                let f = model.energy_normalised(&x, t, &mut scratch).unwrap();
                let xs: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
                let f_ref = forward(&energy, &xs, t)[0];
                assert!((f64::from(f) - f_ref).abs() <= tol * f_ref.abs().max(1.0), "{p:?}: {f} vs {f_ref}");
                let mut g = [0f32; 2];
                model.generate(&x, &z, t, &mut g, &mut scratch).unwrap();
                let input = [xs[0], xs[1], f64::from(z[0])];
                for (a, b) in g.iter().zip(forward(&generator, &input, t)) {
                    assert!((f64::from(*a) - b).abs() <= tol * b.abs().max(1.0), "{p:?}: {a} vs {b}");
                }
            }
        }
        // Data buffer sizes: 4, 2, 2 and 1 byte per weight, plus one f32
        // scale per output row for int8 (this toy model has more rows than
        // the scales pay for; real layers are hundreds wide).
        let layers = || m.energy.iter().chain(&m.generator);
        let weights: usize = layers().map(|l| l.weight.len()).sum();
        let rows: usize = layers().map(|l| l.out_dim).sum();
        assert_eq!(sizes[0] - sizes[1], 2 * weights, "{sizes:?}");
        assert_eq!(sizes[1], sizes[2], "{sizes:?}");
        assert_eq!(sizes[0] + 4 * rows - sizes[3], 3 * weights, "{sizes:?}");
    }
}
