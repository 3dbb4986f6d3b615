//! Turns inputs of the `structured` fuzz target into the model files they
//! generate, to replay them elsewhere (the firmware harness:
//! `scripts/fuzz-replay.sh`). Keeps the files that load and a few that do
//! not, up to `MAX` files of at most `MAX_BYTES` each, one per distinct
//! (loads, dtype, base, calibration, score, contract, layer counts) shape
//! of model, in the corpus's file-name order.
//!
//! usage: corpus-to-models CORPUS_DIR OUT_DIR [MAX] [MAX_BYTES]

use std::collections::BTreeSet;
use std::path::PathBuf;

use arbitrary::Unstructured;
use ddaebm_runtime::Model;
use ddaebm_runtime_fuzz::gen;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: corpus-to-models CORPUS_DIR OUT_DIR [MAX (default 32)] [MAX_BYTES (default 16384)]");
        std::process::exit(2);
    }
    let (corpus, out) = (PathBuf::from(&args[1]), PathBuf::from(&args[2]));
    let max: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(32);
    let max_bytes: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(16384);
    let mut inputs: Vec<PathBuf> = match std::fs::read_dir(&corpus) {
        Ok(dir) => dir.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            eprintln!("corpus-to-models: cannot read {}: {e}", corpus.display());
            std::process::exit(1);
        }
    };
    inputs.sort();
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("corpus-to-models: cannot create {}: {e}", out.display());
        std::process::exit(1);
    }
    let mut seen = BTreeSet::new();
    let (mut kept, mut failing) = (0usize, 0usize);
    for input in inputs {
        let Ok(data) = std::fs::read(&input) else { continue };
        let Ok(file) = gen::model_file(&mut Unstructured::new(&data)) else { continue };
        if file.len() > max_bytes {
            continue;
        }
        let key = match Model::from_bytes(&file) {
            Ok(m) => format!(
                "ok {:?} base={} cal={} {:?} window={:?} D={} nz={} T={} w={}",
                m.weight_dtype(),
                m.has_energy_base(),
                m.is_calibrated(),
                m.score_kind(),
                m.window().is_some(),
                m.data_dim().min(3),
                m.nz().min(1),
                m.steps().min(2),
                m.max_width() > 8
            ),
            // A few files that fail to load, one per error kind.
            Err(e) => format!("err {}", format!("{e:?}").split([' ', '(', '{']).next().unwrap_or("")),
        };
        if key.starts_with("err") && failing >= max / 4 {
            continue;
        }
        if kept >= max || !seen.insert(key) {
            continue;
        }
        failing += usize::from(Model::from_bytes(&file).is_err());
        let name = format!("{kept:03}-{:08x}.safetensors", ddaebm_runtime::crc32(&file));
        if let Err(e) = std::fs::write(out.join(&name), &file) {
            eprintln!("corpus-to-models: cannot write {name}: {e}");
            std::process::exit(1);
        }
        kept += 1;
    }
    println!("corpus-to-models: wrote {kept} model files ({failing} that do not load) to {}", out.display());
}
