//! What the `trainer` and `export` command lines share.

/// A command-line usage error: an unknown flag, a missing argument, a flag
/// value out of range. The binaries print it and exit with
/// [`UsageError::EXIT_CODE`] (1 is for everything else: unreadable files,
/// refused exports).
#[derive(Debug)]
pub struct UsageError(pub String);

impl UsageError {
    /// The exit code of a usage error.
    pub const EXIT_CODE: u8 = 2;
}

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Restores the default action of SIGPIPE, which the Rust runtime ignores:
/// printing into a closed pipe (`export inspect M | head -1`) then ends the
/// process quietly, as with other Unix tools, instead of a panic in
/// `println!` (exit 101). Binaries call it first thing in `main`.
pub fn restore_default_sigpipe() {
    #[cfg(unix)]
    {
        extern "C" {
            fn signal(signum: i32, handler: usize) -> usize;
        }
        // SIGPIPE is 13 and SIG_DFL is 0 on Linux, macOS and the BSDs.
        const SIGPIPE: i32 = 13;
        const SIG_DFL: usize = 0;
        // SAFETY: `signal` is async-signal-safe to call here (single-threaded
        // start of `main`), and SIG_DFL installs no Rust code as a handler.
        unsafe {
            signal(SIGPIPE, SIG_DFL);
        }
    }
}
