//! The C API from C: compiles `tests/c/test.c` with the system C compiler
//! (`$CC`, default `cc`) against the host staticlib `libddaebm_runtime_c.a`
//! and the committed header, runs it on model files written here, and
//! checks that
//!
//! * it exits with 0: every function behaves as documented and every status
//!   code was returned at least once (test.c counts them);
//! * every value it prints on a `cmp` line (scores, energies, verdicts, tail
//!   probabilities, samples, window scores, field thresholds) has the bits
//!   the Rust runtime computes for the same call here.

#[path = "../../runtime/tests/common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use ddaebm_runtime::{Error, FieldCalibration, Model, Rng};

/// The test model: D = 4 (windows of 2 samples x 2 channels), nz = 2,
/// T = 3, hidden widths 8; with a calibration and an input contract unless
/// `plain`.
fn model_file(plain: bool) -> Vec<u8> {
    let spec = random_spec_dims(11, 4, 2, 3, &[8, 8]);
    let mut meta = spec.metadata(Wt::F32);
    let mut tensors = spec.tensors(Wt::F32);
    if !plain {
        for (k, v) in [("window", "2"), ("window_stride", "1"), ("channels", "2"), ("columns", "a,b")] {
            meta.push((k.into(), v.into()));
        }
        // Quantiles of the scores of a few readings; threshold: the 0.8 one.
        let bare = assemble(&spec.metadata(Wt::F32), &spec.tensors(Wt::F32), 8);
        let m = Model::from_bytes(&bare).unwrap();
        let mut scratch = vec![0f32; m.scratch_len()];
        let mut scores: Vec<f32> = (0..20)
            .map(|k| {
                let x: Vec<f32> = (0..4).map(|j| ((k * 7 + j * 3) % 11) as f32 * 0.4 - 2.0).collect();
                m.anomaly_score(&x, &mut scratch).unwrap()
            })
            .collect();
        scores.sort_by(f32::total_cmp);
        let q: Vec<f32> = [0, 5, 10, 15, 19].iter().map(|&i| scores[i]).collect();
        tensors.push(f32_tensor("calibration.quantiles", &[q.len()], &q));
        tensors.push(f32_tensor("calibration.threshold", &[1], &[scores[16]]));
    }
    assemble(&meta, &tensors, 8)
}

/// A model whose window (D = 260) is larger than `DDAEBM_WINDOW_CAPACITY`.
fn wide_file() -> Vec<u8> {
    random_spec_dims(3, 260, 0, 2, &[4]).build(Wt::F32)
}

type MetaEdit<'a> = &'a dyn Fn(&mut Vec<(String, String)>);
type TensorEdit<'a> = &'a dyn Fn(&mut Vec<Tensor>);

/// One file per load error: (expected status name, file).
fn load_cases() -> Vec<(&'static str, Vec<u8>)> {
    let spec = random_spec(42);
    let edited = |edit_meta: MetaEdit, edit_tensors: TensorEdit| {
        let mut meta = spec.metadata(Wt::F32);
        let mut tensors = spec.tensors(Wt::F32);
        edit_meta(&mut meta);
        edit_tensors(&mut tensors);
        assemble(&meta, &tensors, 8)
    };
    let meta = |key: &'static str, value: Option<&'static str>| {
        edited(
            &|m| {
                m.retain(|(k, _)| k != key);
                if let Some(v) = value {
                    m.push((key.into(), v.into()));
                }
            },
            &|_| {},
        )
    };
    let tensor = |name: &'static str, f: &dyn Fn(&mut Tensor)| {
        edited(&|_| {}, &|t| f(t.iter_mut().find(|t| t.name == name).unwrap()))
    };
    let good = spec.build(Wt::F32);
    let n = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let json = std::str::from_utf8(&good[8..8 + n]).unwrap().trim_end().to_string();
    let data = good[8 + n..].to_vec();
    let mut out_of_bounds = good.clone();
    out_of_bounds[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    vec![
        ("DDAEBM_ERR_TOO_SHORT", vec![1, 2, 3]),
        ("DDAEBM_ERR_HEADER_OUT_OF_BOUNDS", out_of_bounds),
        ("DDAEBM_ERR_JSON", raw("{\"__metadata__", &[])),
        ("DDAEBM_ERR_UNSUPPORTED_JSON", raw("{\"__metadata__\":{\"a\":{\"b\":{}}}}", &[])),
        ("DDAEBM_ERR_UNSUPPORTED_ESCAPE", raw(&json.replacen("norm.mean", "norm\\u002emean", 1), &data)),
        ("DDAEBM_ERR_DUPLICATE_KEY", edited(&|m| m.push(("steps".into(), "3".into())), &|_| {})),
        ("DDAEBM_ERR_NOT_DDAEBM_MODEL", meta("format", Some("onnx"))),
        ("DDAEBM_ERR_UNSUPPORTED_VERSION", meta("format_version", Some("99"))),
        ("DDAEBM_ERR_CHECKSUM_MISMATCH", meta("crc32", Some("1"))),
        ("DDAEBM_ERR_MISSING_METADATA", meta("nz", None)),
        ("DDAEBM_ERR_BAD_METADATA", meta("nz", Some("two"))),
        ("DDAEBM_ERR_METADATA_OUT_OF_RANGE", meta("steps", Some("65"))),
        ("DDAEBM_ERR_TOO_MANY_LAYERS", meta("energy_layers", Some("9"))),
        ("DDAEBM_ERR_MISSING_TENSOR", edited(&|_| {}, &|t| t.retain(|t| t.name != "norm.std"))),
        ("DDAEBM_ERR_UNEXPECTED_TENSOR", meta("energy_layers", Some("2"))),
        (
            "DDAEBM_ERR_BAD_TENSOR_ENTRY",
            raw(&json.replacen("\"norm.mean\": {\"dtype\": \"F32\", ", "\"norm.mean\": {\"x\": \"y\", ", 1), &data),
        ),
        ("DDAEBM_ERR_UNKNOWN_DTYPE", tensor("energy.0.weight", &|t| t.dtype = "F64".into())),
        (
            "DDAEBM_ERR_WRONG_DTYPE",
            tensor("schedule.coef2", &|t| {
                t.dtype = "F16".into();
                t.shape = vec![6];
            }),
        ),
        ("DDAEBM_ERR_INVALID_OFFSETS", tensor("norm.std", &|t| t.offsets = Some(vec![8, 0]))),
        ("DDAEBM_ERR_TENSOR_OUT_OF_BOUNDS", tensor("norm.std", &|t| t.offsets = Some(vec![1 << 20, (1 << 20) + 8]))),
        ("DDAEBM_ERR_TENSOR_SIZE_MISMATCH", tensor("norm.std", &|t| t.shape = vec![3])),
        ("DDAEBM_ERR_SHAPE_MISMATCH", meta("steps", Some("4"))),
        ("DDAEBM_ERR_NON_FINITE_PARAMETER", tensor("norm.mean", &|t| t.data = f32_bytes(&[f32::NAN, 0.0]))),
        ("DDAEBM_ERR_INVALID_PARAMETER", tensor("norm.inv_std", &|t| t.data = f32_bytes(&[0.0, 1.0]))),
    ]
}

/// The status the C API returns for a runtime error (its name).
fn status_name(e: Error) -> String {
    let s = ddaebm_runtime_c::ddaebm_status_t::from(e);
    // SAFETY: a static NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(ddaebm_runtime_c::ddaebm_status_name(s as i32)) }.to_str().unwrap().to_string()
}

/// The `cmp` lines test.c must print, computed with the Rust runtime.
fn expected_cmp_lines(model: &[u8], plain: &[u8]) -> String {
    let m = Model::from_bytes(model).unwrap();
    let p = Model::from_bytes(plain).unwrap();
    let mut scratch = vec![0f32; m.scratch_len()];
    let mut out = String::new();
    let bits = |v: f32| format!("{:08x}", v.to_bits());
    // Keep in step with test.c.
    let x = [0.5f32, -1.25, 2.0, 0.75];
    writeln!(out, "cmp score {}", bits(m.anomaly_score(&x, &mut scratch).unwrap())).unwrap();
    writeln!(out, "cmp energy1 {}", bits(m.energy(&x, 1, &mut scratch).unwrap())).unwrap();
    let v = m.verdict(&x, &mut scratch).unwrap();
    writeln!(out, "cmp verdict {} {} {}", bits(v.score), bits(v.tail_probability), v.is_anomaly as u8).unwrap();
    writeln!(out, "cmp tail {}", bits(m.tail_probability(0.25).unwrap())).unwrap();
    let mut rng = Rng::new(7);
    for k in 0..2 {
        let mut s = [0f32; 4];
        m.sample(&mut rng, &mut s, &mut scratch).unwrap();
        writeln!(out, "cmp sample {k} {} {} {} {}", bits(s[0]), bits(s[1]), bits(s[2]), bits(s[3])).unwrap();
    }
    // The stream test.c pushes (exact in float): sample i =
    // ((37 i mod 17) / 4 - 2, (i² mod 13) / 8 - 0.5).
    let samples: Vec<[f32; 2]> =
        (0..12).map(|i| [((i * 37) % 17) as f32 * 0.25 - 2.0, ((i * i) % 13) as f32 * 0.125 - 0.5]).collect();
    // Windows of 2 samples, stride 1: window k = rows k, k + 1 flattened (as
    // `export score --window 2` cuts them), scored with the plain model call.
    for k in 0..samples.len() - 1 {
        let w = [samples[k][0], samples[k][1], samples[k + 1][0], samples[k + 1][1]];
        writeln!(out, "cmp window {} {}", k + 1, bits(m.anomaly_score(&w, &mut scratch).unwrap())).unwrap();
    }
    // Stride 3 with the plain model: windows start at samples 0, 3, 6, 9.
    for k in (0..samples.len() - 1).step_by(3) {
        let w = [samples[k][0], samples[k][1], samples[k + 1][0], samples[k + 1][1]];
        writeln!(out, "cmp stride3 {} {}", k + 1, bits(p.anomaly_score(&w, &mut scratch).unwrap())).unwrap();
    }
    let mut field = FieldCalibration::new(0.9, 10).unwrap();
    for i in 0..10 {
        field.observe(i as f32 * 0.5).unwrap();
    }
    writeln!(out, "cmp field {}", bits(field.threshold(&m).unwrap())).unwrap();
    out
}

/// The host staticlib cargo built for this test: the newest
/// `deps/libddaebm_runtime_c-HASH.a` of this profile. (`cargo test` builds
/// the library with both crate types but does not refresh the unhashed copy
/// in the profile folder, which may come from an older `cargo build`; any
/// newer hashed copy was built from the same or newer sources.)
fn staticlib() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let mut found: Vec<PathBuf> = std::fs::read_dir(deps)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with("libddaebm_runtime_c-") && (n.ends_with(".a") || n.ends_with(".lib"))
        })
        .collect();
    found.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    found
        .pop()
        .unwrap_or_else(|| panic!("no libddaebm_runtime_c-*.a in {}; cargo builds it with the tests", deps.display()))
}

/// Libraries a Rust std staticlib needs on this OS (`--print native-static-libs`).
fn system_libs() -> &'static [&'static str] {
    if cfg!(target_os = "macos") {
        &["-lSystem", "-lc", "-lm"]
    } else {
        &["-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl", "-lc"]
    }
}

#[test]
fn c_api_from_c() {
    // One folder per run (debug and release runs share CARGO_TARGET_TMPDIR).
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("c_api-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (model, plain) = (model_file(false), model_file(true));
    std::fs::write(dir.join("model.bin"), &model).unwrap();
    std::fs::write(dir.join("plain.bin"), &plain).unwrap();
    std::fs::write(dir.join("wide.bin"), wide_file()).unwrap();
    let mut cases = String::new();
    for (i, (name, bytes)) in load_cases().into_iter().enumerate() {
        // Each fixture fails in the Rust runtime with the error it stands for.
        let err = Model::from_bytes(&bytes).err().unwrap_or_else(|| panic!("{name}: the fixture loads"));
        assert_eq!(status_name(err), name, "fixture {name}: {err:?}");
        let file = format!("load{i:02}.bin");
        std::fs::write(dir.join(&file), &bytes).unwrap();
        writeln!(cases, "{name} {file}").unwrap();
    }
    std::fs::write(dir.join("load_cases.txt"), cases).unwrap();

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exe = dir.join("c_api_test");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let compiled = Command::new(&cc)
        .args(["-std=c11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Wno-overlength-strings"])
        .arg("-I")
        .arg(root.join("include"))
        .arg(root.join("tests/c/test.c"))
        .arg(staticlib())
        .args(system_libs())
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}` (set CC): {e}"));
    assert!(
        compiled.status.success(),
        "compiling tests/c/test.c failed:\n{}{}",
        String::from_utf8_lossy(&compiled.stdout),
        String::from_utf8_lossy(&compiled.stderr)
    );

    let run = Command::new(&exe).arg(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "the C test failed ({}): see its output above", run.status);
    // Compared as sorted lists (test.c interleaves the two window streams).
    let mut got: Vec<&str> = stdout.lines().filter(|l| l.starts_with("cmp ")).collect();
    let want_text = expected_cmp_lines(&model, &plain);
    let mut want: Vec<&str> = want_text.lines().collect();
    got.sort_unstable();
    want.sort_unstable();
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w, "C and Rust differ");
    }
    assert_eq!(got.len(), want.len(), "C printed {} cmp lines, Rust computed {}", got.len(), want.len());
    let _ = std::fs::remove_dir_all(&dir);
}
