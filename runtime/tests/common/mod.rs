//! Test helper: writes DDAEBM model files (safetensors) by hand, and a
//! plain f64 reference forward pass.

use ddaebm_runtime::Rng;

/// Storage type of the weight matrices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Wt {
    F32,
    F16,
    Bf16,
    Int8,
}

impl Wt {
    pub const ALL: [Wt; 4] = [Wt::F32, Wt::F16, Wt::Bf16, Wt::Int8];

    /// The `weight_dtype` metadata value.
    pub fn meta(self) -> &'static str {
        match self {
            Wt::F32 => "f32",
            Wt::F16 => "f16",
            Wt::Bf16 => "bf16",
            Wt::Int8 => "int8",
        }
    }

    /// The safetensors dtype of the weight matrices.
    pub fn dtype(self) -> &'static str {
        match self {
            Wt::F32 => "F32",
            Wt::F16 => "F16",
            Wt::Bf16 => "BF16",
            Wt::Int8 => "I8",
        }
    }
}

/// One layer: `h ← prelu?(W h + b[t])`.
#[derive(Clone, Debug)]
pub struct LayerSpec {
    pub out: usize,
    pub inp: usize,
    /// Row-major [out, inp].
    pub w: Vec<f32>,
    /// [out] or, if `per_step`, [T, out].
    pub b: Vec<f32>,
    pub per_step: bool,
    pub prelu: Option<f32>,
}

/// A whole model.
#[derive(Clone, Debug)]
pub struct Spec {
    pub d: usize,
    pub nz: usize,
    pub steps: usize,
    pub coef1: Vec<f32>,
    pub coef2: Vec<f32>,
    pub post_std: Vec<f32>,
    pub mean: Vec<f32>,
    pub inv_std: Vec<f32>,
    pub std: Vec<f32>,
    pub energy: Vec<LayerSpec>,
    pub generator: Vec<LayerSpec>,
    /// The energy's Gaussian base measure (format version 2), if any.
    pub base: Option<BaseSpec>,
}

/// The energy's base measure: `base.basis` [D, D], `base.inv_var` [T, D],
/// `base.bound`; for a Gaussian mixture of K ≥ 2 components also
/// `base.mean` [T, K, D] and `base.log_weight` [T, K], with `base.basis`
/// [K·D, D] and `base.inv_var` [T, K·D].
#[derive(Clone, Debug)]
pub struct BaseSpec {
    pub basis: Vec<f32>,
    pub inv_var: Vec<f32>,
    pub bound: f32,
    /// The mixture's means and log-weights; `None` for a single Gaussian.
    pub mixture: Option<MixtureSpec>,
}

/// A mixture base's extra tensors.
#[derive(Clone, Debug)]
pub struct MixtureSpec {
    /// K ≥ 2.
    pub k: usize,
    /// [T, K, D].
    pub mean: Vec<f32>,
    /// [T, K].
    pub log_weight: Vec<f32>,
}

impl BaseSpec {
    /// A random rotation-like basis (not orthogonal: the runtime does not
    /// need it to be) and positive precisions.
    pub fn random(seed: u64, d: usize, steps: usize) -> BaseSpec {
        let mut rng = Rng::new(seed);
        BaseSpec {
            basis: (0..d * d).map(|_| uniform(&mut rng, -1.0, 1.0)).collect(),
            inv_var: (0..steps * d).map(|_| uniform(&mut rng, 0.1, 2.0)).collect(),
            bound: uniform(&mut rng, 1.0, 10.0),
            mixture: None,
        }
    }

    /// A random mixture of `k` ≥ 2 components: each component's basis and
    /// precisions as [`BaseSpec::random`]'s, means in [−1.5, 1.5], log-weights
    /// in [−2, 0] (not normalised: the runtime does not need them to be).
    pub fn mixture(seed: u64, d: usize, steps: usize, k: usize) -> BaseSpec {
        let mut rng = Rng::new(seed);
        BaseSpec {
            basis: (0..k * d * d).map(|_| uniform(&mut rng, -1.0, 1.0)).collect(),
            inv_var: (0..steps * k * d).map(|_| uniform(&mut rng, 0.1, 2.0)).collect(),
            bound: uniform(&mut rng, 1.0, 10.0),
            mixture: Some(MixtureSpec {
                k,
                mean: (0..steps * k * d).map(|_| uniform(&mut rng, -1.5, 1.5)).collect(),
                log_weight: (0..steps * k).map(|_| uniform(&mut rng, -2.0, 0.0)).collect(),
            }),
        }
    }

    /// As [`BaseSpec::random`] with orthonormal rows (Gram–Schmidt), as
    /// export writes them: the base then falls along every direction.
    pub fn orthonormal(seed: u64, d: usize, steps: usize) -> BaseSpec {
        let mut b = BaseSpec::random(seed, d, steps);
        for k in 0..d {
            for j in 0..k {
                let dot: f32 = (0..d).map(|i| b.basis[k * d + i] * b.basis[j * d + i]).sum();
                for i in 0..d {
                    b.basis[k * d + i] -= dot * b.basis[j * d + i];
                }
            }
            let norm = (0..d).map(|i| b.basis[k * d + i].powi(2)).sum::<f32>().sqrt();
            (0..d).for_each(|i| b.basis[k * d + i] /= norm);
        }
        b
    }

    /// K: 1, or the mixture's component count.
    pub fn components(&self) -> usize {
        self.mixture.as_ref().map_or(1, |m| m.k)
    }

    /// f64 reference of base_t(x), x normalised: −½ Σ_k (v_k · x)² ·
    /// inv_var[t][k], or for a mixture log Σ_k exp(log_weight[t][k] − ½ Σ_j
    /// (v_{k,j} · (x − mean[t][k]))² · inv_var[t][k·D + j]).
    pub fn log_density_reference(&self, x: &[f64], t: usize) -> f64 {
        let d = x.len();
        let Some(m) = &self.mixture else {
            let mut q = 0.0;
            for k in 0..d {
                let p: f64 = (0..d).map(|i| self.basis[k * d + i] as f64 * x[i]).sum();
                q += p * p * self.inv_var[t * d + k] as f64;
            }
            return -0.5 * q;
        };
        let l: Vec<f64> = (0..m.k)
            .map(|k| {
                let mean = &m.mean[(t * m.k + k) * d..(t * m.k + k + 1) * d];
                let mut q = 0.0;
                for j in 0..d {
                    let v = &self.basis[(k * d + j) * d..(k * d + j + 1) * d];
                    let p: f64 = (0..d).map(|i| v[i] as f64 * (x[i] - mean[i] as f64)).sum();
                    q += p * p * self.inv_var[t * m.k * d + k * d + j] as f64;
                }
                m.log_weight[t * m.k + k] as f64 - 0.5 * q
            })
            .collect();
        let max = l.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        max + l.iter().map(|lk| (lk - max).exp()).sum::<f64>().ln()
    }

    /// f64 reference of f = r / (1 + |r| / B) + base_t(x), x normalised.
    pub fn reference(&self, r: f64, x: &[f64], t: usize) -> f64 {
        let b = self.bound as f64;
        r / (1.0 + r.abs() / b) + self.log_density_reference(x, t)
    }
}

/// One tensor as it will be written.
#[derive(Clone, Debug)]
pub struct Tensor {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<u64>,
    pub data: Vec<u8>,
    /// Override for `data_offsets` (default: where the data is written).
    pub offsets: Option<Vec<u64>>,
}

pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn f16_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| half::f16::from_f32(*x).to_bits().to_le_bytes()).collect()
}

pub fn round_f16(x: f32) -> f32 {
    half::f16::from_f32(x).to_f32()
}

pub fn bf16_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| half::bf16::from_f32(*x).to_bits().to_le_bytes()).collect()
}

pub fn round_bf16(x: f32) -> f32 {
    half::bf16::from_f32(x).to_f32()
}

/// Symmetric per-row int8 quantisation of a row-major [out, inp] matrix, as
/// `export --int8` does it: `scale[o] = max |W[o]| / 127` (1 for a zero
/// row), `q = round(W / scale)` clamped to ±127. Returns (q, scale).
pub fn quantise_i8(w: &[f32], out: usize, inp: usize) -> (Vec<i8>, Vec<f32>) {
    let mut q = Vec::with_capacity(out * inp);
    let mut scales = Vec::with_capacity(out);
    for row in w.chunks_exact(inp).take(out) {
        let max = row.iter().fold(0.0f64, |m, &v| m.max((v as f64).abs()));
        let scale = if max > 0.0 { (max / 127.0) as f32 } else { 1.0 };
        scales.push(scale);
        q.extend(row.iter().map(|&v| (v as f64 / scale as f64).round().clamp(-127.0, 127.0) as i8));
    }
    (q, scales)
}

/// The weights of `l` as the runtime sees them for `wt`, in f64: rounded to
/// f16 / bf16, or dequantised `scale[o] · q[o][i]` for int8.
pub fn effective_weights(l: &LayerSpec, wt: Wt) -> Vec<f64> {
    match wt {
        Wt::F32 => l.w.iter().map(|&w| w as f64).collect(),
        Wt::F16 => l.w.iter().map(|&w| round_f16(w) as f64).collect(),
        Wt::Bf16 => l.w.iter().map(|&w| round_bf16(w) as f64).collect(),
        Wt::Int8 => {
            let (q, s) = quantise_i8(&l.w, l.out, l.inp);
            q.iter().enumerate().map(|(k, &q)| s[k / l.inp] as f64 * q as f64).collect()
        }
    }
}

pub fn f32_tensor(name: &str, shape: &[usize], v: &[f32]) -> Tensor {
    Tensor {
        name: name.into(),
        dtype: "F32".into(),
        shape: shape.iter().map(|&s| s as u64).collect(),
        data: f32_bytes(v),
        offsets: None,
    }
}

impl Spec {
    pub fn metadata(&self, wt: Wt) -> Vec<(String, String)> {
        let s = |k: &str, v: String| (k.to_string(), v);
        vec![
            s("format", "ddaebm-model".into()),
            s("format_version", if self.base.is_some() { "2" } else { "1" }.into()),
            s("data_dim", self.d.to_string()),
            s("nz", self.nz.to_string()),
            s("steps", self.steps.to_string()),
            s("weight_dtype", wt.meta().into()),
            s("energy_layers", self.energy.len().to_string()),
            s("generator_layers", self.generator.len().to_string()),
            s("schedule", "vp".into()),
        ]
    }

    pub fn tensors(&self, wt: Wt) -> Vec<Tensor> {
        let mut t = vec![
            f32_tensor("schedule.coef1", &[self.steps], &self.coef1),
            f32_tensor("schedule.coef2", &[self.steps], &self.coef2),
            f32_tensor("schedule.posterior_std", &[self.steps], &self.post_std),
            f32_tensor("norm.mean", &[self.d], &self.mean),
            f32_tensor("norm.inv_std", &[self.d], &self.inv_std),
            f32_tensor("norm.std", &[self.d], &self.std),
        ];
        if let Some(b) = &self.base {
            let k = b.components();
            t.push(f32_tensor("base.basis", &[k * self.d, self.d], &b.basis));
            t.push(f32_tensor("base.inv_var", &[self.steps, k * self.d], &b.inv_var));
            t.push(f32_tensor("base.bound", &[1], &[b.bound]));
            if let Some(m) = &b.mixture {
                t.push(f32_tensor("base.mean", &[self.steps, m.k, self.d], &m.mean));
                t.push(f32_tensor("base.log_weight", &[self.steps, m.k], &m.log_weight));
            }
        }
        for (net, layers) in [("energy", &self.energy), ("generator", &self.generator)] {
            for (i, l) in layers.iter().enumerate() {
                let (data, scale) = match wt {
                    Wt::F32 => (f32_bytes(&l.w), None),
                    Wt::F16 => (f16_bytes(&l.w), None),
                    Wt::Bf16 => (bf16_bytes(&l.w), None),
                    Wt::Int8 => {
                        let (q, s) = quantise_i8(&l.w, l.out, l.inp);
                        (q.iter().map(|q| q.to_le_bytes()[0]).collect(), Some(s))
                    }
                };
                t.push(Tensor {
                    name: format!("{net}.{i}.weight"),
                    dtype: wt.dtype().into(),
                    shape: vec![l.out as u64, l.inp as u64],
                    data,
                    offsets: None,
                });
                if let Some(s) = scale {
                    t.push(f32_tensor(&format!("{net}.{i}.scale"), &[l.out], &s));
                }
                let bshape: Vec<usize> = if l.per_step { vec![self.steps, l.out] } else { vec![l.out] };
                t.push(f32_tensor(&format!("{net}.{i}.bias"), &bshape, &l.b));
                if let Some(p) = l.prelu {
                    t.push(f32_tensor(&format!("{net}.{i}.prelu"), &[1], &[p]));
                }
            }
        }
        t
    }

    pub fn build(&self, wt: Wt) -> Vec<u8> {
        assemble(&self.metadata(wt), &self.tensors(wt), 8)
    }
}

/// Header JSON for the given metadata and tensors; data offsets are
/// consecutive unless overridden. Returns (json, data).
pub fn header_and_data(meta: &[(String, String)], tensors: &[Tensor]) -> (String, Vec<u8>) {
    let mut json = String::from("{\"__metadata__\":{");
    let m: Vec<String> = meta.iter().map(|(k, v)| format!("\"{k}\":\"{v}\"")).collect();
    json += &m.join(",");
    json.push('}');
    let mut data = Vec::new();
    for t in tensors {
        let begin = data.len() as u64;
        data.extend_from_slice(&t.data);
        let offsets = t.offsets.clone().unwrap_or(vec![begin, data.len() as u64]);
        json += &format!(
            ",\n  \"{}\": {{\"dtype\": \"{}\", \"shape\": {:?}, \"data_offsets\": {:?}}}",
            t.name, t.dtype, t.shape, offsets
        );
    }
    json.push('}');
    (json, data)
}

/// A safetensors file: the header is padded with spaces so that the data
/// starts at a multiple of `align` (1 = no padding).
pub fn assemble(meta: &[(String, String)], tensors: &[Tensor], align: usize) -> Vec<u8> {
    let (mut json, data) = header_and_data(meta, tensors);
    while (8 + json.len()) % align != 0 {
        json.push(' ');
    }
    raw(&json, &data)
}

/// A file from a literal header and data buffer.
pub fn raw(json: &str, data: &[u8]) -> Vec<u8> {
    let mut file = (json.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(json.as_bytes());
    file.extend_from_slice(data);
    file
}

fn uniform(rng: &mut Rng, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * rng.uniform()
}

fn layer(rng: &mut Rng, inp: usize, out: usize, steps: usize, per_step: bool, prelu: bool) -> LayerSpec {
    let scale = 1.0 / (inp as f32).sqrt();
    LayerSpec {
        out,
        inp,
        w: (0..out * inp).map(|_| uniform(rng, -1.5, 1.5) * scale).collect(),
        b: (0..if per_step { steps * out } else { out }).map(|_| uniform(rng, -0.5, 0.5)).collect(),
        per_step,
        prelu: prelu.then(|| uniform(rng, 0.05, 0.4)),
    }
}

/// A random small model: D = 2, nz = 2, T = 3, hidden widths 5 and 7,
/// per-step bias on the first layer, PReLU on hidden layers.
pub fn random_spec(seed: u64) -> Spec {
    random_spec_dims(seed, 2, 2, 3, &[5, 7])
}

pub fn random_spec_dims(seed: u64, d: usize, nz: usize, steps: usize, widths: &[usize]) -> Spec {
    let mut rng = Rng::new(seed);
    let net = |inp: usize, out_last: usize, rng: &mut Rng| {
        let mut layers = Vec::new();
        let mut w = inp;
        for (i, &h) in widths.iter().enumerate() {
            layers.push(layer(rng, w, h, steps, i == 0, true));
            w = h;
        }
        layers.push(layer(rng, w, out_last, steps, false, false));
        layers
    };
    let energy = net(d, 1, &mut rng);
    let generator = net(d + nz, d, &mut rng);
    let std: Vec<f32> = (0..d).map(|_| uniform(&mut rng, 0.5, 3.0)).collect();
    Spec {
        d,
        nz,
        steps,
        coef1: (0..steps).map(|_| uniform(&mut rng, 0.2, 0.9)).collect(),
        coef2: (0..steps).map(|_| uniform(&mut rng, 0.1, 0.8)).collect(),
        post_std: (0..steps).map(|_| uniform(&mut rng, 0.0, 0.3)).collect(),
        mean: (0..d).map(|_| uniform(&mut rng, -2.0, 2.0)).collect(),
        inv_std: std.iter().map(|s| 1.0 / s).collect(),
        std,
        energy,
        generator,
        base: None,
    }
}

/// f64 forward pass of a layer chain at step `t` with the weights the file
/// holds for `wt` ([`effective_weights`]: rounded to f16 / bf16 or int8
/// dequantised; biases and slopes stay f32, as in the file).
pub fn reference_forward(layers: &[LayerSpec], t: usize, x: &[f64], wt: Wt) -> Vec<f64> {
    let mut h = x.to_vec();
    for l in layers {
        let bias = if l.per_step { &l.b[t * l.out..(t + 1) * l.out] } else { &l.b[..] };
        let w = effective_weights(l, wt);
        let mut y = vec![0.0f64; l.out];
        for j in 0..l.out {
            let mut acc = 0.0f64;
            for (&w, &hi) in w[j * l.inp..(j + 1) * l.inp].iter().zip(&h) {
                acc += w * hi;
            }
            y[j] = acc + bias[j] as f64;
            if let Some(p) = l.prelu {
                if y[j] < 0.0 {
                    y[j] *= p as f64;
                }
            }
        }
        h = y;
    }
    h
}

/// |a − b| ≤ tol · max(1, |b|): relative error, absolute below magnitude 1.
pub fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1.0)
}

/// A scratch buffer of the size the model asks for.
pub fn scratch_for(model: &ddaebm_runtime::Model<'_>) -> Vec<f32> {
    vec![0.0; model.scratch_len()]
}
