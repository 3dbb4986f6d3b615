//! End-to-end tests live in `tests/`; this library holds what they share:
//! running the workspace's binaries (`trainer`, `export`) as a user would.

use std::path::PathBuf;
use std::process::Command;

/// The path of a workspace binary (`trainer`, `export`). Cargo builds them
/// into the profile folder above the test executables' `deps/` when it
/// builds the workspace's tests (`cargo test --workspace`, which
/// scripts/test.sh runs); run alone (`cargo test -p ddaebm-e2e`), the
/// binaries must be built first.
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile = exe.parent().and_then(|deps| deps.parent()).expect("the test executable is in target/PROFILE/deps");
    let bin = profile.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing; build it first (`cargo build --release -p ddaebm-{name}`), or run the tests with `cargo test --release --workspace`",
        bin.display()
    );
    bin
}

/// Runs the `export` binary with `args` (standard output and error go to
/// the test's): `Err` with its error message (what follows `error: `, as
/// `{:#}` of the error it returns) when it fails.
pub fn export(args: &[&str]) -> Result<(), String> {
    let out = Command::new(workspace_bin("export")).args(args).output().expect("run export");
    print!("{}", String::from_utf8_lossy(&out.stdout));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    eprint!("{err}");
    assert!(!err.contains("panicked"), "export {args:?} panicked: {err}");
    if out.status.success() {
        return Ok(());
    }
    let message = match err.rfind("\nerror: ") {
        Some(i) => &err[i + "\nerror: ".len()..],
        None => err.strip_prefix("error: ").unwrap_or(&err),
    };
    Err(message.trim_end().to_string())
}
