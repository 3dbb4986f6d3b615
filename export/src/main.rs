//! The `export` binary: the command line ([`cli`]) and scoring data files
//! through the runtime ([`score`]) over the `ddaebm_export` library. These
//! two modules are the binary's own: they report errors with `anyhow`, the
//! library does not.

use std::process::ExitCode;

mod cli;
mod score;

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
