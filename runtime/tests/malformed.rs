//! Every malformed file and bad call gives a specific error, never a panic.

use crate::common::*;
use ddaebm_runtime::{Error, LayerParam, Model, Net, Rng, TensorName};

fn spec() -> Spec {
    random_spec(42)
}

fn load(bytes: &[u8]) -> Result<(), Error> {
    Model::from_bytes(bytes).map(|_| ())
}

/// Builds a file from the test spec after editing its metadata / tensors.
fn edited(edit_meta: impl FnOnce(&mut Vec<(String, String)>), edit_tensors: impl FnOnce(&mut Vec<Tensor>)) -> Vec<u8> {
    edited_spec(spec(), edit_meta, edit_tensors)
}

/// Builds a file from `s` after editing its metadata / tensors.
fn edited_spec(
    s: Spec,
    edit_meta: impl FnOnce(&mut Vec<(String, String)>),
    edit_tensors: impl FnOnce(&mut Vec<Tensor>),
) -> Vec<u8> {
    let mut meta = s.metadata(Wt::F32);
    let mut tensors = s.tensors(Wt::F32);
    edit_meta(&mut meta);
    edit_tensors(&mut tensors);
    assemble(&meta, &tensors, 8)
}

fn with_meta(key: &str, value: Option<&str>) -> Vec<u8> {
    edited(
        |m| {
            m.retain(|(k, _)| k != key);
            if let Some(v) = value {
                m.push((key.into(), v.into()));
            }
        },
        |_| {},
    )
}

fn with_tensor(name: &str, f: impl FnOnce(&mut Tensor)) -> Vec<u8> {
    edited(|_| {}, |t| f(t.iter_mut().find(|t| t.name == name).expect(name)))
}

fn without_tensor(name: &str) -> Vec<u8> {
    edited(|_| {}, |t| t.retain(|t| t.name != name))
}

fn layer(net: Net, index: u32, param: LayerParam) -> TensorName {
    TensorName::Layer { net, index, param }
}

/// The header JSON (without padding) and data buffer of a file.
fn split(file: &[u8]) -> (String, Vec<u8>) {
    let n = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let json = std::str::from_utf8(&file[8..8 + n]).unwrap().trim_end().to_string();
    (json, file[8 + n..].to_vec())
}

fn header_file(json: &str) -> Vec<u8> {
    raw(json, &[])
}

#[test]
fn valid_file_loads() {
    assert_eq!(load(&spec().build(Wt::F32)), Ok(()));
    // Unknown metadata keys and unknown tensors are ignored.
    let bytes = edited(
        |m| m.push(("dataset".into(), "25gaussians".into())),
        |t| {
            t.push(Tensor {
                name: "encoder.0.weight".into(),
                dtype: "BF16".into(),
                shape: vec![1 << 40],
                data: vec![],
                offsets: Some(vec![5, 1]),
            })
        },
    );
    assert_eq!(load(&bytes), Ok(()));
}

#[test]
fn container_errors() {
    assert_eq!(load(&[]), Err(Error::TooShort { len: 0 }));
    assert_eq!(load(&[0; 7]), Err(Error::TooShort { len: 7 }));
    let mut f = spec().build(Wt::F32);
    let len = f.len();
    f[..8].copy_from_slice(&(len as u64).to_le_bytes());
    assert_eq!(load(&f), Err(Error::HeaderOutOfBounds { header_len: len as u64, available: len - 8 }));
    f[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert_eq!(load(&f), Err(Error::HeaderOutOfBounds { header_len: u64::MAX, available: len - 8 }));
    // A zero-length header is not an object.
    assert_eq!(load(&[0; 8]), Err(Error::Json { offset: 8 }));
}

#[test]
fn json_errors() {
    let (json, data) = split(&spec().build(Wt::F32));
    // Truncated JSON (header length adjusted).
    let cut = &json[..json.len() / 2];
    assert!(matches!(load(&header_file(cut)), Err(Error::Json { .. })));
    // Missing colon.
    let bad = json.replacen("\"dtype\": \"F32\"", "\"dtype\" \"F32\"", 1);
    assert!(matches!(load(&header_file(&bad)), Err(Error::Json { .. })));
    // Unterminated string.
    assert_eq!(load(&header_file("{\"__metadata__")), Err(Error::Json { offset: 22 }));
    // Escape in a string.
    let bad = json.replacen("norm.mean", "norm\\u002emean", 1);
    assert!(matches!(load(&header_file(&bad)), Err(Error::UnsupportedEscape { .. })));
    // Nested too deep.
    let bad = json.replacen("\"shape\": [", "\"shape\": {\"a\": [", 1);
    assert!(matches!(load(&header_file(&bad)), Err(Error::UnsupportedJson { .. })));
    assert_eq!(load(&header_file("{\"__metadata__\":{\"a\":{\"b\":{}}}}")), Err(Error::UnsupportedJson { offset: 29 }));
    // Negative number, float, literal, trailing garbage, trailing comma.
    for bad in [
        json.replacen("\"data_offsets\": [0", "\"data_offsets\": [-0", 1),
        json.replacen("\"shape\": [3]", "\"shape\": [3.0]", 1),
        json.replacen("\"shape\": [3]", "\"shape\": true", 1),
    ] {
        assert!(matches!(load(&header_file(&bad)), Err(Error::UnsupportedJson { .. })), "{bad}");
    }
    assert!(matches!(load(&header_file(&format!("{json}}}"))), Err(Error::Json { .. })));
    let bad = format!("{},}}", &json[..json.len() - 1]);
    assert!(matches!(load(&header_file(&bad)), Err(Error::Json { .. })));
    // Duplicate tensor.
    let dup = edited(
        |_| {},
        |t| {
            let c = t[0].clone();
            t.push(c)
        },
    );
    assert!(matches!(load(&dup), Err(Error::DuplicateKey { .. })));
    // Duplicate metadata key the runtime reads.
    let dup = edited(|m| m.push(("steps".into(), "3".into())), |_| {});
    assert!(matches!(load(&dup), Err(Error::DuplicateKey { .. })));
    // Padding with spaces and other whitespace is fine.
    let padded = format!("\n\t{json}\r\n      ");
    assert_eq!(load(&raw(&padded, &data)), Ok(()));
}

#[test]
fn metadata_errors() {
    assert_eq!(load(&with_meta("format", None)), Err(Error::NotDdaebmModel));
    assert_eq!(load(&with_meta("format", Some("gguf"))), Err(Error::NotDdaebmModel));
    assert_eq!(load(&header_file("{}")), Err(Error::NotDdaebmModel));
    assert_eq!(load(&with_meta("format_version", Some("3"))), Err(Error::UnsupportedVersion { found: 3 }));
    assert_eq!(load(&with_meta("format_version", Some("0"))), Err(Error::UnsupportedVersion { found: 0 }));
    assert_eq!(load(&with_meta("format_version", Some("2"))), Ok(()));
    assert_eq!(
        load(&with_meta("format_version", Some("99999999999"))),
        Err(Error::UnsupportedVersion { found: u32::MAX })
    );
    assert_eq!(load(&with_meta("format_version", Some("1.0"))), Err(Error::BadMetadata("format_version")));
    for key in ["format_version", "data_dim", "nz", "steps", "weight_dtype", "energy_layers", "generator_layers"] {
        assert_eq!(load(&with_meta(key, None)), Err(Error::MissingMetadata(key)), "{key}");
    }
    for (key, value) in [
        ("steps", "0"),
        ("steps", "1000"),
        ("steps", "65"),
        ("data_dim", "0"),
        ("data_dim", "1025"),
        ("nz", "1025"),
        ("energy_layers", "0"),
        ("generator_layers", "0"),
        ("steps", "184467440737095516160"),
    ] {
        assert_eq!(load(&with_meta(key, Some(value))), Err(Error::MetadataOutOfRange(key)), "{key}={value}");
    }
    for (key, value) in [
        ("steps", ""),
        ("steps", " 3"),
        ("steps", "-3"),
        ("nz", "two"),
        ("weight_dtype", "int4"),
        ("weight_dtype", "F16"),
    ] {
        assert_eq!(load(&with_meta(key, Some(value))), Err(Error::BadMetadata(key)), "{key}={value}");
    }
    assert_eq!(load(&with_meta("energy_layers", Some("9"))), Err(Error::TooManyLayers { net: Net::Energy, found: 9 }));
    assert_eq!(
        load(&with_meta("generator_layers", Some("100"))),
        Err(Error::TooManyLayers { net: Net::Generator, found: 100 })
    );
    // Layer count and tensors disagree.
    assert_eq!(
        load(&with_meta("energy_layers", Some("4"))),
        Err(Error::MissingTensor(layer(Net::Energy, 3, LayerParam::Weight)))
    );
    assert_eq!(
        load(&with_meta("energy_layers", Some("2"))),
        Err(Error::UnexpectedTensor(layer(Net::Energy, 2, LayerParam::Weight)))
    );
    // Shape metadata and tensors disagree.
    assert_eq!(load(&with_meta("steps", Some("4"))), Err(Error::ShapeMismatch(TensorName::Coef1)));
    assert_eq!(load(&with_meta("data_dim", Some("3"))), Err(Error::ShapeMismatch(TensorName::NormMean)));
    assert_eq!(
        load(&with_meta("nz", Some("1"))),
        Err(Error::ShapeMismatch(layer(Net::Generator, 0, LayerParam::Weight)))
    );
}

#[test]
fn tensor_errors() {
    let w0 = layer(Net::Energy, 0, LayerParam::Weight);
    assert_eq!(load(&with_tensor("energy.0.weight", |t| t.dtype = "I16".into())), Err(Error::UnknownDtype(w0)));
    // BF16 and I8 are known dtypes now: an F32-sized payload under them is
    // a size mismatch, not an unknown dtype.
    for dtype in ["BF16", "I8"] {
        assert_eq!(
            load(&with_tensor("energy.0.weight", |t| t.dtype = dtype.into())),
            Err(Error::TensorSizeMismatch(w0)),
            "{dtype}"
        );
    }
    assert_eq!(load(&with_tensor("energy.0.weight", |t| t.dtype = "F64".into())), Err(Error::UnknownDtype(w0)));
    assert_eq!(
        load(&with_tensor("energy.0.bias", |t| {
            t.dtype = "F16".into();
            t.shape = vec![3, 10];
        })),
        Err(Error::WrongDtype(layer(Net::Energy, 0, LayerParam::Bias)))
    );
    assert_eq!(
        load(&with_tensor("schedule.coef2", |t| {
            t.dtype = "F16".into();
            t.shape = vec![6];
        })),
        Err(Error::WrongDtype(TensorName::Coef2))
    );
    // data_offsets out of range, reversed, wrong count.
    assert_eq!(
        load(&with_tensor("norm.std", |t| t.offsets = Some(vec![1 << 20, (1 << 20) + 8]))),
        Err(Error::TensorOutOfBounds(TensorName::NormStd))
    );
    assert_eq!(
        load(&with_tensor("norm.std", |t| t.offsets = Some(vec![u64::MAX - 7, u64::MAX]))),
        Err(Error::TensorOutOfBounds(TensorName::NormStd))
    );
    assert_eq!(
        load(&with_tensor("norm.std", |t| t.offsets = Some(vec![8, 0]))),
        Err(Error::InvalidOffsets(TensorName::NormStd))
    );
    assert_eq!(
        load(&with_tensor("norm.std", |t| t.offsets = Some(vec![0, 8, 16]))),
        Err(Error::InvalidOffsets(TensorName::NormStd))
    );
    assert_eq!(
        load(&with_tensor("norm.std", |t| t.offsets = Some(vec![]))),
        Err(Error::InvalidOffsets(TensorName::NormStd))
    );
    // Size does not match the shape; the shape's size overflows.
    assert_eq!(
        load(&with_tensor("norm.std", |t| t.shape = vec![3])),
        Err(Error::TensorSizeMismatch(TensorName::NormStd))
    );
    assert_eq!(
        load(&with_tensor("energy.0.weight", |t| t.shape = vec![1 << 32, 1 << 32])),
        Err(Error::TensorSizeMismatch(w0))
    );
    assert_eq!(
        load(&with_tensor("energy.0.weight", |t| t.shape = vec![u64::MAX, 2])),
        Err(Error::TensorSizeMismatch(w0))
    );
    // Zero dims with a zero byte length pass the size check but not the shape check.
    assert_eq!(
        load(&with_tensor("energy.0.weight", |t| {
            t.shape = vec![0, u64::MAX];
            t.data.clear();
        })),
        Err(Error::ShapeMismatch(w0))
    );
    // Entry lacking a field (dtype), with an ignored extra field.
    let (json, data) = split(&spec().build(Wt::F32));
    let bad = json.replacen("\"norm.mean\": {\"dtype\": \"F32\", ", "\"norm.mean\": {\"x\": \"y\", ", 1);
    assert_ne!(bad, json);
    assert_eq!(load(&raw(&bad, &data)), Err(Error::BadTensorEntry(TensorName::NormMean)));
    // Missing tensors.
    for (name, id) in [
        ("schedule.coef1", TensorName::Coef1),
        ("schedule.posterior_std", TensorName::PosteriorStd),
        ("norm.inv_std", TensorName::NormInvStd),
        ("generator.2.bias", layer(Net::Generator, 2, LayerParam::Bias)),
        ("energy.1.weight", layer(Net::Energy, 1, LayerParam::Weight)),
    ] {
        assert_eq!(load(&without_tensor(name)), Err(Error::MissingTensor(id)), "{name}");
    }
    // A layer without PReLU is fine.
    assert_eq!(load(&without_tensor("energy.1.prelu")), Ok(()));
}

#[test]
fn shape_errors() {
    let s = spec();
    // Reshaping keeps the byte size, so these reach the shape check.
    let cases: Vec<(&str, Vec<u64>, TensorName)> = vec![
        ("schedule.coef1", vec![1, 3], TensorName::Coef1),
        ("norm.inv_std", vec![2, 1], TensorName::NormInvStd),
        // energy.0: [5, 2] -> [2, 5] does not take D = 2 inputs.
        ("energy.0.weight", vec![2, 5], layer(Net::Energy, 0, LayerParam::Weight)),
        ("energy.0.weight", vec![10], layer(Net::Energy, 0, LayerParam::Weight)),
        // generator.1: [7, 5] -> [5, 7] does not chain with layer 0's 5 outputs.
        ("generator.1.weight", vec![5, 7], layer(Net::Generator, 1, LayerParam::Weight)),
        // per-step bias [3, 5] -> [5, 3] / [15].
        ("energy.0.bias", vec![5, 3], layer(Net::Energy, 0, LayerParam::Bias)),
        ("energy.0.bias", vec![15], layer(Net::Energy, 0, LayerParam::Bias)),
        ("energy.1.prelu", vec![1, 1], layer(Net::Energy, 1, LayerParam::Prelu)),
        ("energy.1.prelu", vec![], layer(Net::Energy, 1, LayerParam::Prelu)),
    ];
    for (name, shape, id) in cases {
        assert_eq!(
            load(&with_tensor(name, |t| t.shape = shape.clone())),
            Err(Error::ShapeMismatch(id)),
            "{name} {shape:?}"
        );
    }
    // Energy's last layer must have one output: replace energy.2 by a [2, 7] layer.
    let bytes = edited(
        |_| {},
        |t| {
            let w = t.iter_mut().find(|t| t.name == "energy.2.weight").unwrap();
            w.shape = vec![2, 7];
            w.data = f32_bytes(&[0.5; 14]);
            let b = t.iter_mut().find(|t| t.name == "energy.2.bias").unwrap();
            b.shape = vec![2];
            b.data = f32_bytes(&[0.0; 2]);
        },
    );
    assert_eq!(load(&bytes), Err(Error::ShapeMismatch(layer(Net::Energy, 2, LayerParam::Weight))));
    // Generator's last layer must have D outputs.
    let bytes = edited(
        |_| {},
        |t| {
            let w = t.iter_mut().find(|t| t.name == "generator.2.weight").unwrap();
            w.shape = vec![1, 7];
            w.data = f32_bytes(&[0.5; 7]);
            let b = t.iter_mut().find(|t| t.name == "generator.2.bias").unwrap();
            b.shape = vec![1];
            b.data = f32_bytes(&[0.0]);
        },
    );
    assert_eq!(load(&bytes), Err(Error::ShapeMismatch(layer(Net::Generator, 2, LayerParam::Weight))));
    // PReLU on the last layer.
    let bytes = edited(
        |_| {},
        |t| {
            t.push(Tensor {
                name: "generator.2.prelu".into(),
                dtype: "F32".into(),
                shape: vec![1],
                data: f32_bytes(&[0.25]),
                offsets: None,
            })
        },
    );
    assert_eq!(load(&bytes), Err(Error::UnexpectedTensor(layer(Net::Generator, 2, LayerParam::Prelu))));
    // Layer tensors beyond the declared count, inside and beyond MAX_LAYERS.
    for (name, id) in [
        ("energy.5.bias", layer(Net::Energy, 5, LayerParam::Bias)),
        ("generator.12.weight", layer(Net::Generator, 12, LayerParam::Weight)),
    ] {
        let bytes = edited(
            |_| {},
            |t| {
                t.push(Tensor {
                    name: name.into(),
                    dtype: "F32".into(),
                    shape: vec![1],
                    data: f32_bytes(&[0.0]),
                    offsets: None,
                })
            },
        );
        assert_eq!(load(&bytes), Err(Error::UnexpectedTensor(id)), "{name}");
    }
    let _ = s;
}

#[test]
fn parameter_errors() {
    let set = |name: &'static str, i: usize, v: f32| {
        with_tensor(name, move |t| t.data[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes()))
    };
    assert_eq!(load(&set("schedule.coef1", 1, f32::NAN)), Err(Error::NonFiniteParameter(TensorName::Coef1)));
    assert_eq!(load(&set("schedule.coef2", 2, f32::INFINITY)), Err(Error::NonFiniteParameter(TensorName::Coef2)));
    assert_eq!(
        load(&set("schedule.posterior_std", 0, f32::NAN)),
        Err(Error::NonFiniteParameter(TensorName::PosteriorStd))
    );
    assert_eq!(load(&set("schedule.posterior_std", 1, -0.1)), Err(Error::InvalidParameter(TensorName::PosteriorStd)));
    assert_eq!(load(&set("schedule.posterior_std", 0, 0.0)), Ok(()));
    assert_eq!(load(&set("norm.mean", 0, f32::NEG_INFINITY)), Err(Error::NonFiniteParameter(TensorName::NormMean)));
    assert_eq!(load(&set("norm.inv_std", 1, 0.0)), Err(Error::InvalidParameter(TensorName::NormInvStd)));
    assert_eq!(load(&set("norm.inv_std", 1, -0.0)), Err(Error::InvalidParameter(TensorName::NormInvStd)));
    assert_eq!(load(&set("norm.inv_std", 0, f32::INFINITY)), Err(Error::NonFiniteParameter(TensorName::NormInvStd)));
    assert_eq!(load(&set("norm.std", 1, f32::NAN)), Err(Error::NonFiniteParameter(TensorName::NormStd)));
    // Weights are not checked at load; a NaN weight shows at the output.
    let bytes = set("energy.1.weight", 3, f32::NAN);
    let model = Model::from_bytes(&bytes).unwrap();
    let mut scratch = scratch_for(&model);
    assert_eq!(model.energy(&[0.1, 0.2], 0, &mut scratch), Err(Error::NonFiniteOutput));
    let bytes = set("generator.0.weight", 0, f32::INFINITY);
    let model = Model::from_bytes(&bytes).unwrap();
    let mut out = [0.0f32; 2];
    assert_eq!(model.sample(&mut Rng::new(1), &mut out, &mut scratch), Err(Error::NonFiniteOutput));
    let mut x = [0.5f32, 0.5];
    assert_eq!(model.denoise_step(&mut x, &[0.1, 0.1], &[0.0; 2], 1, &mut scratch), Err(Error::NonFiniteOutput));
    let mut x0 = [0.0f32; 2];
    assert_eq!(model.generate(&[0.5, 0.5], &[0.1, 0.1], 1, &mut x0, &mut scratch), Err(Error::NonFiniteOutput));
    // Non-finite input.
    let bytes = spec().build(Wt::F32);
    let model = Model::from_bytes(&bytes).unwrap();
    assert_eq!(model.energy(&[f32::NAN, 0.0], 0, &mut scratch), Err(Error::NonFiniteOutput));
    assert_eq!(model.anomaly_score(&[f32::INFINITY, 0.0], &mut scratch), Err(Error::NonFiniteOutput));
}

#[test]
fn call_errors() {
    let bytes = spec().build(Wt::F32);
    let model = Model::from_bytes(&bytes).unwrap();
    let need = model.scratch_len();
    let mut scratch = vec![0.0f32; need];
    let mut small = vec![0.0f32; need - 1];
    let dm = |argument, expected, found| Error::DimensionMismatch { argument, expected, found };
    let too_small = Error::ScratchTooSmall { needed: need, found: need - 1 };

    assert_eq!(model.energy(&[0.0; 3], 0, &mut scratch), Err(dm("x", 2, 3)));
    assert_eq!(model.energy(&[], 0, &mut scratch), Err(dm("x", 2, 0)));
    assert_eq!(model.energy(&[0.0; 2], 3, &mut scratch), Err(Error::StepOutOfRange { t: 3, steps: 3 }));
    assert_eq!(
        model.energy(&[0.0; 2], usize::MAX, &mut scratch),
        Err(Error::StepOutOfRange { t: usize::MAX, steps: 3 })
    );
    assert_eq!(model.energy(&[0.0; 2], 0, &mut small), Err(too_small));
    assert_eq!(model.energy(&[0.0; 2], 0, &mut []), Err(Error::ScratchTooSmall { needed: need, found: 0 }));
    assert_eq!(model.energy_normalised(&[0.0; 1], 0, &mut scratch), Err(dm("x", 2, 1)));
    assert_eq!(model.anomaly_score(&[0.0; 1], &mut scratch), Err(dm("x", 2, 1)));
    assert_eq!(model.anomaly_score(&[0.0; 2], &mut small), Err(too_small));

    let mut x0 = [0.0f32; 2];
    assert_eq!(model.generate(&[0.0; 1], &[0.0; 2], 0, &mut x0, &mut scratch), Err(dm("x_next", 2, 1)));
    assert_eq!(model.generate(&[0.0; 2], &[0.0; 3], 0, &mut x0, &mut scratch), Err(dm("z", 2, 3)));
    assert_eq!(model.generate(&[0.0; 2], &[0.0; 2], 0, &mut [0.0; 3], &mut scratch), Err(dm("x0_hat", 2, 3)));
    assert_eq!(
        model.generate(&[0.0; 2], &[0.0; 2], 3, &mut x0, &mut scratch),
        Err(Error::StepOutOfRange { t: 3, steps: 3 })
    );
    assert_eq!(model.generate(&[0.0; 2], &[0.0; 2], 0, &mut x0, &mut small), Err(too_small));

    let mut x = [0.0f32; 2];
    assert_eq!(model.denoise_step(&mut [0.0; 3], &[0.0; 2], &[0.0; 2], 0, &mut scratch), Err(dm("x", 2, 3)));
    assert_eq!(model.denoise_step(&mut x, &[0.0; 1], &[0.0; 2], 0, &mut scratch), Err(dm("z", 2, 1)));
    assert_eq!(model.denoise_step(&mut x, &[0.0; 2], &[], 0, &mut scratch), Err(dm("eps", 2, 0)));
    assert_eq!(
        model.denoise_step(&mut x, &[0.0; 2], &[0.0; 2], 7, &mut scratch),
        Err(Error::StepOutOfRange { t: 7, steps: 3 })
    );
    assert_eq!(model.denoise_step(&mut x, &[0.0; 2], &[0.0; 2], 0, &mut small), Err(too_small));

    let mut rng = Rng::new(1);
    let before = rng.clone();
    assert_eq!(model.sample(&mut rng, &mut [0.0; 1], &mut scratch), Err(dm("out", 2, 1)));
    assert_eq!(model.sample(&mut rng, &mut x, &mut small), Err(too_small));
    assert_eq!(rng, before, "a rejected call draws nothing");

    assert_eq!(model.coef1(3), Err(Error::StepOutOfRange { t: 3, steps: 3 }));
    assert_eq!(model.coef2(3), Err(Error::StepOutOfRange { t: 3, steps: 3 }));
    assert_eq!(model.posterior_std(4), Err(Error::StepOutOfRange { t: 4, steps: 3 }));
    assert_eq!(model.normalise(&[0.0; 3], &mut x), Err(dm("raw", 2, 3)));
    assert_eq!(model.denormalise(&[0.0; 2], &mut [0.0; 1]), Err(dm("out", 2, 1)));
}

#[test]
fn display_messages_say_what_to_do() {
    let name = layer(Net::Generator, 2, LayerParam::Bias);
    let errors = [
        Error::TooShort { len: 3 },
        Error::HeaderOutOfBounds { header_len: 9, available: 2 },
        Error::Json { offset: 5 },
        Error::UnsupportedJson { offset: 5 },
        Error::UnsupportedEscape { offset: 5 },
        Error::DuplicateKey { offset: 5 },
        Error::NotDdaebmModel,
        Error::UnsupportedVersion { found: 2 },
        Error::MissingMetadata("steps"),
        Error::BadMetadata("steps"),
        Error::MetadataOutOfRange("steps"),
        Error::TooManyLayers { net: Net::Energy, found: 9 },
        Error::MissingTensor(name),
        Error::UnexpectedTensor(name),
        Error::BadTensorEntry(name),
        Error::UnknownDtype(name),
        Error::WrongDtype(name),
        Error::InvalidOffsets(name),
        Error::TensorOutOfBounds(name),
        Error::TensorSizeMismatch(name),
        Error::ShapeMismatch(name),
        Error::NonFiniteParameter(TensorName::PosteriorStd),
        Error::InvalidParameter(TensorName::NormInvStd),
        Error::DimensionMismatch { argument: "x", expected: 2, found: 3 },
        Error::StepOutOfRange { t: 4, steps: 4 },
        Error::ScratchTooSmall { needed: 10, found: 2 },
        Error::NonFiniteOutput,
    ];
    for e in errors {
        let msg = e.to_string();
        assert!(msg.len() > 40, "{msg}");
    }
    assert!(Error::MissingTensor(name).to_string().contains("`generator.2.bias`"));
    assert!(Error::NonFiniteParameter(TensorName::PosteriorStd).to_string().contains("schedule.posterior_std"));
    assert!(Error::UnsupportedVersion { found: 2 }.to_string().contains("re-export"));
}

/// Builds a file from the test spec with `wt` weights after editing its
/// metadata / tensors.
fn edited_wt(
    wt: Wt,
    edit_meta: impl FnOnce(&mut Vec<(String, String)>),
    edit_tensors: impl FnOnce(&mut Vec<Tensor>),
) -> Vec<u8> {
    let s = spec();
    let mut meta = s.metadata(wt);
    let mut tensors = s.tensors(wt);
    edit_meta(&mut meta);
    edit_tensors(&mut tensors);
    assemble(&meta, &tensors, 8)
}

fn int8_with(f: impl FnOnce(&mut Vec<Tensor>)) -> Vec<u8> {
    edited_wt(Wt::Int8, |_| {}, f)
}

fn find<'t>(t: &'t mut [Tensor], name: &str) -> &'t mut Tensor {
    t.iter_mut().find(|t| t.name == name).expect(name)
}

#[test]
fn bf16_and_int8_files_load() {
    for wt in [Wt::Bf16, Wt::Int8] {
        assert_eq!(load(&spec().build(wt)), Ok(()), "{wt:?}");
    }
    // The metadata value must name a known precision.
    for bad in ["int4", "i8", "BF16", "bfloat16", ""] {
        let bytes = edited_wt(
            Wt::Int8,
            |m| {
                m.retain(|(k, _)| k != "weight_dtype");
                m.push(("weight_dtype".into(), bad.into()));
            },
            |_| {},
        );
        assert_eq!(load(&bytes), Err(Error::BadMetadata("weight_dtype")), "{bad}");
    }
}

#[test]
fn int8_scale_errors() {
    let s0 = layer(Net::Energy, 0, LayerParam::Scale);
    let g2 = layer(Net::Generator, 2, LayerParam::Scale);
    // An I8 weight without its scale.
    for (name, id) in [("energy.0.scale", s0), ("generator.2.scale", g2)] {
        assert_eq!(load(&int8_with(|t| t.retain(|t| t.name != name))), Err(Error::MissingTensor(id)), "{name}");
    }
    // Scale of the wrong shape: energy.0 has 5 outputs.
    for shape in [vec![6u64], vec![4], vec![1, 5], vec![5, 1], vec![]] {
        let n = shape.iter().product::<u64>() as usize;
        let bytes = int8_with(|t| {
            let s = find(t, "energy.0.scale");
            s.shape = shape.clone();
            s.data = f32_bytes(&vec![0.01; n]);
        });
        assert_eq!(load(&bytes), Err(Error::ShapeMismatch(s0)), "{shape:?}");
    }
    // Scale whose bytes do not match its shape.
    let bytes = int8_with(|t| find(t, "energy.0.scale").data.pop().map(|_| ()).unwrap());
    assert_eq!(load(&bytes), Err(Error::TensorSizeMismatch(s0)));
    // Non-finite scales.
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let bytes = int8_with(|t| {
            let s = find(t, "generator.2.scale");
            s.data[4..8].copy_from_slice(&bad.to_le_bytes());
        });
        assert_eq!(load(&bytes), Err(Error::NonFiniteParameter(g2)), "{bad}");
    }
    // A scale must be F32.
    for dtype in ["F16", "BF16"] {
        let bytes = int8_with(|t| {
            let s = find(t, "energy.0.scale");
            s.dtype = dtype.into();
            s.data.truncate(s.data.len() / 2);
        });
        assert_eq!(load(&bytes), Err(Error::WrongDtype(s0)), "{dtype}");
    }
    // A scale without an I8 weight, for every other weight dtype, and for
    // one layer of an otherwise int8 file whose weight is F32.
    for wt in [Wt::F32, Wt::F16, Wt::Bf16] {
        let bytes = edited_wt(
            wt,
            |_| {},
            |t| {
                t.push(Tensor {
                    name: "generator.2.scale".into(),
                    dtype: "F32".into(),
                    shape: vec![2],
                    data: f32_bytes(&[0.1, 0.2]),
                    offsets: None,
                })
            },
        );
        assert_eq!(load(&bytes), Err(Error::UnexpectedTensor(g2)), "{wt:?}");
    }
    let f32_w0 = spec().tensors(Wt::F32).into_iter().find(|t| t.name == "energy.0.weight").unwrap();
    let bytes = int8_with(|t| *find(t, "energy.0.weight") = f32_w0);
    assert_eq!(load(&bytes), Err(Error::UnexpectedTensor(s0)));
    // Scales beyond the declared layer count, inside and beyond MAX_LAYERS.
    for (name, id) in [
        ("energy.3.scale", layer(Net::Energy, 3, LayerParam::Scale)),
        ("generator.8.scale", layer(Net::Generator, 8, LayerParam::Scale)),
    ] {
        let bytes = int8_with(|t| {
            t.push(Tensor {
                name: name.into(),
                dtype: "F32".into(),
                shape: vec![1],
                data: f32_bytes(&[1.0]),
                offsets: None,
            })
        });
        assert_eq!(load(&bytes), Err(Error::UnexpectedTensor(id)), "{name}");
    }
    // Biases and slopes stay F32 in int8 / bf16 files.
    let bytes = int8_with(|t| {
        let b = find(t, "energy.1.bias");
        b.dtype = "I8".into();
        b.data = vec![0; 7];
    });
    assert_eq!(load(&bytes), Err(Error::WrongDtype(layer(Net::Energy, 1, LayerParam::Bias))));
    let bytes = edited_wt(
        Wt::Bf16,
        |_| {},
        |t| {
            let p = find(t, "energy.1.prelu");
            p.dtype = "BF16".into();
            p.data.truncate(2);
        },
    );
    assert_eq!(load(&bytes), Err(Error::WrongDtype(layer(Net::Energy, 1, LayerParam::Prelu))));
    // I8 weight bytes that do not match the shape.
    let bytes = int8_with(|t| {
        find(t, "energy.0.weight").data.push(0);
    });
    assert_eq!(load(&bytes), Err(Error::TensorSizeMismatch(layer(Net::Energy, 0, LayerParam::Weight))));
    // Duplicate scale key.
    let (json, data) = split(&spec().build(Wt::Int8));
    let entry_start = json.find("\"energy.0.scale\"").unwrap();
    let entry_end = entry_start + json[entry_start..].find('}').unwrap() + 1;
    let entry = json[entry_start..entry_end].to_string();
    let dup = format!("{},{}}}", &json[..json.len() - 1], entry);
    assert!(matches!(load(&raw(&dup, &data)), Err(Error::DuplicateKey { .. })));
}

#[test]
fn scale_name_and_messages() {
    let s = layer(Net::Generator, 1, LayerParam::Scale);
    assert_eq!(s.to_string(), "generator.1.scale");
    assert_eq!(LayerParam::Scale.as_str(), "scale");
    assert!(Error::UnexpectedTensor(s).to_string().contains("I8"));
    assert!(Error::UnknownDtype(s).to_string().contains("BF16"));
}

/// The test spec with a base measure (format version 2).
fn based() -> Spec {
    let mut s = spec();
    s.base = Some(BaseSpec::random(9, s.d, s.steps));
    s
}

fn based_edited(
    edit_meta: impl FnOnce(&mut Vec<(String, String)>),
    edit_tensors: impl FnOnce(&mut Vec<Tensor>),
) -> Vec<u8> {
    let s = based();
    let mut meta = s.metadata(Wt::F32);
    let mut tensors = s.tensors(Wt::F32);
    edit_meta(&mut meta);
    edit_tensors(&mut tensors);
    assemble(&meta, &tensors, 8)
}

#[test]
fn malformed_base_measure() {
    assert_eq!(load(&based().build(Wt::F32)), Ok(()));
    assert!(Model::from_bytes(&based().build(Wt::F32)).unwrap().has_energy_base());
    assert!(!Model::from_bytes(&spec().build(Wt::F32)).unwrap().has_energy_base());
    // All three tensors or none.
    for name in ["base.basis", "base.inv_var", "base.bound"] {
        let bytes = based_edited(|_| {}, |t| t.retain(|t| t.name != name));
        let want = match name {
            "base.basis" => TensorName::BaseBasis,
            "base.inv_var" => TensorName::BaseInvVar,
            _ => TensorName::BaseBound,
        };
        assert_eq!(load(&bytes), Err(Error::MissingTensor(want)), "without {name}");
    }
    // A version-1 file must not carry one (a version-1 runtime would ignore it).
    let v1 = based_edited(
        |m| m.iter_mut().filter(|(k, _)| k == "format_version").for_each(|(_, v)| *v = "1".into()),
        |_| {},
    );
    assert_eq!(load(&v1), Err(Error::UnexpectedTensor(TensorName::BaseBasis)));
    let edit = |name: &str, f: &dyn Fn(&mut Tensor)| {
        based_edited(|_| {}, |t| f(t.iter_mut().find(|t| t.name == name).expect(name)))
    };
    let bad_shape = edit("base.basis", &|t| t.shape = vec![t.shape[0] * t.shape[1], 1]);
    assert_eq!(load(&bad_shape), Err(Error::ShapeMismatch(TensorName::BaseBasis)));
    let bad_dtype = edit("base.inv_var", &|t| {
        t.dtype = "F16".into();
        t.data.truncate(t.data.len() / 2);
    });
    assert_eq!(load(&bad_dtype), Err(Error::WrongDtype(TensorName::BaseInvVar)));
    let nan_basis = edit("base.basis", &|t| t.data[0..4].copy_from_slice(&f32::NAN.to_le_bytes()));
    assert_eq!(load(&nan_basis), Err(Error::NonFiniteParameter(TensorName::BaseBasis)));
    let neg = edit("base.inv_var", &|t| t.data[4..8].copy_from_slice(&(-1.0f32).to_le_bytes()));
    assert_eq!(load(&neg), Err(Error::InvalidParameter(TensorName::BaseInvVar)));
    for bad in [f32::NAN, f32::INFINITY] {
        let b = edit("base.inv_var", &|t| t.data[4..8].copy_from_slice(&bad.to_le_bytes()));
        assert_eq!(load(&b), Err(Error::NonFiniteParameter(TensorName::BaseInvVar)), "inv_var {bad}");
    }
    for bad in [0.0f32, -2.0] {
        let b = edit("base.bound", &|t| t.data.copy_from_slice(&bad.to_le_bytes()));
        assert_eq!(load(&b), Err(Error::InvalidParameter(TensorName::BaseBound)), "bound {bad}");
    }
    let inf = edit("base.bound", &|t| t.data.copy_from_slice(&f32::INFINITY.to_le_bytes()));
    assert_eq!(load(&inf), Err(Error::NonFiniteParameter(TensorName::BaseBound)));
    // Versions past the runtime's are refused.
    let v3 = based_edited(
        |m| m.iter_mut().filter(|(k, _)| k == "format_version").for_each(|(_, v)| *v = "3".into()),
        |_| {},
    );
    assert_eq!(load(&v3), Err(Error::UnsupportedVersion { found: 3 }));
}

/// With a base measure the energy falls along every ray far from the data,
/// whatever the network does: its part is bounded by B.
#[test]
fn energy_with_base_falls_along_rays_far_out() {
    for seed in 0..20u64 {
        let mut s = random_spec(seed);
        s.base = Some(BaseSpec::orthonormal(seed + 100, s.d, s.steps));
        let file = s.build(Wt::F32);
        let model = Model::from_bytes(&file).unwrap();
        let mut scratch = scratch_for(&model);
        let mut rng = Rng::new(seed);
        for _ in 0..8 {
            let dir = [rng.normal(), rng.normal()];
            let mut last = f32::INFINITY;
            for r in [30.0f32, 60.0, 120.0, 240.0, 480.0, 960.0] {
                let x = [s.mean[0] + r * dir[0], s.mean[1] + r * dir[1]];
                let f = model.energy(&x, 0, &mut scratch).unwrap();
                assert!(f < last, "seed {seed}: f rose to {f} at radius {r} (from {last})");
                last = f;
            }
        }
    }
}
