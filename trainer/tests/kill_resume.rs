//! A real `trainer fit` killed with SIGKILL leaves its last complete
//! checkpoint readable, and `--resume` from it ends with the same checkpoint
//! bytes as a run that was never interrupted.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn trainer() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trainer"));
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

fn fit_args<'a>(out: &'a str, iters: &'a str) -> Vec<&'a str> {
    vec![
        "fit",
        "--iters",
        iters,
        "--checkpoint-every",
        "20",
        "--eval-every",
        "0",
        "--seed",
        "4",
        "--threads",
        "1",
        "--quiet",
        "--device",
        "cpu",
        "--out",
        out,
    ]
}

#[test]
fn sigkill_then_resume_equals_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full");
    let killed = dir.path().join("killed");
    let (full_s, killed_s) = (full.to_str().unwrap(), killed.to_str().unwrap());

    let status = trainer().args(fit_args(full_s, "120")).status().unwrap();
    assert!(status.success());

    // Kill a second run once it has written at least one periodic checkpoint.
    let ckpt = killed.join("checkpoint.safetensors");
    let mut child = trainer().args(fit_args(killed_s, "120")).spawn().unwrap();
    let t0 = Instant::now();
    while !ckpt.exists() {
        assert!(t0.elapsed() < Duration::from_secs(120), "no checkpoint appeared");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300)); // somewhere in the middle of later work
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();

    // Whatever moment it died, the checkpoint on disk is complete.
    let meta = ddaebm_host::checkpoint::Checkpoint::load(&ckpt).expect("checkpoint readable after SIGKILL");
    assert!(meta.meta.iteration % 20 == 0 && meta.meta.iteration >= 20);
    let leftovers: Vec<_> = std::fs::read_dir(&killed)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp."))
        .collect();
    // A temporary file may remain if the kill hit a write; it is never the checkpoint.
    eprintln!("killed at or after iteration {}; leftover temporaries: {leftovers:?}", meta.meta.iteration);

    let out = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(["fit", "--iters", "120", "--resume", killed_s, "--threads", "1", "--quiet", "--device", "cpu"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let read = |p: &Path| std::fs::read(p.join("checkpoint.safetensors")).unwrap();
    assert!(read(&full) == read(&killed), "resumed run differs from the uninterrupted one");
}

#[test]
fn bad_data_file_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bad.csv");
    std::fs::write(&csv, "a,b\n1,2\n3,x\n").unwrap();
    let out = trainer()
        .args(["fit", "--data", csv.to_str().unwrap(), "--out", dir.path().join("run").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.csv") && err.contains("line 3") && err.contains("not a number"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn diverging_run_stops_and_keeps_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // A learning rate of 1 survives one step and blows up on the second.
    let res = trainer()
        .args(["fit", "--lr", "1", "--iters", "50", "--checkpoint-every", "1", "--eval-every", "0", "--quiet"])
        .args(["--device", "cpu", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!res.status.success());
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("diverged") && err.contains("last good checkpoint"), "{err}");
    let ckpt = ddaebm_host::checkpoint::Checkpoint::load(&out.join("checkpoint.safetensors")).unwrap();
    assert!(ckpt.meta.iteration >= 1);
    assert!(ckpt.tensors.values().all(|t| t.data.iter().all(|v| v.is_finite())), "kept checkpoint is not finite");
}
