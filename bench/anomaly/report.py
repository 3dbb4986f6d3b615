#!/usr/bin/env python3
"""Aggregates the anomaly benchmark into a markdown page and a PNG.

    python bench/anomaly/report.py --out runs/anomaly-bench --doc docs/anomaly-benchmark.md \
        --png docs/img/anomaly-roc.png --command ./scripts/anomaly-benchmark.sh [--mcu firmware-report.md]

Reads what scripts/anomaly-benchmark.sh left in OUT: manifest.json
(prepare.py), TASK/baselines/{scores.csv,summary.json} (baselines.py),
TASK/scores-V.csv, TASK/summary-V.json and TASK/model-V.safetensors for
each variant V of our model (`export`, `export score`: f32, fp16, int8 with
the default reconstruction score, f32-energy with the energy score),
TASK/run/fit-time.json and TASK/run/samples.csv. Every AUROC and AP is
recomputed here from the per-row scores with scikit-learn and checked
against the numbers `export score` printed. Nothing in the page is typed
in by hand: each number comes from those files.
"""

import argparse
import datetime
import json
import os
import platform
import struct

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

BASELINES = [
    ("iforest", "Isolation Forest"),
    ("lof", "LOF (novelty)"),
    ("ocsvm", "one-class SVM"),
    ("gmm", "Gaussian mixture"),
]
OURS = {
    "f32": "DDAEBM f32",
    "fp16": "DDAEBM fp16",
    "int8": "DDAEBM int8",
    "f32-energy": "DDAEBM f32, energy −f(x, 0)",
}
PRECISION_VARIANTS = ["f32", "fp16", "int8"]  # the default score in each precision
ORDER = ["breast_cancer", "ucr_internal_bleeding", "digits"]
SHORT = {
    "breast_cancer": "breast cancer (WDBC)",
    "ucr_internal_bleeding": "UCR #135 InternalBleeding16 (windows)",
    "digits": "digits 8x8 (one vs rest)",
}


def label(bench, dataset):
    if dataset == "digits":
        n = len({t["normal_digit"] for t in bench.tasks_of("digits")})
        return f"digits 8x8 (one vs rest, {n} normal digit{'s' if n > 1 else ''})"
    return SHORT[dataset]


def read_scores(path, column):
    with open(path) as f:
        header = f.readline().strip().split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return data[:, header.index(column)], data[:, header.index("label")].astype(int)


def safetensors_facts(path):
    """From the model file's header: file bytes, weight dtype, the anomaly
    score it declares, its draws, and the MACs of one anomaly_score call
    (energy: the energy layers once; reconstruction: the generator layers
    once per draw)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
    meta = h.get("__metadata__", {})

    def macs(net):
        return sum(
            v["shape"][0] * v["shape"][1]
            for k, v in h.items()
            if k.startswith(net + ".") and k.endswith(".weight") and len(v.get("shape", [])) == 2
        )

    kind = meta.get("anomaly_score", "energy")
    draws = int(meta.get("reconstruction_draws", 1)) if kind == "reconstruction" else 1
    per_reading = macs("energy") if kind == "energy" else draws * macs("generator")
    return dict(bytes=os.path.getsize(path), dtype=meta.get("weight_dtype", "?"), score=kind, draws=draws,
                macs=per_reading)


def score_name(facts):
    if facts["score"] == "reconstruction":
        return f"reconstruction error, {facts['draws']} draw{'s' if facts['draws'] > 1 else ''}"
    return "energy −f(x, 0)"


def parse_mcu(path):
    """{model path: instructions of one anomaly_score call} from scripts/firmware-report.sh's table."""
    out = {}
    if not path or not os.path.exists(path):
        return out
    with open(path) as f:
        lines = [l.strip() for l in f if l.startswith("|")]
    if not lines:
        return out
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    for l in lines[2:]:
        cells = [c.strip() for c in l.strip("|").split("|")]
        row = dict(zip(head, cells))
        # "instr/energy" counts one anomaly_score call, whatever score the file declares.
        out[row["model"].strip("`")] = {"instr": int(row["instr/energy"])}
    return out


def pm(values, digits=3):
    v = np.asarray(values, dtype=float)
    if len(v) == 1:
        return f"{v[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}"


def spearman(a, b):
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


class Bench:
    def __init__(self, out, variants):
        self.out = out
        self.variants = variants
        with open(os.path.join(out, "manifest.json")) as f:
            self.manifest = json.load(f)
        self.methods = [m for m, _ in BASELINES] + variants
        self.rows = []  # one per task and method
        self.max_json_diff = 0.0
        for t in self.manifest["tasks"]:
            d = os.path.join(out, t["dir"])
            for m, _ in BASELINES:
                s, y = read_scores(os.path.join(d, "baselines", "scores.csv"), m)
                self.add(t, m, s, y)
            for p in variants:
                s, y = read_scores(os.path.join(d, f"scores-{p}.csv"), "score")
                r = self.add(t, p, s, y)
                with open(os.path.join(d, f"summary-{p}.json")) as f:
                    js = json.load(f)
                diff = max(abs(js["auroc"] - r["auroc"]), abs(js["average_precision"] - r["ap"]))
                self.max_json_diff = max(self.max_json_diff, diff)
                if diff > 1e-6:
                    raise SystemExit(f"report.py: {d} {p}: export score says {js}, scikit-learn {r}")
                r["summary"] = js

    def add(self, task, method, s, y):
        r = dict(
            task=task,
            dataset=task["dataset"],
            group=task["group"],
            seed=task["seed"],
            method=method,
            auroc=float(roc_auc_score(y, s)),
            ap=float(average_precision_score(y, s)),
            scores=s,
            labels=y,
        )
        self.rows.append(r)
        return r

    def datasets(self):
        present = {t["dataset"] for t in self.manifest["tasks"]}
        return [d for d in ORDER if d in present]

    def per_seed(self, dataset, method, key):
        """One value per seed; digits: the mean over the normal digits of that seed."""
        by_seed = {}
        for r in self.rows:
            if r["dataset"] == dataset and r["method"] == method:
                by_seed.setdefault(r["seed"], []).append(r[key])
        return [float(np.mean(v)) for _, v in sorted(by_seed.items())]

    def tasks_of(self, dataset):
        return [t for t in self.manifest["tasks"] if t["dataset"] == dataset]


def roc_panel(ax, bench, dataset, variants):
    grid = np.linspace(0, 1, 201)
    seed0 = min(t["seed"] for t in bench.tasks_of(dataset))
    styles = {"iforest": ":", "lof": ":", "ocsvm": ":", "gmm": ":"}
    for m, label in BASELINES + [(p, OURS[p]) for p in variants]:
        curves = []
        aucs = []
        for r in bench.rows:
            if r["dataset"] == dataset and r["method"] == m and r["seed"] == seed0:
                fpr, tpr, _ = roc_curve(r["labels"], r["scores"])
                curves.append(np.interp(grid, fpr, tpr))
                aucs.append(r["auroc"])
        if not curves:
            continue
        tpr = np.mean(curves, axis=0)
        tpr[0] = 0.0
        lw = 2.0 if m in ("f32", "f32-energy") else 1.2
        ls = styles.get(m, "-" if m in ("f32", "f32-energy") else "--")
        ax.plot(grid, tpr, ls, lw=lw, label=f"{label} ({np.mean(aucs):.3f})")
    ax.plot([0, 1], [0, 1], color="0.8", lw=0.8)
    title = SHORT[dataset]
    if dataset == "digits":
        title += "\n(ROC averaged over the normal digits)"
    ax.set_title(f"{title}, seed {seed0}", fontsize=9)
    ax.set_xlabel("false-alarm rate", fontsize=8)
    ax.set_ylabel("detection rate", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6.5, loc="lower right")


def hist_panel(ax, bench, dataset):
    rows = [r for r in bench.rows if r["dataset"] == dataset and r["method"] == "f32"]
    r = min(rows, key=lambda r: (r["seed"], r["task"].get("normal_digit", 0)))
    s, y = r["scores"], r["labels"]
    lo, hi = np.percentile(s, [1, 99])
    bins = np.linspace(lo, hi, 40)
    ax.hist(np.clip(s[y == 0], lo, hi), bins=bins, alpha=0.6, density=True, label=f"normal ({(y == 0).sum()})")
    ax.hist(np.clip(s[y == 1], lo, hi), bins=bins, alpha=0.6, density=True, label=f"anomaly ({(y == 1).sum()})")
    what = r["task"]["dir"]
    ax.set_title(f"DDAEBM f32 anomaly score, {what}", fontsize=9)
    ax.set_xlabel("default score: reconstruction error (clipped to the 1-99 % range)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)


def plot(bench, png, variants):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ds = bench.datasets()
    fig, axes = plt.subplots(2, len(ds), figsize=(4.2 * len(ds), 7.6), squeeze=False)
    for i, d in enumerate(ds):
        roc_panel(axes[0, i], bench, d, variants)
        hist_panel(axes[1, i], bench, d)
    fig.tight_layout()
    os.makedirs(os.path.dirname(png) or ".", exist_ok=True)
    fig.savefig(png, dpi=72)
    plt.close(fig)


def diagnostics(bench, dataset, variant):
    """Averaged over the tasks of the data set: the Spearman correlation, over
    the test rows, between our score (variant) and the distance from the training
    mean (standardised units); and how spread out the generator's samples
    (run/samples.csv, `trainer sample`) are against the training rows: the
    median over features of std(samples) / std(train), and the ratio of the
    median distances from the training mean."""
    rhos, spread, radius = [], [], []
    for t in bench.tasks_of(dataset):
        d = os.path.join(bench.out, t["dir"])
        train = np.loadtxt(os.path.join(d, "train.csv"), delimiter=",", skiprows=1, ndmin=2)
        test = np.loadtxt(os.path.join(d, "test.csv"), delimiter=",", skiprows=1, ndmin=2)[:, :-1]
        mu, sd = train.mean(axis=0), train.std(axis=0)
        sd[sd == 0] = 1
        dist = np.linalg.norm((test - mu) / sd, axis=1)
        s, _ = read_scores(os.path.join(d, f"scores-{variant}.csv"), "score")
        rhos.append(spearman(s, dist))
        sp = os.path.join(d, "run", "samples.csv")
        if os.path.exists(sp):
            smp = np.genfromtxt(sp, delimiter=",")
            smp = smp[~np.isnan(smp).any(axis=1)]
            spread.append(float(np.median(smp.std(axis=0) / sd)))
            radius.append(float(np.median(np.linalg.norm((smp - mu) / sd, axis=1))
                                / np.median(np.linalg.norm((train - mu) / sd, axis=1))))
    mean = lambda v: float(np.mean(v)) if v else float("nan")
    return mean(rhos), mean(spread), mean(radius)


def best_classical(bench, d):
    bvals = {m: np.mean(bench.per_seed(d, m, "auroc")) for m, _ in BASELINES}
    bm = max(bvals, key=bvals.get)
    return bm, bvals[bm]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/anomaly-bench")
    ap.add_argument("--doc", default="docs/anomaly-benchmark.md")
    ap.add_argument("--png", default="docs/img/anomaly-roc.png")
    ap.add_argument("--command", default="./scripts/anomaly-benchmark.sh")
    ap.add_argument("--elapsed", type=int, default=None, help="wall-clock seconds of the whole run")
    ap.add_argument("--variants", default="f32,fp16,int8,f32-energy")
    ap.add_argument("--mcu", default=None, help="scripts/firmware-report.sh output for the probe models")
    ap.add_argument("--long", default=None, help="TASK:ITERS of the longer-training check (TASK/long/)")
    a = ap.parse_args()
    variants = a.variants.split(",")
    precisions = [p for p in PRECISION_VARIANTS if p in variants]
    bench = Bench(a.out, variants)
    plot(bench, a.png, variants)
    mcu = parse_mcu(a.mcu)
    ds = bench.datasets()
    man = bench.manifest
    first = {d: min(bench.tasks_of(d), key=lambda t: (t["seed"], t.get("normal_digit", 0))) for d in ds}
    facts = {v: safetensors_facts(os.path.join(a.out, first[ds[0]]["dir"], f"model-{v}.safetensors")) for v in variants}
    L = []
    w = L.append

    w("# Anomaly detection on real data: DDAEBM against classical detectors")
    w("")
    w("<!-- Generated by bench/anomaly/report.py from the run's files; do not edit by hand. -->")
    w("")
    w("Regenerate this page and its picture (CPU only, on the project's 2-core machine"
      + (f": about {max(1, round(a.elapsed / 60))} min" if a.elapsed else "") + "):")
    w("")
    w("```sh")
    w(a.command)
    w("```")
    w("")
    w(f"Generated {datetime.date.today().isoformat()} on {platform.machine()} "
      f"({os.cpu_count()} cores)" + (f"; that run took {a.elapsed} s up to this report "
                                     f"(setup, build, data, baselines, training, export, scoring"
                                     f"{', MCU measurement' if a.mcu else ''})." if a.elapsed else "."))
    w("`DDAEBM_BENCH_QUICK=1` runs a smoke version (1 seed, 2 digits, 150 iterations) into "
      "`runs/anomaly-bench-quick/` without touching this page.")
    w("")
    groups = {}
    for v in variants:
        groups.setdefault(score_name(facts[v]), []).append(OURS[v])
    w("Our model's columns are model files scored by the no_std runtime (`export score`), with the anomaly "
      "score each file declares: " + "; ".join(f"{' / '.join(n)}: **{k}**" for k, n in groups.items())
      + ". The reconstruction error (the generator's denoising error at step 0) is what `export` writes by "
      "default (docs/export.md); the energy −f(x, 0) is the score ALGORITHM.md §4 defines.")
    w("")

    # ---- the main tables
    n_seeds = {d: len(set(t["seed"] for t in bench.tasks_of(d))) for d in ds}
    head = "| data set | " + " | ".join([n for _, n in BASELINES] + [OURS[p] for p in variants]) + " |"
    sep = "|---|" + "---:|" * (len(BASELINES) + len(variants))
    for key, title in (("auroc", "AUROC"), ("ap", "Average precision (anomaly = positive class)")):
        w(f"## {title}")
        w("")
        w("Mean ± standard deviation over seeds (digits: the mean over the normal-digit choices of one "
          "seed, then mean ± std over seeds). Bold: the best of each row.")
        w("")
        w(head)
        w(sep)
        for d in ds:
            vals = {m: bench.per_seed(d, m, key) for m in bench.methods}
            best = max(bench.methods, key=lambda m: np.mean(vals[m]))
            cells = []
            for m in bench.methods:
                c = pm(vals[m])
                cells.append(f"**{c}**" if m == best else c)
            w(f"| {label(bench, d)} ({n_seeds[d]} seed{'s' if n_seeds[d] > 1 else ''}) | " + " | ".join(cells) + " |")
        if key == "ap":
            w("")
            prev = []
            for d in ds:
                t = bench.tasks_of(d)[0]
                prev.append(f"{SHORT[d]} {t['test_anomalies'] / (t['test_anomalies'] + t['test_normal']):.3f}")
            w("A detector that ranks at random has AP = the share of anomalies in the test set: " + "; ".join(prev) + ".")
        w("")

    # ---- goals
    w("## Against the goals")
    w("")
    w("Our model = the f32 file with its default score. Reduced precisions are compared task by task with the "
      "f32 file of the same training run and the same score.")
    w("")
    w("| data set | best classical (AUROC) | DDAEBM f32 AUROC | goal: ours ≥ best classical | "
      + " | ".join(f"{p} − f32 AUROC, mean (max abs)" for p in precisions if p != "f32")
      + " | goal: ≤ 0.005 |")
    w("|---|---|---:|---|" + "---:|" * (len(precisions) - 1) + "---|")
    losses = []
    for d in ds:
        bm, bv = best_classical(bench, d)
        ours = np.mean(bench.per_seed(d, "f32", "auroc"))
        met = ours >= bv
        if not met:
            losses.append(d)
        deltas, ok = [], True
        f32 = {r["task"]["dir"]: r["auroc"] for r in bench.rows if r["dataset"] == d and r["method"] == "f32"}
        for p in precisions:
            if p == "f32":
                continue
            dd = np.array([r["auroc"] - f32[r["task"]["dir"]] for r in bench.rows if r["dataset"] == d and r["method"] == p])
            deltas.append(f"{dd.mean():+.4f} ({np.abs(dd).max():.4f})")
            ok = ok and np.abs(dd).max() <= 0.005
        w(f"| {SHORT[d]} | {dict(BASELINES)[bm]} {bv:.3f} | {ours:.3f} | {'met' if met else '**not met**'} "
          f"| " + " | ".join(deltas) + f" | {'met' if ok else '**not met**'} (per task) |")
    w("")

    # ---- diagnostics
    w("## What the scores respond to")
    w("")
    w("Spearman correlation, over the test rows, between a score and the reading's distance from the "
      "training mean (standardised units), averaged over the tasks; and how spread out the generator's "
      "samples are (2,000 per model from `trainer sample`, the T-step sampler the runtime runs) against the "
      "training rows:")
    w("")
    cols = ["data set"] + [f"ρ({OURS[v]}, distance)" for v in ("f32", "f32-energy") if v in variants]
    cols += ["samples: std / data std (median feature)", "samples: median distance / data's"]
    w("| " + " | ".join(cols) + " |")
    w("|---|" + "---:|" * (len(cols) - 1))
    rho = {}
    for d in ds:
        cells = []
        for v in ("f32", "f32-energy"):
            if v in variants:
                rho[(d, v)], spread, radius = diagnostics(bench, d, v)
                cells.append(f"{rho[(d, v)]:+.2f}")
        w(f"| {SHORT[d]} | " + " | ".join(cells) + f" | {spread:.2f} | {radius:.2f} |")
    w("")
    if "f32-energy" in variants:
        neg = [d for d in ds if rho[(d, "f32-energy")] < 0
               and np.mean(bench.per_seed(d, "f32-energy", "auroc")) < 0.5]
        if neg:
            w(f"**The energy score fails on {', '.join(SHORT[d] for d in neg)}** (AUROC below 0.5, ρ < 0): it "
              "rates readings as *more normal* the farther they lie from the training data, because f(x, 0) "
              "keeps rising off the data. Training only ever evaluates f near the data, on real pairs "
              "(x_t, x_{t+1}) and on the generator's denoised samples, which start from x_{t+1} of real data "
              "(ALGORITHM.md §5), so nothing pins f down far away; and where the generator's samples are less "
              "spread out than the data (ratios below 1 above), the energy update, which raises f on real rows "
              "and lowers it on generated ones, learns \"farther out = more real\" and extrapolates it. "
              "(Flipping the sign would rank these anomalies far better than chance, but the sign would be "
              "chosen by looking at the anomalies.) The reconstruction score needs no extrapolation: a reading "
              "off the data is pulled back towards it by the denoiser, and the distance it moves is the score.")
            w("")
    if losses:
        w("## Where our model falls short of the best classical detector")
        w("")
        for d in losses:
            bm, bv = best_classical(bench, d)
            per = bench.per_seed(d, "f32", "auroc")
            ours = float(np.mean(per))
            sd = float(np.std(per, ddof=1)) if len(per) > 1 else 0.0
            text = (f"**{SHORT[d]}**: {ours:.3f} against {bv:.3f} ({dict(BASELINES)[bm]}), a gap of "
                    f"{bv - ours:.3f}; per seed {', '.join(f'{v:.3f}' for v in per)}.")
            others = sorted(((np.mean(bench.per_seed(d, m, 'auroc')), n) for m, n in BASELINES), reverse=True)
            beaten = [n for v, n in others if v < ours]
            if beaten:
                text += f" It is ahead of {', '.join(beaten)}."
            if sd > 0 and bv - ours < 2 * sd:
                text += " The gap is within two standard deviations of our model's spread over seeds."
            if d == "ucr_internal_bleeding":
                text += (" The one labelled anomaly is a 12-sample distortion inside the normal range of "
                         "values, on the falling edge of one cycle; a window that holds it is off the "
                         "normal windows' manifold only in how neighbouring samples move together, which a "
                         "full-covariance Gaussian models directly, while our model has to learn that "
                         f"shape from {first[d]['train_rows']} heavily overlapping training windows (a likely "
                         "reason for the gap, not a measured one).")
            ratio = {x: first[x]["train_rows"] / first[x]["dim"] for x in ds}
            if d == "digits":
                rows = sorted({t["train_rows"] for t in bench.tasks_of(d)})
                text += (f" The training set is one digit's {rows[0]}–{rows[-1]} images in {first[d]['dim']} "
                         "dimensions")
                text += (", the fewest training rows per dimension of the data sets here." if ratio[d] == min(ratio.values())
                         else ".")
            w(text)
            w("")
    if a.long:
        task, iters = a.long.split(":")
        dl = os.path.join(a.out, task, "long")
        base_rows = {r["method"]: r for r in bench.rows if r["task"]["dir"] == task}
        with open(os.path.join(a.out, task, "run", "fit-time.json")) as f:
            it0 = json.load(f)["iters"]
        parts = []
        for v in ("f32", "f32-energy"):
            path = os.path.join(dl, f"scores-{v}.csv")
            if v in variants and os.path.exists(path):
                sc, y = read_scores(path, "score")
                parts.append(f"{OURS[v]} {roc_auc_score(y, sc):.3f} (at {it0:,}: {base_rows[v]['auroc']:.3f})")
        if parts:
            bm, bv = best_classical(bench, base_rows["f32"]["dataset"])
            w(f"**Longer training.** `{task}` trained for {int(iters):,} instead of {it0:,} iterations: AUROC "
              + "; ".join(parts) + f"; best classical {bv:.3f}.")
            w("")

    # ---- model size and cost
    w("## Model files: size and cost per reading")
    w("")
    w("MACs per reading from the model file: the energy score runs the energy network once, the "
      "reconstruction score the generator once per draw (after `export` folds the time branch). File sizes "
      "are the calibrated model files the runtime loads (the generator and the energy network are both "
      "in every file).")
    w("")
    cols = ["data set", "D", "width × depth", "iterations", "train s (mean)"]
    cols += [f"{v} bytes" for v in precisions]
    cols += [f"MACs / reading, {'reconstruction' if facts[v]['score'] == 'reconstruction' else 'energy'}"
             for v in ("f32", "f32-energy") if v in variants]
    if mcu:
        cols += [f"{OURS[v].replace('DDAEBM ', '')}: Cortex-M4F instructions / reading (estimate)" for v in variants]
    w("| " + " | ".join(cols) + " |")
    w("|---|" + "---:|" * (len(cols) - 1))
    for d in ds:
        tasks = bench.tasks_of(d)
        d0 = os.path.join(a.out, first[d]["dir"])
        with open(os.path.join(d0, "run", "fit-time.json")) as f:
            ft = json.load(f)
        fit_s = []
        for t in tasks:
            p = os.path.join(a.out, t["dir"], "run", "fit-time.json")
            if os.path.exists(p):
                with open(p) as f:
                    fit_s.append(json.load(f)["fit_s"])
        sizes = []
        for v in precisions:
            vals = sorted({safetensors_facts(os.path.join(a.out, t["dir"], f"model-{v}.safetensors"))["bytes"]
                           for t in tasks})
            sizes.append(str(vals[0]) if len(vals) == 1 else f"{vals[0]}–{vals[-1]}")
        fv = {v: safetensors_facts(os.path.join(d0, f"model-{v}.safetensors")) for v in variants}
        macs = [f"{fv[v]['macs']:,}" for v in ("f32", "f32-energy") if v in variants]
        instr = []
        for v in variants:
            key = os.path.normpath(os.path.join(a.out, "mcu-probe", f"model-{v}.safetensors"))
            if key in mcu:
                pf = safetensors_facts(key)
                ipm = mcu[key]["instr"] / pf["macs"]
                instr.append(f"≈ {mcu[key]['instr'] + (fv[v]['macs'] - pf['macs']) * ipm:,.0f}")
            else:
                instr.append("–")
        row = [SHORT[d], str(first[d]["dim"]), f"{ft['width']} × {ft['depth']}", str(ft["iters"]),
               f"{np.mean(fit_s):.0f}"] + sizes + macs
        if mcu:
            row += instr
        w("| " + " | ".join(row) + " |")
    w("")
    if mcu:
        probe = []
        for v in variants:
            key = os.path.normpath(os.path.join(a.out, "mcu-probe", f"model-{v}.safetensors"))
            if key in mcu:
                pf = safetensors_facts(key)
                probe.append(f"{OURS[v].replace('DDAEBM ', '')} {mcu[key]['instr']:,} instructions for "
                             f"{pf['macs']:,} MACs ({mcu[key]['instr'] / pf['macs']:.2f} per MAC)")
        w("Instructions per reading are an estimate: the firmware example "
          "(`firmware-examples/cortex-m4f-anomaly`) only takes 2-D readings, so the benchmark's models cannot "
          "run in it as they are. The benchmark trains a 2-D probe model of the same width and depth "
          "(25gaussians, 100 iterations: only the shapes matter), exports it like the benchmark's models, and "
          "`scripts/firmware-report.sh` counts, instruction by instruction under QEMU (`mps2-an386`, "
          "Cortex-M4F), one `anomaly_score` call of each: " + "; ".join(probe)
          + ". The estimate for a data set is the probe's count plus its extra MACs (the wider first layer) "
          "at the probe's instructions per MAC. The firmware table of that run (the two committed default "
          "models, then the probes; its `instr/energy` column is the `anomaly_score` call, whichever score "
          "the file declares, while its MAC columns count the energy network):")
        w("")
        with open(a.mcu) as f:
            for line in f:
                if line.startswith("|"):
                    w(line.rstrip("\n"))
        w("")
    else:
        w("MCU instruction counts were not measured in this run (needs qemu-system-arm and defmt-print, "
          "installed by `scripts/firmware.sh`; `BENCH_MCU=1`).")
        w("")

    # ---- per-digit detail
    if "digits" in ds:
        w("## Digits: AUROC per normal digit (mean over seeds)")
        w("")
        w("| normal digit | " + " | ".join([n for _, n in BASELINES] + [OURS[p] for p in variants]) + " |")
        w("|---|" + "---:|" * len(bench.methods))
        digits_present = sorted({t["normal_digit"] for t in bench.tasks_of("digits")})
        for k in digits_present:
            cells = []
            for m in bench.methods:
                v = [r["auroc"] for r in bench.rows if r["group"] == f"digits-{k}" and r["method"] == m]
                cells.append(f"{np.mean(v):.3f}")
            w(f"| {k} | " + " | ".join(cells) + " |")
        w("")

    # ---- picture
    rel = os.path.relpath(os.path.abspath(a.png), os.path.dirname(os.path.abspath(a.doc)))
    w("## ROC curves and score histograms")
    w("")
    w(f"![ROC curves of every method (top) and histograms of DDAEBM's f32 score (bottom), per data set]({rel})")
    w("")
    w("Top: ROC curves of the first seed (digits: averaged over the normal digits), AUROC in the legend; "
      "dotted = classical, solid = DDAEBM f32 (both scores), dashed = fp16 / int8. Bottom: DDAEBM f32 "
      "default scores of normal and anomalous test rows for one task.")
    w("")

    # ---- protocol
    w("## Protocol")
    w("")
    w("- **Splits** (`bench/anomaly/prepare.py`, fixed seeds, identical files for every method): "
      "`train.csv` holds normal rows only, `calib.csv` held-out normal rows (only `export --calibrate` uses "
      "it: score quantiles and the threshold stored in the model file; no method sees it otherwise), "
      "`test.csv` held-out normal rows plus the anomalies with a `label` column.")
    def span(d, key):
        v = sorted({t[key] for t in bench.tasks_of(d)})
        return str(v[0]) if len(v) == 1 else f"{v[0]}–{v[-1]}"

    for d in ds:
        info = man["datasets"][d]
        split = info["split"].rstrip(".")
        w(f"- **{info['title']}** ({info['rows']} rows, D = {info['dim']}): normal = {info['normal']}; "
          f"anomalies = {info['anomalies']}. {split[0].upper() + split[1:]}. Per task: {span(d, 'train_rows')} "
          f"train, {span(d, 'calib_rows')} calib, {span(d, 'test_normal')} normal + "
          f"{span(d, 'test_anomalies')} anomalous test rows. "
          f"Seeds: {', '.join(str(s) for s in sorted(set(x['seed'] for x in bench.tasks_of(d))))}.")
    w("- **Classical detectors** (`bench/anomaly/baselines.py`, scikit-learn, features standardised with the "
      "training rows' mean and std, standard settings fixed in advance, nothing tuned on test data): "
      "Isolation Forest (200 trees), Local Outlier Factor (novelty mode, 20 neighbours), one-class SVM "
      "(RBF, γ = scale, ν = 0.1), Gaussian mixture (full covariances, 1–4 components chosen by BIC on the "
      "training rows). Score = minus each model's `score_samples`.")
    w("- **DDAEBM**: `trainer fit --data train.csv --width W --depth L --iters N --seed S --lr 5e-4 --constant-lr --lazy-reg 1 --threads 1` "
      "(defaults otherwise: T = 4, vp β 0.1–20, batch 200; the trainer standardises the features "
      "and bakes the normalisation into the model file), then `export --f32 | --fp16 | --int8 --score reconstruction "
      "--draws 8 --calibrate calib.csv` and `export --f32 --score energy --calibrate calib.csv`, then "
      "`export score MODEL test.csv --label-column label`, which runs every row through the no_std runtime "
      "(`Model::anomaly_score`, the score the file declares). The benchmark passes `--allow-inaccurate` "
      "so that a reduced-precision file is measured even when export's default error bound would refuse it.")
    w(f"- **Metrics**: AUROC and average precision with the anomaly as the positive class, recomputed with "
      f"scikit-learn from the per-row score files (they agree with `export score`'s own numbers to "
      f"{bench.max_json_diff:.1e}).")
    w("- Everything runs on the CPU; Python's BLAS and libtorch use one thread each.")
    w("")

    # ---- sources
    w("## Data sources, attribution and licences")
    w("")
    w("Nothing is downloaded at run time: the files ship inside the pinned PyPI packages that "
      "`bench/anomaly/setup.sh` installs (`bench/anomaly/requirements.txt`, plus `aeon==1.6.0` without "
      "its dependencies, for one data file).")
    w("")
    w("- **Breast cancer Wisconsin (diagnostic)**: W. H. Wolberg, W. N. Street, O. L. Mangasarian, "
      "University of Wisconsin (1995), UCI Machine Learning Repository, doi:10.24432/C5DW2B, licence "
      "CC BY 4.0; the copy inside scikit-learn (BSD-3-Clause), `sklearn.datasets.load_breast_cancer`.")
    w("- **Optical recognition of handwritten digits** (8×8 test part, 1797 images): E. Alpaydin, "
      "C. Kaynak (1998), UCI Machine Learning Repository, doi:10.24432/C50P49, licence CC BY 4.0; the copy "
      "inside scikit-learn, `sklearn.datasets.load_digits`.")
    w("- **UCR Time Series Anomaly Archive, series 135 `InternalBleeding16`**: E. Keogh, T. Dutta Roy, "
      "U. Naik, A. Agrawal, *Multi-dataset Time-Series Anomaly Detection Competition*, SIGKDD 2021; R. Wu, "
      "E. Keogh, *Current Time Series Anomaly Detection Benchmarks are Flawed and are Creating the Illusion "
      "of Progress*, IEEE TKDE 2021. A physiological recording (aeon's description: the heart rate of a "
      "patient with internal bleeding; the waveform is a pulsatile signal with a period of about 180 "
      "samples) with an anomaly-free training prefix and exactly one labelled anomaly (12 samples, a short "
      "distortion on the falling edge of one cycle). The copy inside the aeon wheel (BSD-3-Clause), "
      "`aeon/datasets/data/KDD-TSAD_135/135_UCR_Anomaly_InternalBleeding16_TEST.csv` (the file the "
      "`aeon.datasets.load_kdd_tsad_135` loader reads; the benchmark reads the file directly). We found no "
      "licence statement of the archive itself; the file is redistributed inside aeon's BSD-3-Clause "
      "package, and the references above are the attribution its authors ask for.")
    w("")
    w("**Caveat on (b):** one labelled event per series is the archive's design; the window AUROC then "
      "measures how the windows that cover that one event rank among about three thousand normal windows, "
      "so it is a coarse measure, and the seeds vary the models, not the data. No registry package we "
      "found ships a real sensor or physiological series with many labelled anomalies (aeon's Daphnet "
      "excerpt has none; sktime's MIT-BIH excerpt `mitdb.csv` has one abnormal beat and no documented "
      "provenance; none of aeon, sktime, tslearn, pyts or wfdb ships ECG200 / ECG5000 or MIT-BIH records: "
      "their loaders download them).")
    w("")

    os.makedirs(os.path.dirname(a.doc) or ".", exist_ok=True)
    with open(a.doc, "w") as f:
        f.write("\n".join(L))
    print(f"report.py: wrote {a.doc} and {a.png}")


if __name__ == "__main__":
    main()
