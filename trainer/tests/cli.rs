//! `trainer` as a user meets it: Ctrl-C keeps the work, runs are not
//! clobbered, and bad flags get messages that say what is wrong.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use ddaebm_host::checkpoint::Checkpoint;

fn trainer(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trainer"));
    c.current_dir(dir).stdin(Stdio::null());
    c
}

/// Runs `trainer ARGS` in `dir`: (exit code, stdout, stderr).
fn run(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let Output { status, stdout, stderr } = trainer(dir).args(args).output().unwrap();
    let err = String::from_utf8_lossy(&stderr).into_owned();
    assert!(!err.contains("panicked"), "trainer {args:?} panicked: {err}");
    (status.code(), String::from_utf8_lossy(&stdout).into_owned(), err)
}

/// A small, fast model: the flags of every training run here.
const SMALL: [&str; 14] = [
    "--width",
    "16",
    "--depth",
    "1",
    "--batch-size",
    "32",
    "--eval-every",
    "0",
    "--threads",
    "1",
    "--device",
    "cpu",
    "--seed",
    "4",
];

fn fit(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["fit", "--quiet"];
    all.extend(SMALL);
    all.extend(args);
    run(dir, &all)
}

/// A CSV of `rows` rows of `cols` varying columns.
fn write_csv(path: &Path, rows: usize, cols: usize) {
    let names: Vec<String> = (0..cols).map(|c| format!("c{c}")).collect();
    let mut text = names.join(",") + "\n";
    for r in 0..rows {
        let cells: Vec<String> = (0..cols).map(|c| format!("{:.4}", ((r * (c + 2)) as f32 * 0.37).sin())).collect();
        text += &(cells.join(",") + "\n");
    }
    std::fs::write(path, text).unwrap();
}

/// Sends `signal` (INT, TERM) to `pid` with the `kill` command.
fn send(signal: &str, pid: u32) {
    let ok = Command::new("kill").args([&format!("-{signal}"), &pid.to_string()]).status().unwrap().success();
    assert!(ok, "kill -{signal} {pid} failed");
}

/// Starts `trainer fit` and sends `signal` once it is in its training loop;
/// returns its (exit code, stderr).
fn interrupt(dir: &Path, out: &str, iters: &str, signal: &str) -> (Option<i32>, String) {
    let mut args = vec!["fit", "--quiet", "--iters", iters, "--checkpoint-every", "0", "--out", out];
    args.extend(SMALL);
    let mut child = trainer(dir).args(&args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    // log.csv is created just before the first iteration.
    let log = dir.join(out).join("log.csv");
    let t0 = Instant::now();
    while !log.exists() {
        assert!(t0.elapsed() < Duration::from_secs(120), "the run never started");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be interrupted");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    send(signal, child.id());
    let res = child.wait_with_output().unwrap();
    (res.status.code(), String::from_utf8_lossy(&res.stderr).into_owned())
}

#[test]
fn sigint_saves_and_resume_equals_the_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, err) = interrupt(d, "stopped", "1000", "INT");
    assert_eq!(code, Some(130), "{err}");
    assert!(
        err.contains("interrupted at iteration") && err.contains("trainer fit --resume stopped --iters 1000"),
        "{err}"
    );
    // The only checkpoint is the one the interrupt wrote (--checkpoint-every 0).
    let ckpt = Checkpoint::load(&d.join("stopped/checkpoint.safetensors")).expect("a checkpoint after SIGINT");
    let at = ckpt.meta.iteration;
    assert!(at > 0 && at < 1000, "interrupted at iteration {at}");
    // log.csv is flushed: a row for every 50 iterations up to the checkpoint.
    let log = std::fs::read_to_string(d.join("stopped/log.csv")).unwrap();
    let logged: Vec<u64> = log.lines().skip(1).map(|l| l.split(',').next().unwrap().parse().unwrap()).collect();
    assert_eq!(logged, (1..=at / 50).map(|k| 50 * k).collect::<Vec<_>>(), "log.csv at iteration {at}:\n{log}");

    let (code, _, err) =
        run(d, &["fit", "--resume", "stopped", "--iters", "1000", "--quiet", "--threads", "1", "--device", "cpu"]);
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = fit(d, &["--iters", "1000", "--checkpoint-every", "0", "--out", "whole"]);
    assert_eq!(code, Some(0), "{err}");
    let read = |run: &str| std::fs::read(d.join(run).join("checkpoint.safetensors")).unwrap();
    assert!(
        read("stopped") == read("whole"),
        "the resumed run (interrupted at {at}) differs from the uninterrupted one"
    );
}

#[test]
fn sigterm_saves_too() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = interrupt(dir.path(), "run", "100000", "TERM");
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("--resume run --iters 100000"), "{err}");
    let ckpt = Checkpoint::load(&dir.path().join("run/checkpoint.safetensors")).expect("a checkpoint after SIGTERM");
    assert!(ckpt.meta.iteration > 0);
}

#[test]
fn a_run_folder_is_not_clobbered_and_overwrite_clears_the_old_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, out, err) = fit(d, &["--iters", "3", "--out", "run"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("data: 25gaussians"), "{err}");
    // 2-D data: all three pictures, and fit says so.
    assert!(out.contains("samples.png") && out.contains("density.png") && out.contains("curves.png"), "{out}");
    let first = std::fs::read(d.join("run/checkpoint.safetensors")).unwrap();

    let (code, _, err) = fit(d, &["--iters", "5", "--out", "run"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("run already holds a run") && err.contains("--resume run") && err.contains("--overwrite"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(d.join("run/checkpoint.safetensors")).unwrap(),
        first,
        "the refused run touched the old one"
    );

    // --overwrite removes the old run's files (model files and eval.json too), nothing else.
    std::fs::write(d.join("run/model-f32.safetensors"), b"old").unwrap();
    std::fs::write(d.join("run/eval.json"), b"{}").unwrap();
    std::fs::write(d.join("run/notes.txt"), b"mine").unwrap();
    let (code, _, err) = fit(d, &["--iters", "5", "--out", "run", "--overwrite"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("--overwrite: removed") && err.contains("model-f32.safetensors"), "{err}");
    assert!(!d.join("run/model-f32.safetensors").exists() && !d.join("run/eval.json").exists());
    assert!(d.join("run/notes.txt").exists());
    assert_eq!(Checkpoint::load(&d.join("run/checkpoint.safetensors")).unwrap().meta.iteration, 5);
    // --overwrite and --resume contradict each other.
    let (code, _, err) = fit(d, &["--iters", "9", "--resume", "run", "--overwrite"]);
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn data_runs_default_to_their_file_name_and_say_what_they_train_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_csv(&d.join("train.csv"), 40, 3);
    let (code, out, err) = fit(d, &["--data", "train.csv", "--holdout", "0.1", "--iters", "3", "--dataset", "moons"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(d.join("runs/train/checkpoint.safetensors").exists(), "{err}");
    assert!(err.contains("data: train.csv: 40 rows x 3 columns (holdout 4, training on 36 rows)"), "{err}");
    assert!(err.contains("warning: --dataset is ignored with --data"), "{err}");
    // 3-D data: only the training curves are drawn, and only they are announced.
    assert!(d.join("runs/train/curves.png").exists() && !d.join("runs/train/samples.png").exists());
    assert!(out.contains("curves.png") && !out.contains("samples.png") && !out.contains("density.png"), "{out}");
    // A built-in set defaults to runs/<dataset>; --window and --holdout need --data.
    let (code, _, err) = fit(d, &["--dataset", "moons", "--iters", "2", "--window", "4", "--holdout", "0.2"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(d.join("runs/moons/checkpoint.safetensors").exists(), "{err}");
    assert!(err.contains("warning: --window applies to --data files only"), "{err}");
    assert!(err.contains("warning: --holdout applies to --data files only"), "{err}");
}

#[test]
fn resume_mistakes_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, _, err) = fit(d, &["--iters", "2", "--out", "run"]);
    assert_eq!(code, Some(0), "{err}");
    // The checkpoint file instead of its folder.
    let (code, _, err) = run(d, &["fit", "--resume", "run/checkpoint.safetensors", "--iters", "4"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--resume takes the run folder, not a file: pass `--resume run`"), "{err}");
    // A folder without a checkpoint.
    std::fs::create_dir(d.join("empty")).unwrap();
    let (code, _, err) = run(d, &["fit", "--resume", "empty", "--iters", "4"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("holds no checkpoint.safetensors"), "{err}");
    // Flags a resumed run ignores are named; --stop-at past --iters is said.
    let (code, _, err) = run(
        d,
        &["fit", "--resume", "run", "--iters", "4", "--width", "64", "--lr", "1e-3", "--stop-at", "9", "--quiet"],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("warning: --lr, --width are ignored with --resume"), "{err}");
    assert!(err.contains("warning: --stop-at 9 is past --iters 4"), "{err}");
    // A checkpoint of a newer format version.
    let path = d.join("run/checkpoint.safetensors");
    let mut ckpt = Checkpoint::load(&path).unwrap();
    ckpt.meta.version = 99;
    ckpt.save(&path).unwrap();
    let (code, _, err) = run(d, &["fit", "--resume", "run", "--iters", "8"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("format version 99") && err.contains("newer trainer"), "{err}");
    assert!(!err.contains("no checkpoint"), "{err}");
}

#[test]
fn bad_flag_values_are_usage_errors_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_csv(&d.join("series.csv"), 300, 2);
    for (args, code, want) in [
        (&["fit", "--batch-size", "1"][..], 2, "BatchNorm"),
        (&["fit", "--holdout", "-0.2", "--data", "series.csv"], 2, "--holdout must be in [0, 1), got -0.2"),
        (&["fit", "--lr", "-1"], 2, "must be a positive number, got -1"),
        (&["fit", "--no-such-flag"], 2, "unexpected argument"),
        (
            &["fit", "--data", "series.csv", "--window", "295"],
            1,
            "has 300 rows, so --window 295 makes 300 − 295 + 1 = 6 windows",
        ),
    ] {
        let (got, _, err) = run(d, args);
        assert_eq!(got, Some(code), "trainer {args:?}: {err}");
        assert!(err.contains(want), "trainer {args:?}: no `{want}` in\n{err}");
    }
    assert!(!d.join("runs").exists(), "a refused run left a folder");
}

#[test]
fn a_closed_pipe_ends_trainer_quietly() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["data", "-n", "10", "--out", "x.csv"][..], &["--help"]] {
        let mut child = trainer(dir.path()).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        drop(child.stdout.take());
        let res = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&res.stderr);
        assert!(!err.contains("panicked") && res.status.code() != Some(101), "trainer {args:?}: {}: {err}", res.status);
    }
}
