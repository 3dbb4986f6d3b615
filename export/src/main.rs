//! The `export` binary: see [`ddaebm_export::cli`].

use std::process::ExitCode;

use ddaebm_export::cli;

fn main() -> ExitCode {
    cli::restore_default_sigpipe();
    match cli::run_args(std::env::args_os()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(cli::exit_code(&e))
        }
    }
}
