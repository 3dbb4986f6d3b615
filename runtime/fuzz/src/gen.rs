//! Valid-looking model files from the fuzzer's bytes (structure-aware
//! fuzzing): the bytes choose the shape (D, nz, T, layer counts and widths,
//! up to and past the runtime's limits), the weight dtype, the int8 scales,
//! the optional parts (base measure, calibration, reconstruction score,
//! input contract), the metadata values and every number in the file,
//! including extremes (subnormals, ±inf, NaN, huge and tiny values). The
//! `crc32` is computed (rarely omitted or wrong), so loading reaches
//! validation and, for most inputs, the kernels. The layout is the one
//! docs/model-format.md specifies and `export` writes.

use arbitrary::{Result, Unstructured};
use ddaebm_runtime::crc32;

/// One tensor of the file being written.
struct Tensor {
    name: String,
    dtype: &'static str,
    shape: Vec<usize>,
    data: Vec<u8>,
}

/// How the numbers of one file are drawn.
struct Numbers {
    /// 1 in `special` numbers is an extreme (0: none).
    special: u32,
}

impl Numbers {
    /// A number around ±`scale`, or an extreme.
    fn value(&self, u: &mut Unstructured<'_>, scale: f32) -> Result<f32> {
        if self.special > 0 && rare(u, self.special)? {
            return Ok(match u.int_in_range(0u8..=9)? {
                0 => 0.0,
                1 => -0.0,
                2 => f32::from_bits(u.int_in_range(1u32..=0x007f_ffff)?), // subnormal
                3 => f32::MIN_POSITIVE,
                4 => 1e-30,
                5 => if u.arbitrary()? { 3e38 } else { -3e38 },
                6 => if u.arbitrary()? { 1e30 } else { -1e30 },
                7 => f32::NAN,
                8 => if u.arbitrary()? { f32::INFINITY } else { f32::NEG_INFINITY },
                _ => f32::from_bits(u.arbitrary()?),
            });
        }
        Ok(f32::from(u.arbitrary::<i16>()?) / 16384.0 * scale)
    }

    /// A positive number around `scale` (`scale` itself for a drawn 0), or
    /// an extreme (possibly not positive).
    fn positive(&self, u: &mut Unstructured<'_>, scale: f32) -> Result<f32> {
        let v = self.value(u, scale)?;
        Ok(if v == 0.0 && v.is_sign_positive() { scale } else if v.is_finite() { v.abs() } else { v })
    }

    fn vec(&self, u: &mut Unstructured<'_>, n: usize, scale: f32) -> Result<Vec<f32>> {
        (0..n).map(|_| self.value(u, scale)).collect()
    }

    fn positives(&self, u: &mut Unstructured<'_>, n: usize, scale: f32) -> Result<Vec<f32>> {
        (0..n).map(|_| self.positive(u, scale)).collect()
    }
}

fn f32_tensor(name: impl Into<String>, shape: &[usize], v: &[f32]) -> Tensor {
    Tensor { name: name.into(), dtype: "F32", shape: shape.to_vec(), data: v.iter().flat_map(|x| x.to_le_bytes()).collect() }
}

/// True 1 time in `n`, never once the bytes run out (`Unstructured` then
/// answers zeros): the rare branches (errors, extremes) stay rare, and a
/// short input gives a plain, valid model.
fn rare(u: &mut Unstructured<'_>, n: u32) -> Result<bool> {
    Ok(u.int_in_range(0..=n - 1)? == n - 1)
}

/// A size: usually in 1..=small, sometimes up to `large` (at or past a
/// limit).
fn size(u: &mut Unstructured<'_>, small: usize, large: usize) -> Result<usize> {
    Ok(match u.int_in_range(0u8..=31)? {
        30 => u.int_in_range(small..=large)?,
        31 => large,
        _ => u.int_in_range(1..=small)?,
    })
}

/// A model file (safetensors bytes) drawn from `u`. Never fails on short
/// input: `Unstructured` answers zeros once its bytes run out.
pub fn model_file(u: &mut Unstructured<'_>) -> Result<Vec<u8>> {
    let nums = Numbers { special: [0, 0, 0, 512, 64, 8][u.int_in_range(0usize..=5)?] as u32 };
    let d = size(u, 12, 130)?;
    let nz = if rare(u, 8)? { 0 } else { size(u, 3, 40)? };
    let steps = size(u, 4, 65)?;
    let dtype = u.int_in_range(0u8..=3)?;
    let (wdtype, wname) = [("F32", "f32"), ("F16", "f16"), ("BF16", "bf16"), ("I8", "int8")][usize::from(dtype)];
    let with_base = u.ratio(2, 3)?;

    let mut meta: Vec<(String, String)> = vec![
        ("format".into(), "ddaebm-model".into()),
        ("format_version".into(), if with_base { "2" } else { "1" }.into()),
        ("data_dim".into(), d.to_string()),
        ("nz".into(), nz.to_string()),
        ("steps".into(), steps.to_string()),
        ("weight_dtype".into(), wname.into()),
    ];
    let mut tensors = vec![
        f32_tensor("schedule.coef1", &[steps], &nums.vec(u, steps, 1.0)?),
        f32_tensor("schedule.coef2", &[steps], &nums.vec(u, steps, 1.0)?),
        f32_tensor("schedule.posterior_std", &[steps], &nums.positives(u, steps, 0.3)?),
        f32_tensor("norm.mean", &[d], &nums.vec(u, d, 2.0)?),
    ];
    let std = nums.positives(u, d, 2.0)?;
    let inv_std: Vec<f32> = if rare(u, 8)? {
        nums.positives(u, d, 1.0)?
    } else {
        std.iter().map(|s| 1.0 / s).collect()
    };
    tensors.push(f32_tensor("norm.inv_std", &[d], &inv_std));
    tensors.push(f32_tensor("norm.std", &[d], &std));
    if with_base {
        tensors.push(f32_tensor("base.basis", &[d, d], &nums.vec(u, d * d, 1.0)?));
        tensors.push(f32_tensor("base.inv_var", &[steps, d], &nums.positives(u, steps * d, 1.0)?));
        tensors.push(f32_tensor("base.bound", &[1], &[nums.positive(u, 4.0)?]));
    }

    for (net, inp, out_last) in [("energy", d, 1usize), ("generator", d + nz, d)] {
        let layers = if rare(u, 64)? { 9 } else { u.int_in_range(1usize..=4)? };
        meta.push((format!("{net}_layers"), layers.to_string()));
        let mut w_in = inp;
        for i in 0..layers {
            let out = if i + 1 == layers { out_last } else { size(u, 24, 520)? };
            let per_step = u.arbitrary::<bool>()?;
            let n = out * w_in;
            let scale = 1.5 / (w_in as f32).sqrt();
            let data: Vec<u8> = match dtype {
                0 => nums.vec(u, n, scale)?.iter().flat_map(|v| v.to_le_bytes()).collect(),
                1 => nums.vec(u, n, scale)?.iter().flat_map(|&v| half::f16::from_f32(v).to_le_bytes()).collect(),
                2 => nums.vec(u, n, scale)?.iter().flat_map(|&v| half::bf16::from_f32(v).to_le_bytes()).collect(),
                _ => (0..n).map(|_| u.arbitrary::<u8>()).collect::<Result<_>>()?,
            };
            tensors.push(Tensor { name: format!("{net}.{i}.weight"), dtype: wdtype, shape: vec![out, w_in], data });
            if dtype == 3 {
                tensors.push(f32_tensor(format!("{net}.{i}.scale"), &[out], &nums.positives(u, out, scale / 127.0)?));
            }
            let bias_shape = if per_step { vec![steps, out] } else { vec![out] };
            let nb = bias_shape.iter().product();
            tensors.push(f32_tensor(format!("{net}.{i}.bias"), &bias_shape, &nums.vec(u, nb, 0.5)?));
            if i + 1 < layers && u.ratio(3, 4)? {
                tensors.push(f32_tensor(format!("{net}.{i}.prelu"), &[1], &[nums.value(u, 0.4)?]));
            }
            w_in = out;
        }
    }

    if rare(u, 3)? {
        let k = size(u, 17, 4098)?.max(1);
        let mut q = nums.vec(u, k, 3.0)?;
        if !rare(u, 8)? {
            q.sort_by(|a, b| a.total_cmp(b));
        }
        let threshold = q.get(k * 9 / 10).copied().unwrap_or(0.0);
        tensors.push(f32_tensor("calibration.quantiles", &[k], &q));
        tensors.push(f32_tensor("calibration.threshold", &[1], &[threshold]));
    }
    let reconstruction = rare(u, 4)?;
    if reconstruction || u.arbitrary::<bool>()? {
        tensors.push(f32_tensor("schedule.a_bar", &[steps], &nums.positives(u, steps, 0.8)?));
        tensors.push(f32_tensor("schedule.sigma_bar", &[steps], &nums.positives(u, steps, 0.8)?));
    }
    if reconstruction {
        meta.push(("anomaly_score".into(), "reconstruction".into()));
        let draws = match u.int_in_range(0u8..=15)? {
            14 => 0,
            15 => 257,
            _ => u.int_in_range(1usize..=8)?,
        };
        meta.push(("reconstruction_draws".into(), draws.to_string()));
    }
    if rare(u, 3)? {
        // The input contract: C channels dividing D, or (rarely) not.
        let divisors: Vec<usize> = (1..=d).filter(|c| d % c == 0).collect();
        let channels = if rare(u, 16)? { u.int_in_range(1..=d + 1)? } else { *u.choose(&divisors)? };
        let window = (d / channels).max(1);
        let columns: Vec<String> = (0..channels).map(|c| format!("c{c}")).collect();
        meta.push(("columns".into(), columns.join(",")));
        meta.push(("channels".into(), channels.to_string()));
        meta.push(("window".into(), window.to_string()));
        meta.push(("window_stride".into(), u.int_in_range(1usize..=4)?.to_string()));
    }
    if rare(u, 16)? {
        // One metadata value replaced (out of range, malformed, empty).
        let i = u.choose_index(meta.len())?;
        meta[i].1 = match u.int_in_range(0u8..=3)? {
            0 => String::new(),
            1 => "18446744073709551616".into(),
            2 => u.int_in_range(0u32..=2000)?.to_string(),
            _ => String::from_utf8_lossy(u.bytes(3)?).replace(['"', '\\'], ""),
        };
    }

    // Data section: tensors in order (rarely reversed).
    if rare(u, 8)? {
        tensors.reverse();
    }
    let mut data = Vec::new();
    let mut entries = Vec::new();
    for t in &tensors {
        let begin = data.len();
        data.extend_from_slice(&t.data);
        entries.push(format!(
            "\"{}\":{{\"dtype\":\"{}\",\"shape\":{:?},\"data_offsets\":[{},{}]}}",
            t.name,
            t.dtype,
            t.shape,
            begin,
            data.len()
        ));
    }
    match u.int_in_range(0u8..=31)? {
        30 => {}                                                        // no checksum
        31 => meta.push(("crc32".into(), (crc32(&data) ^ 1).to_string())), // a wrong one
        _ => meta.push(("crc32".into(), crc32(&data).to_string())),
    }
    let meta_json: Vec<String> = meta.iter().map(|(k, v)| format!("\"{k}\":\"{v}\"")).collect();
    let mut json = format!("{{\"__metadata__\":{{{}}},{}}}", meta_json.join(","), entries.join(","));
    let align = [8usize, 8, 4, 1][u.int_in_range(0usize..=3)?];
    while (8 + json.len()) % align != 0 {
        json.push(' ');
    }
    let mut file = (json.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(json.as_bytes());
    file.extend_from_slice(&data);
    Ok(file)
}
