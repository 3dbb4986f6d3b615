//! Host side of the fuzz replay (`scripts/fuzz-replay.sh`): the model files
//! of a folder (default `runtime/fuzz/replay`), in file-name order, through
//! `../../common/replay.rs` — the same code the Cortex-M4F replay firmware
//! runs — printing the same `cmp` lines.

use std::path::PathBuf;
use std::process::ExitCode;

#[path = "../../../common/replay.rs"]
mod replay;

/// `std::fmt::Write` onto a `String`, printed at the end.
fn main() -> ExitCode {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "runtime/fuzz/replay".into()));
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(d) => d.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "safetensors")).collect(),
        Err(e) => {
            eprintln!("replay: cannot read {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    };
    files.sort();
    let mut scratch = Box::new([0.0f32; replay::SCRATCH]);
    let mut out = String::new();
    for (index, f) in files.iter().enumerate() {
        let bytes = match std::fs::read(f) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("replay: cannot read {}: {e}", f.display());
                return ExitCode::FAILURE;
            }
        };
        replay::replay(index, &bytes, &mut scratch, &mut out).expect("writing to a String");
    }
    out += &format!("replayed {} model files\n", files.len());
    print!("{out}");
    ExitCode::SUCCESS
}
