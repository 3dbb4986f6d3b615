#!/usr/bin/env python3
"""Scores the small-data tasks with the classical detectors and writes the
"Small data" section (markdown) from them and our model's summaries.

    python bench/small-data/report.py --out runs/small-data --baselines      # per task: TASK/baselines.json
    python bench/small-data/report.py --out runs/small-data --doc SECTION.md --command "..."

The classical detectors are those of the anomaly benchmark
(bench/anomaly/baselines.py: standardised with train.csv's statistics, fit
on train.csv only, scikit-learn's standard settings). Our model's numbers
come from TASK/summary.json (`export score --json`) and TASK/fit.log.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "anomaly"))
from baselines import METHODS, fit_score  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

NAMES = {
    "ours": "DDAEBM, energy score (f32)",
    "iforest": "Isolation Forest",
    "lof": "LOF",
    "ocsvm": "one-class SVM",
    "gmm": "Gaussian mixture (BIC)",
    "distance": "distance from the mean",
    "mahalanobis": "Mahalanobis (Ledoit-Wolf)",
}


def load(path):
    return np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)


def baselines(out, manifest):
    for t in manifest["tasks"]:
        d = os.path.join(out, t["dir"])
        dest = os.path.join(d, "baselines.json")
        if os.path.exists(dest):
            continue
        train, test = load(os.path.join(d, "train.csv")), load(os.path.join(d, "test.csv"))
        x, y = test[:, :-1], test[:, -1].astype(int)
        sc = StandardScaler().fit(train)
        res = {}
        for m in METHODS:
            t0 = time.perf_counter()
            s, _ = fit_score(m, sc.transform(train), sc.transform(x), t["seed"])
            res[m] = {"auroc": float(roc_auc_score(y, s)), "s": round(time.perf_counter() - t0, 4)}
        with open(dest, "w") as f:
            json.dump(res, f)


def section(out, manifest, command):
    sizes = sorted({t["train_rows"] for t in manifest["tasks"]})
    seeds = sorted({t["seed"] for t in manifest["tasks"]})
    digits = sorted({t["digit"] for t in manifest["tasks"]})
    dim = manifest["dim"]
    methods = ["ours"] + METHODS
    # auroc[n][method][seed] = mean over digits
    auroc = {n: {m: {s: [] for s in seeds} for m in methods} for n in sizes}
    det = {n: {"detection_rate": [], "false_alarm_rate": []} for n in sizes}
    paired = {n: [] for n in sizes}  # ours - Mahalanobis, per task
    fit_s = {n: [] for n in sizes}
    warned = {n: 0 for n in sizes}
    count = {n: 0 for n in sizes}
    for t in manifest["tasks"]:
        d = os.path.join(out, t["dir"])
        n, s = t["train_rows"], t["seed"]
        with open(os.path.join(d, "summary.json")) as f:
            ours = json.load(f)
        with open(os.path.join(d, "baselines.json")) as f:
            base = json.load(f)
        auroc[n]["ours"][s].append(ours["auroc"])
        for m in METHODS:
            auroc[n][m][s].append(base[m]["auroc"])
        paired[n].append(ours["auroc"] - base["mahalanobis"]["auroc"])
        for k in det[n]:
            det[n][k].append(ours[k])
        with open(os.path.join(d, "fit.log")) as f:
            log = f.read()
        warned[n] += "warning: small data" in log
        count[n] += 1
        with open(os.path.join(d, "fit-time.json")) as f:
            fit_s[n].append(json.load(f)["fit_s"])

    def cell(v):
        per_seed = [np.mean(v[s]) for s in seeds]
        return f"{np.mean(per_seed):.3f} ± {np.std(per_seed):.3f}"

    lines = []
    w = lines.append
    w("## Small data")
    w("")
    w(
        f"Fewer training rows than columns: handwritten digits (8×8 = {dim} pixel columns, the file inside "
        f"scikit-learn), one digit as the normal class, trained on its first n rows (shuffled per seed) for "
        f"n = {', '.join(map(str, sizes))}; the other nine digits are the anomalies. Calibration uses "
        f"{manifest['calib_rows']} more rows of the normal digit, and the test set is every digit's remaining rows "
        f"(the same for every n; pixels dequantised with U(0, 1) noise, as in the digits task above). "
        f"{len(digits)} normal digits × {len(seeds)} seeds (= {len(digits) * len(seeds)} tasks) per n; "
        f"a cell is the mean over seeds of the AUROC averaged over the digits, ± its standard deviation over "
        f"the seeds."
    )
    w("")
    w(
        "Our model: `trainer fit --data train.csv --width 64 --depth 2 --iters 1000` (every other setting the "
        "trainer's default), `export CKPT --f32 --score energy --calibrate calib.csv`, "
        "`export score MODEL test.csv --label-column label`. The classical detectors are those of the benchmark "
        "above (bench/anomaly/baselines.py), on the same rows."
    )
    w("")
    w("| method | " + " | ".join(f"n = {n} ({n / dim:.2g} rows per column)" for n in sizes) + " |")
    w("|---|" + "---:|" * len(sizes))
    for m in methods:
        name = f"**{NAMES[m]}**" if m == "ours" else NAMES[m]
        w(f"| {name} | " + " | ".join(cell(auroc[n][m]) for n in sizes) + " |")
    w("")
    w(
        "Paired per task, our AUROC minus the Mahalanobis distance's: "
        + "; ".join(
            f"n = {n}: {np.mean(paired[n]):+.4f} on average, at most {np.max(np.abs(paired[n])):.4f} apart, ours "
            f"higher in {int(np.sum(np.array(paired[n]) > 0))} of {len(paired[n])} tasks"
            for n in sizes
        )
        + "."
    )
    w("")
    w(
        "Our model at its calibrated threshold (the 0.99 quantile of the calibration rows' scores), mean over "
        "all tasks: "
        + "; ".join(
            f"n = {n}: detection rate {np.mean(det[n]['detection_rate']):.3f}, false-alarm rate "
            f"{np.mean(det[n]['false_alarm_rate']):.3f}"
            for n in sizes
        )
        + ". Training took "
        + ", ".join(f"{np.mean(fit_s[n]):.1f} s (n = {n})" for n in sizes)
        + " per task (wall time on the shared 2-core machine). `trainer fit` printed its small-data warning in "
        + ", ".join(f"{warned[n]} of {count[n]} runs at n = {n}" for n in sizes)
        + f" (it warns below 2 × {dim} = {2 * dim} training rows)."
    )
    w("")
    w(f"Regenerate with `{command}`.")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/small-data")
    ap.add_argument("--baselines", action="store_true", help="score every task with the classical detectors")
    ap.add_argument("--doc", help="write the markdown section here")
    ap.add_argument("--command", default="./bench/small-data/run.sh")
    a = ap.parse_args()
    with open(os.path.join(a.out, "manifest.json")) as f:
        manifest = json.load(f)
    if a.baselines:
        baselines(a.out, manifest)
    if a.doc:
        text = section(a.out, manifest, a.command)
        with open(a.doc, "w") as f:
            f.write(text)
        print(text)


if __name__ == "__main__":
    main()
