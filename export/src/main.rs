//! The `export` binary: see [`ddaebm_export::cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    match ddaebm_export::cli::run_args(std::env::args_os()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
