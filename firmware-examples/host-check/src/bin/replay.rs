//! Host side of the fuzz replay (`scripts/fuzz-replay.sh`): the model files
//! of a folder (default `runtime/fuzz/replay`), laid out as the same blob the
//! replay firmwares embed (`../../common/replay_files.rs`) and walked by the
//! same `../../common/replay.rs`, printing the same `cmp` lines.

use std::path::PathBuf;
use std::process::ExitCode;

#[path = "../../../common/replay.rs"]
mod replay;
#[path = "../../../common/replay_files.rs"]
mod replay_files;

fn main() -> ExitCode {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "runtime/fuzz/replay".into()));
    let blob = match replay_files::replay_files(&dir).and_then(|files| replay_files::blob(&files)) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("replay: cannot read the model files of {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    };
    let mut scratch = Box::new([0.0f32; replay::SCRATCH]);
    let mut out = String::new();
    let ok = replay::replay_blob(&blob, &mut scratch, &mut out).is_ok();
    print!("{out}");
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
