#!/usr/bin/env python3
"""Aggregates the anomaly benchmark into a markdown page and a PNG.

    python bench/anomaly/report.py --out runs/anomaly-bench --doc docs/anomaly-benchmark.md \
        --png docs/img/anomaly-roc.png --command ./scripts/anomaly-benchmark.sh \
        --variants f32,int8,f32-energy,int8-energy [--mcu firmware-report.md] [--long TASK:ITERS]

Reads what scripts/anomaly-benchmark.sh left in OUT: manifest.json
(prepare.py), TASK/baselines/{scores.csv,summary.json} (baselines.py: the
classical detectors plus the distance from the training mean and the
Mahalanobis distance), and for each variant V of our model
TASK/scores-V.csv, TASK/summary-V.json and TASK/model-V.safetensors
(`export`, `export score`), TASK/run/fit-time.json and TASK/run/samples.csv.
A variant is named PRECISION or PRECISION-energy (f32, fp16, bf16, int8;
"-energy": the file declares the energy score, otherwise the reconstruction
score); its column is labelled with the precision and the score the model
file itself declares. Any subset of variants works; the goals need
f32-energy (and compare it with f32, int8-energy, the baselines when
present). Every AUROC and AP is recomputed here from the per-row scores with
scikit-learn and checked against the numbers `export score` printed.
Nothing in the page is typed in by hand: each number, and each statement
about the numbers, comes from those files.
"""

import argparse
import datetime
import json
import os
import platform
import re
import struct
import sys

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

# The classical detectors: "best classical" is the best of these.
CLASSICAL = [
    ("iforest", "Isolation Forest"),
    ("lof", "LOF (novelty)"),
    ("ocsvm", "one-class SVM"),
    ("gmm", "Gaussian mixture"),
    ("knn", "kNN (5 neighbours)"),
]
# Simple reference scores on the same standardised features.
SIMPLE = [
    ("distance", "distance from mean"),
    ("mahalanobis", "Mahalanobis (Ledoit-Wolf)"),
]
BASELINES = CLASSICAL + SIMPLE
BASELINE_NAME = dict(BASELINES)
PRECISIONS = ["f32", "fp16", "bf16", "int8"]
ENERGY, RECON = "f32-energy", "f32"  # the goals' energy and reconstruction files
INT8_ENERGY = "int8-energy"
PRECISION_GOAL = 0.005  # max |AUROC change| of a reduced precision against f32, per task
# The seven UCI sets of bench/anomaly/data/ (prepare.py --datasets dev).
UCI = ["ionosphere", "pima", "breastw", "glass", "vehicle", "vowel", "letter"]
ORDER = ["breast_cancer", "ucr_internal_bleeding", "digits"] + UCI
SHORT = {
    "breast_cancer": "breast cancer (WDBC)",
    "ucr_internal_bleeding": "UCR #135 InternalBleeding16 (windows)",
    "digits": "digits 8x8 (one vs rest)",
    "ionosphere": "ionosphere",
    "pima": "Pima diabetes",
    "breastw": "breast cancer (original, breastw)",
    "glass": "glass (tableware)",
    "vehicle": "vehicle (van)",
    "vowel": "vowel (hed)",
    "letter": "letter (A-E)",
}


def warn(msg):
    print(f"report.py: warning: {msg}", file=sys.stderr)


def parse_variant(v):
    """"int8-energy" -> ("int8", "energy"); "f32" -> ("f32", "reconstruction")."""
    prec, _, score = v.partition("-")
    if prec not in PRECISIONS or score not in ("", "energy", "reconstruction"):
        raise SystemExit(f"report.py: unknown variant {v!r} (PRECISION or PRECISION-energy, "
                         f"PRECISION one of {', '.join(PRECISIONS)})")
    return prec, score or "reconstruction"


def label(bench, dataset):
    if dataset == "digits":
        n = len({t["normal_digit"] for t in bench.tasks_of("digits")})
        return f"digits 8x8 (one vs rest, {n} normal digit{'s' if n > 1 else ''})"
    return SHORT[dataset]


def read_header(path):
    with open(path) as f:
        return f.readline().strip().split(",")


def read_scores(path, column):
    header = read_header(path)
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return data[:, header.index(column)], data[:, header.index("label")].astype(int)


LAYER_WEIGHT = re.compile(r"^(energy|generator)\.(\d+)\.weight$")
_facts_cache = {}


def safetensors_facts(path):
    """From the model file's header: file bytes, weight dtype, the anomaly
    score it declares, its draws, its energy base, and the MACs of one
    anomaly_score call: energy = the energy network's layers once, plus D·D
    when the file has a Gaussian base (metadata `energy_base` = gaussian, or
    a `base.basis` tensor [D, D]: the projection of x on the base's D
    eigenvectors); reconstruction = the
    generator's layers once per draw. Only the layer matrices
    `{net}.{i}.weight` (i below the declared layer count) are counted, so
    other tensors (a base's own tensors) are never counted twice."""
    path = os.path.normpath(path)
    if path in _facts_cache:
        return _facts_cache[path]
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
    meta = h.get("__metadata__", {})

    def macs(net):
        limit = int(meta.get(f"{net}_layers", 1 << 30))
        total = 0
        for k, v in h.items():
            m = LAYER_WEIGHT.match(k)
            if m and m.group(1) == net and int(m.group(2)) < limit and len(v.get("shape", [])) == 2:
                total += v["shape"][0] * v["shape"][1]
        return total

    dim = int(meta["data_dim"]) if "data_dim" in meta else int(h.get("energy.0.weight", {}).get("shape", [0, 0])[1])
    kind = meta.get("anomaly_score", "energy")
    draws = int(meta.get("reconstruction_draws", 1)) if kind == "reconstruction" else 1
    base = meta.get("energy_base", "none") or "none"
    basis = h.get("base.basis", {}).get("shape")  # the base's eigenvectors, [D, D]
    if base == "none" and basis:
        base = "gaussian"  # a file with the base's tensors but without the metadata key
    if base not in ("none", "gaussian"):
        warn(f"{path}: energy_base = {base!r} is not known here; its MACs are not counted")
    base_macs = (int(np.prod(basis)) if basis else dim * dim) if (kind == "energy" and base == "gaussian") else 0
    per_reading = macs("energy") + base_macs if kind == "energy" else draws * macs("generator")
    facts = dict(bytes=os.path.getsize(path), dtype=meta.get("weight_dtype", "?"), score=kind, draws=draws,
                 base=base, base_macs=base_macs, dim=dim, macs=per_reading, meta=meta)
    _facts_cache[path] = facts
    return facts


def score_name(facts):
    """The score a file declares, in words."""
    if facts["score"] == "reconstruction":
        return f"reconstruction error, {facts['draws']} draw{'s' if facts['draws'] > 1 else ''}"
    if facts["base"] == "gaussian":
        return "energy −f(x, 0), f with a Gaussian (or Gaussian-mixture) base"
    return "energy −f(x, 0)"


def score_short(facts):
    if facts["score"] == "reconstruction":
        return f"reconstruction ×{facts['draws']}"
    return "energy + base" if facts["base"] == "gaussian" else "energy"


def parse_mcu(path):
    """{model path as firmware-report.sh printed it: instructions of one anomaly_score call}."""
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
        try:
            out[row["model"].strip("`")] = int(row["instr/energy"])
        except (KeyError, ValueError):
            warn(f"{path}: unreadable row {l!r}")
    return out


class Mcu:
    """Cortex-M4F instruction estimates from the probe models
    (OUT/mcu-probe/model-V.safetensors, measured by firmware-report.sh)."""

    def __init__(self, path, out, variants):
        table = parse_mcu(path)
        self.path = path if table else None
        self.probe = {}  # variant -> (instructions, probe MACs, probe facts)
        for v in variants:
            tail = f"mcu-probe/model-{v}.safetensors"
            hits = [n for k, n in table.items() if os.path.normpath(k).replace(os.sep, "/").endswith("/" + tail)]
            local = os.path.join(out, "mcu-probe", f"model-{v}.safetensors")
            if hits and os.path.exists(local):
                pf = safetensors_facts(local)
                self.probe[v] = (hits[0], pf["macs"], pf)
            elif table:
                warn(f"no MCU count for variant {v} in {path}")

    def __bool__(self):
        return bool(self.probe)

    def per_mac(self, v):
        instr, macs, _ = self.probe[v]
        return instr / macs

    def estimate(self, v, macs):
        """The probe's count plus the extra MACs at the probe's instructions per MAC."""
        if v not in self.probe:
            return None
        instr, pmacs, _ = self.probe[v]
        return instr + (macs - pmacs) * instr / pmacs


def pm(values, digits=3):
    v = np.asarray(values, dtype=float)
    if len(v) == 1:
        return f"{v[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}"


def spearman(a, b):
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


def join_words(items):
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


class Bench:
    def __init__(self, out, variants):
        self.out = out
        self.variants = variants
        with open(os.path.join(out, "manifest.json")) as f:
            self.manifest = json.load(f)
        tasks = self.manifest["tasks"]
        # The baselines this run has (an older baselines.py wrote only the classical four, then no kNN).
        header = read_header(os.path.join(out, tasks[0]["dir"], "baselines", "scores.csv"))
        self.baselines = [(m, n) for m, n in BASELINES if m in header]
        self.classical = [(m, n) for m, n in CLASSICAL if m in header]
        self.methods = [m for m, _ in self.baselines] + variants
        self.rows = []  # one per task and method
        self.max_json_diff = 0.0
        for t in tasks:
            d = os.path.join(out, t["dir"])
            for m, _ in self.baselines:
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
        # Each variant's declared score, from its first model file; the name must agree.
        self.facts = {}
        for p in variants:
            f = safetensors_facts(self.model(tasks[0], p))
            self.facts[p] = f
            if parse_variant(p)[1] != f["score"]:
                warn(f"variant {p}: the model file declares the {f['score']} score")
        self.names = {**BASELINE_NAME, **{p: self.variant_label(p) for p in variants}}

    def model(self, task, variant):
        return os.path.join(self.out, task["dir"], f"model-{variant}.safetensors")

    def variant_label(self, p):
        return f"DDAEBM {parse_variant(p)[0]}, {score_short(self.facts[p])}"

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

    def per_seed(self, dataset, method, key="auroc"):
        """One value per seed; digits: the mean over the normal digits of that seed."""
        by_seed = {}
        for r in self.rows:
            if r["dataset"] == dataset and r["method"] == method:
                by_seed.setdefault(r["seed"], []).append(r[key])
        return [float(np.mean(v)) for _, v in sorted(by_seed.items())]

    def mean(self, dataset, method, key="auroc"):
        return float(np.mean(self.per_seed(dataset, method, key)))

    def per_task(self, dataset, method):
        return {r["task"]["dir"]: r["auroc"] for r in self.rows if r["dataset"] == dataset and r["method"] == method}

    def tasks_of(self, dataset):
        return [t for t in self.manifest["tasks"] if t["dataset"] == dataset]

    def has(self, method):
        return method in self.methods


def roc_panel(ax, bench, dataset):
    grid = np.linspace(0, 1, 201)
    seed0 = min(t["seed"] for t in bench.tasks_of(dataset))
    for m in bench.methods:
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
        if m in dict(CLASSICAL):
            ls, lw = ":", 1.2
        elif m in dict(SIMPLE):
            ls, lw = "-.", 1.0
        elif parse_variant(m)[0] == "f32":
            ls, lw = "-", 2.0
        else:
            ls, lw = "--", 1.2
        ax.plot(grid, tpr, ls, lw=lw, label=f"{bench.names[m]} ({np.mean(aucs):.3f})")
    ax.plot([0, 1], [0, 1], color="0.8", lw=0.8)
    title = SHORT[dataset]
    if dataset == "digits":
        title += "\n(ROC averaged over the normal digits)"
    ax.set_title(f"{title}, seed {seed0}", fontsize=9)
    ax.set_xlabel("false-alarm rate", fontsize=8)
    ax.set_ylabel("detection rate", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6, loc="lower right")


def hist_panel(ax, bench, dataset, variant):
    rows = [r for r in bench.rows if r["dataset"] == dataset and r["method"] == variant]
    r = min(rows, key=lambda r: (r["seed"], r["task"].get("normal_digit", 0)))
    s, y = r["scores"], r["labels"]
    lo, hi = np.percentile(s, [1, 99])
    if not hi > lo:
        lo, hi = float(s.min()), float(s.max()) + 1e-9
    bins = np.linspace(lo, hi, 40)
    ax.hist(np.clip(s[y == 0], lo, hi), bins=bins, alpha=0.6, density=True, label=f"normal ({(y == 0).sum()})")
    ax.hist(np.clip(s[y == 1], lo, hi), bins=bins, alpha=0.6, density=True, label=f"anomaly ({(y == 1).sum()})")
    ax.set_title(f"{bench.names[variant]}, {r['task']['dir']}", fontsize=9)
    ax.set_xlabel(f"{score_name(bench.facts[variant])} (clipped to the 1-99 % range)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)


def plot(bench, png, hist_variant):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ds = bench.datasets()
    fig, axes = plt.subplots(2, len(ds), figsize=(4.2 * len(ds), 8.0), squeeze=False)
    for i, d in enumerate(ds):
        roc_panel(axes[0, i], bench, d)
        hist_panel(axes[1, i], bench, d, hist_variant)
    fig.tight_layout()
    os.makedirs(os.path.dirname(png) or ".", exist_ok=True)
    fig.savefig(png, dpi=72)
    plt.close(fig)


def diagnostics(bench, dataset, variant):
    """Averaged over the tasks of the data set: the Spearman correlation, over
    the test rows, between our score (variant) and the distance from the
    training mean (standardised units), and between our score and the
    Mahalanobis baseline (nan without it); and how spread out the generator's
    samples (run/samples.csv, `trainer sample`) are against the training
    rows: the median over features of std(samples) / std(train), and the
    ratio of the median distances from the training mean."""
    rhos, rhos_m, spread, radius = [], [], [], []
    for t in bench.tasks_of(dataset):
        d = os.path.join(bench.out, t["dir"])
        train = np.loadtxt(os.path.join(d, "train.csv"), delimiter=",", skiprows=1, ndmin=2)
        test = np.loadtxt(os.path.join(d, "test.csv"), delimiter=",", skiprows=1, ndmin=2)[:, :-1]
        mu, sd = train.mean(axis=0), train.std(axis=0)
        sd[sd == 0] = 1
        dist = np.linalg.norm((test - mu) / sd, axis=1)
        s, _ = read_scores(os.path.join(d, f"scores-{variant}.csv"), "score")
        rhos.append(spearman(s, dist))
        if "mahalanobis" in dict(bench.baselines):
            mh, _ = read_scores(os.path.join(d, "baselines", "scores.csv"), "mahalanobis")
            rhos_m.append(spearman(s, mh))
        sp = os.path.join(d, "run", "samples.csv")
        if os.path.exists(sp):
            smp = np.genfromtxt(sp, delimiter=",")
            smp = smp[~np.isnan(smp).any(axis=1)]
            spread.append(float(np.median(smp.std(axis=0) / sd)))
            radius.append(float(np.median(np.linalg.norm((smp - mu) / sd, axis=1))
                                / np.median(np.linalg.norm((train - mu) / sd, axis=1))))
    mean = lambda v: float(np.mean(v)) if v else float("nan")
    return mean(rhos), mean(rhos_m), mean(spread), mean(radius)


def best_classical(bench, d):
    bvals = {m: bench.mean(d, m) for m, _ in bench.classical}
    bm = max(bvals, key=bvals.get)
    return bm, bvals[bm]


def fmt_gap(x):
    return f"{x:+.3f}"


def verdict(met):
    return "met" if met else "**not met**"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/anomaly-bench")
    ap.add_argument("--doc", default="docs/anomaly-benchmark.md")
    ap.add_argument("--png", default="docs/img/anomaly-roc.png")
    ap.add_argument("--command", default="./scripts/anomaly-benchmark.sh")
    ap.add_argument("--elapsed", type=int, default=None, help="wall-clock seconds of the whole run")
    ap.add_argument("--variants", default="f32,int8,f32-energy,int8-energy",
                    help="our model's variants, comma-separated (PRECISION or PRECISION-energy)")
    ap.add_argument("--mcu", default=None, help="scripts/firmware-report.sh output for the probe models")
    ap.add_argument("--long", default=None, help="TASK:ITERS of the longer-training check (TASK/long/)")
    a = ap.parse_args()
    variants = [v for v in a.variants.split(",") if v]
    if not variants:
        raise SystemExit("report.py: --variants is empty")
    for v in variants:
        parse_variant(v)
    bench = Bench(a.out, variants)
    N = bench.names
    has = bench.has
    # The score the page leads with: the energy file when there is one.
    main_v = ENERGY if has(ENERGY) else (RECON if has(RECON) else variants[0])
    plot(bench, a.png, main_v)
    mcu = Mcu(a.mcu, a.out, variants)
    ds = bench.datasets()
    man = bench.manifest
    first = {d: min(bench.tasks_of(d), key=lambda t: (t["seed"], t.get("normal_digit", 0))) for d in ds}
    facts = bench.facts
    # Per data set and variant: the facts of the first task's model file (MACs depend on D).
    dfacts = {(d, v): safetensors_facts(bench.model(first[d], v)) for d in ds for v in variants}
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
                                     f"{', MCU measurement' if mcu else ''})." if a.elapsed else "."))
    w("`DDAEBM_BENCH_QUICK=1` runs a smoke version (1 seed, 2 digits, 150 iterations) into "
      "`runs/anomaly-bench-quick/` without touching this page.")
    w("")
    groups = {}
    for v in variants:
        groups.setdefault(score_name(facts[v]), []).append(f"`{v}`")
    w("Our model's columns are model files scored by the no_std runtime (`export score`), labelled with the "
      "weight precision and the anomaly score the file declares: " +
      "; ".join(f"{' / '.join(n)}: **{k}**" for k, n in groups.items())
      + ". The reconstruction error is the generator's denoising error at step 0 (docs/export.md); the "
      "energy −f(x, 0) is the score docs/algorithm.md §4 defines"
      + (" (here with the Gaussian or Gaussian-mixture base measure the file declares, `energy_base` = gaussian)"
         if any(facts[v]["base"] == "gaussian" for v in variants) else "")
      + ". The simple references *distance from mean* and *Mahalanobis (Ledoit-Wolf)* are computed on the "
      "same standardised features as the classical detectors (Protocol).")
    w("")

    # ---- the main tables
    n_seeds = {d: len(set(t["seed"] for t in bench.tasks_of(d))) for d in ds}
    head = "| data set | " + " | ".join(N[m] for m in bench.methods) + " |"
    sep = "|---|" + "---:|" * len(bench.methods)
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
    summary = []  # (goal, met on every set, sets where not met)
    if not has(ENERGY):
        w(f"The goals compare the energy score in f32 (variant `{ENERGY}`) with the other detectors; this run "
          f"has no `{ENERGY}` files, so they are not evaluated.")
        w("")
    else:
        w(f"Per data set, the mean AUROC over seeds of the AUROC table above (digits: the normal digits of a "
          f"seed averaged first). *Energy* = {N[ENERGY]} (`{ENERGY}`). A goal \"≥\" is met on a set when the "
          f"energy's mean AUROC is at least the other's; in brackets: energy − other (positive = energy ahead).")
        w("")
        # Goal 1: energy >= reconstruction, distance from mean, Mahalanobis.
        refs = [(m, (N[m] + f" (`{m}`)") if m in variants else BASELINE_NAME.get(m, f"the reconstruction score (`{m}`)"))
                for m in (RECON, "distance", "mahalanobis")]
        refs_present = [(m, n) for m, n in refs if has(m)]
        missing = [n for m, n in refs if not has(m)]
        w("**Goal 1: the energy score ranks anomalies at least as well as the reconstruction score, the distance "
          "from the training mean and the Mahalanobis distance, on every set.**"
          + (f" Not in this run: {join_words(missing)}." if missing else ""))
        w("")
        if refs_present:
            w("| data set | energy AUROC | " + " | ".join(n for _, n in refs_present) + " | goal 1 |")
            w("|---|---:|" + "---:|" * len(refs_present) + "---|")
            bad_sets = []
            for d in ds:
                e = bench.mean(d, ENERGY)
                cells, below = [], []
                for m, n in refs_present:
                    o = bench.mean(d, m)
                    cells.append(f"{o:.3f} ({e - o:+.4f})")
                    if e < o:
                        below.append(f"{N[m]} by {o - e:.4f}")
                if below:
                    bad_sets.append(d)
                v = "met" if not below else "**not met**: below " + ", ".join(below)
                w(f"| {SHORT[d]} | {e:.3f} | " + " | ".join(cells) + f" | {v} |")
            w("")
            summary.append(("1: energy ≥ " + join_words(N[m] for m, _ in refs_present), not bad_sets, bad_sets))
        # Goal 2: energy >= best classical.
        w("**Goal 2: the energy score ranks anomalies at least as well as the best classical detector ("
          + join_words(n for _, n in bench.classical) + ") on every set.**")
        w("")
        w("| data set | energy AUROC | best classical (AUROC) | energy − best classical | seeds where energy ≥ it | goal 2 |")
        w("|---|---:|---|---:|---:|---|")
        bad_sets = []
        for d in ds:
            bm, bv = best_classical(bench, d)
            e = bench.mean(d, ENERGY)
            es, bs = bench.per_seed(d, ENERGY), bench.per_seed(d, bm)
            wins = sum(x >= y for x, y in zip(es, bs))
            if e < bv:
                bad_sets.append(d)
            w(f"| {SHORT[d]} | {e:.3f} | {BASELINE_NAME[bm]} {bv:.3f} | {e - bv:+.4f} | {wins} of {len(es)} | "
              f"{verdict(e >= bv)} |")
        w("")
        summary.append(("2: energy ≥ best classical", not bad_sets, bad_sets))
    # Goal 3 and the other reduced precisions: each against the f32 file of the same score and training run.
    pairs = []
    for v in variants:
        prec, score = parse_variant(v)
        ref = "f32" if score == "reconstruction" else "f32-energy"
        if prec != "f32" and has(ref):
            pairs.append((v, ref))
    goal_pair = (INT8_ENERGY, ENERGY) in pairs
    if pairs:
        w((f"**Goal 3: the int8 energy file (`{INT8_ENERGY}`) within {PRECISION_GOAL} AUROC of the f32 energy file "
           f"(`{ENERGY}`) on every task.**" if goal_pair else "**Reduced precisions.**")
          + " Each reduced-precision file is compared task by task with the f32 file of the same training run "
          "and the same score: mean change over the tasks of a set (largest absolute change in brackets).")
        w("")
    if pairs:
        w("| data set | " + " | ".join(f"`{v}` − `{r}`" for v, r in pairs)
          + (" | goal 3 (every task) |" if goal_pair else " |"))
        w("|---|" + "---:|" * len(pairs) + ("---|" if goal_pair else ""))
        bad_sets, over = [], {}
        for d in ds:
            cells, ok = [], True
            for v, r in pairs:
                ref = bench.per_task(d, r)
                dd = np.array([x - ref[k] for k, x in bench.per_task(d, v).items()])
                cells.append(f"{dd.mean():+.4f} ({np.abs(dd).max():.4f})")
                if np.abs(dd).max() > PRECISION_GOAL:
                    over.setdefault((v, r), []).append(d)
                    if (v, r) == (INT8_ENERGY, ENERGY):
                        ok = False
            if not ok:
                bad_sets.append(d)
            w(f"| {SHORT[d]} | " + " | ".join(cells) + (f" | {verdict(ok)} |" if goal_pair else " |"))
        w("")
        others = [f"`{v}` against `{r}` on {join_words(SHORT[d] for d in sets)}"
                  for (v, r), sets in over.items() if (v, r) != (INT8_ENERGY, ENERGY)]
        if others:
            w(f"Other reduced precisions beyond {PRECISION_GOAL} on some task: " + "; ".join(others) + ".")
            w("")
        if goal_pair:
            summary.append((f"3: `{INT8_ENERGY}` within {PRECISION_GOAL} of `{ENERGY}`", not bad_sets, bad_sets))
    if has(ENERGY) and not goal_pair:
        w(f"Goal 3 (`{INT8_ENERGY}` within {PRECISION_GOAL} AUROC of `{ENERGY}` on every task) is not evaluated: "
          f"this run has no `{INT8_ENERGY}` files.")
        w("")
        summary.append((f"3: `{INT8_ENERGY}` within {PRECISION_GOAL} of `{ENERGY}`", None, []))
    if summary:
        w("In short: " + "; ".join(
            f"goal {g}: " + ("not evaluated" if ok is None else "met on every set" if ok
                             else f"**not met** on {join_words(SHORT[d] for d in sets)}")
            for g, ok, sets in summary) + ".")
        w("")

    # Cost against quality.
    w("### AUROC per unit of MCU cost")
    w("")
    w("What each of our files costs per reading on a microcontroller next to what it detects: mean AUROC "
      "(as above), multiply-accumulates of one `anomaly_score` call (from the model file: the energy score runs "
      "the energy network once"
      + (", plus K × D × D for the projections of the base's K Gaussian components" if any(f["base_macs"] for f in dfacts.values()) else "")
      + "; the reconstruction score runs the generator once per draw), the estimated Cortex-M4F instructions of "
      "that call (see *Model files* below for how they are estimated), and the model file's size.")
    w("")
    w("| data set | file | score | AUROC | MACs / reading | Cortex-M4F instructions / reading (estimate) "
      "| file bytes |")
    w("|---|---|---|---:|---:|---:|---:|")
    for d in ds:
        for v in variants:
            f = dfacts[(d, v)]
            est = mcu.estimate(v, f["macs"])
            sizes = sorted({safetensors_facts(bench.model(t, v))["bytes"] for t in bench.tasks_of(d)})
            size = str(sizes[0]) if len(sizes) == 1 else f"{sizes[0]}–{sizes[-1]}"
            w(f"| {SHORT[d]} | `{v}` ({f['dtype']}) | {score_short(f)} | {bench.mean(d, v):.3f} | {f['macs']:,} | "
              + (f"≈ {est:,.0f}" if est is not None else "–") + f" | {size} |")
    w("")
    if not mcu:
        w("Instructions were not measured in this run (needs qemu-system-arm and defmt-print, installed by "
          "`scripts/firmware.sh`; `BENCH_MCU=1`).")
        w("")

    # ---- diagnostics
    STRONG = 0.8
    diag = [v for v in variants if parse_variant(v)[0] == "f32"] or variants
    have_mh = "mahalanobis" in dict(bench.baselines)
    sp0 = os.path.join(a.out, first[ds[0]]["dir"], "run", "samples.csv")
    n_samples = 0
    if os.path.exists(sp0):
        with open(sp0) as f:
            n_samples = sum(1 for line in f if re.match(r"\s*[-+.0-9]", line))  # data rows, no header
    w("## What the scores respond to")
    w("")
    w("Spearman correlation ρ, over the test rows, between a score and the reading's distance from the "
      "training mean (standardised units)"
      + (", and between a score and the Mahalanobis (Ledoit-Wolf) score" if have_mh else "")
      + ", averaged over the tasks; and how spread out the generator's samples are ("
      + (f"{n_samples:,} per model from " if n_samples else "from ")
      + "`trainer sample`, the T-step sampler the runtime runs) against the training rows (below 1: less spread "
      "out than the data):")
    w("")
    cols = ["data set"]
    for v in diag:
        cols.append(f"ρ({N[v]}, distance)")
        if have_mh:
            cols.append(f"ρ({N[v]}, Mahalanobis)")
    cols += ["samples: std / data std (median feature)", "samples: median distance / data's"]
    w("| " + " | ".join(cols) + " |")
    w("|---|" + "---:|" * (len(cols) - 1))
    rho, rho_m, spread, radius = {}, {}, {}, {}
    for d in ds:
        cells = []
        for v in diag:
            rho[(d, v)], rho_m[(d, v)], spread[d], radius[d] = diagnostics(bench, d, v)
            cells.append(f"{rho[(d, v)]:+.2f}")
            if have_mh:
                cells.append(f"{rho_m[(d, v)]:+.2f}")
        sp = "–" if np.isnan(spread[d]) else f"{spread[d]:.2f}"
        ra = "–" if np.isnan(radius[d]) else f"{radius[d]:.2f}"
        w(f"| {SHORT[d]} | " + " | ".join(cells) + f" | {sp} | {ra} |")
    w("")
    for v in diag:
        auc = {d: bench.mean(d, v) for d in ds}
        fails = [d for d in ds if auc[d] < 0.5]
        parts = []
        if fails:
            inv = [d for d in fails if rho[(d, v)] < 0]
            parts.append(f"it fails on {join_words(f'{SHORT[d]} (AUROC {auc[d]:.3f})' for d in fails)}: AUROC "
                         f"below 0.5, an anomaly scores above a normal reading less often than not")
            if inv:
                parts.append(f"on {join_words(f'{SHORT[d]} (ρ {rho[(d, v)]:+.2f})' for d in inv)} it also rates "
                             f"readings as more normal the farther they lie from the training mean")
        ok = [d for d in ds if auc[d] >= 0.5]
        if ok:
            parts.append("its AUROC is " + join_words(f"{auc[d]:.3f} on {SHORT[d]}" for d in ok))
        near_dist = [d for d in ok if rho[(d, v)] >= STRONG]
        if near_dist and has("distance"):
            parts.append(f"it ranks the test rows much as the distance from the mean does (ρ ≥ {STRONG}) on "
                         + join_words(f"{SHORT[d]} (distance from mean alone: AUROC {bench.mean(d, 'distance'):.3f})"
                                      for d in near_dist))
        near_mh = [d for d in ok if have_mh and rho_m[(d, v)] >= STRONG]
        if near_mh:
            parts.append(f"much as the Mahalanobis distance does (ρ ≥ {STRONG}) on "
                         + join_words(f"{SHORT[d]} (Mahalanobis alone: AUROC {bench.mean(d, 'mahalanobis'):.3f})"
                                      for d in near_mh))
        weak = [d for d in ok if abs(rho[(d, v)]) < STRONG and not (have_mh and abs(rho_m[(d, v)]) >= STRONG)]
        if weak:
            parts.append("its ranking is not mainly a distance from the mean (|ρ| < "
                         f"{STRONG}) on {join_words(SHORT[d] for d in weak)}")
        w(f"**{N[v]}**: " + "; ".join(parts) + ".")
        w("")
    narrow = [d for d in ds if not np.isnan(spread[d]) and spread[d] < 1]
    wide = [d for d in ds if not np.isnan(spread[d]) and spread[d] >= 1]
    if narrow or wide:
        text = []
        if narrow:
            text.append(f"less spread out than the training rows on {join_words(SHORT[d] for d in narrow)}")
        if wide:
            text.append(f"at least as spread out on {join_words(SHORT[d] for d in wide)}")
        w("The generator's samples are " + "; ".join(text) + " (median feature).")
        w("")

    # ---- where the main score falls short
    losses = [d for d in ds if bench.mean(d, main_v) < best_classical(bench, d)[1]]
    if losses:
        w(f"## Where {N[main_v]} falls short of the best classical detector")
        w("")
        ratio = {x: first[x]["train_rows"] / first[x]["dim"] for x in ds}
        for d in losses:
            bm, bv = best_classical(bench, d)
            per = bench.per_seed(d, main_v)
            ours = float(np.mean(per))
            sd = float(np.std(per, ddof=1)) if len(per) > 1 else 0.0
            text = (f"**{SHORT[d]}**: {ours:.3f} against {bv:.3f} ({BASELINE_NAME[bm]}), a gap of "
                    f"{bv - ours:.3f}; per seed {', '.join(f'{v:.3f}' for v in per)}.")
            others = sorted(((bench.mean(d, m), n) for m, n in bench.classical), reverse=True)
            beaten = [n for v, n in others if v < ours]
            if beaten:
                text += f" It is ahead of {join_words(beaten)}."
            if sd > 0 and bv - ours < 2 * sd:
                text += " The gap is within two standard deviations of its spread over seeds."
            simple = [f"{n} {bench.mean(d, m):.3f}" for m, n in bench.baselines if m in dict(SIMPLE)]
            if simple:
                text += " The simple references on this set: " + ", ".join(simple) + "."
            ours_other = [f"{N[v]} {bench.mean(d, v):.3f}" for v in variants
                          if v != main_v and parse_variant(v)[0] == parse_variant(main_v)[0]]
            if ours_other:
                text += " Our other score: " + ", ".join(ours_other) + "."
            if d == "digits":
                rows = sorted({t["train_rows"] for t in bench.tasks_of(d)})
                text += (f" The training set is one digit's {rows[0]}–{rows[-1]} images in {first[d]['dim']} "
                         "dimensions")
                text += (", the fewest training rows per dimension of the data sets here." if ratio[d] == min(ratio.values())
                         else ".")
            w(text)
            w("")
    else:
        w(f"{N[main_v]} is at least as good as the best classical detector on every set (mean AUROC).")
        w("")
    if a.long:
        task, iters = a.long.split(":")
        dl = os.path.join(a.out, task, "long")
        base_rows = {r["method"]: r for r in bench.rows if r["task"]["dir"] == task}
        with open(os.path.join(a.out, task, "run", "fit-time.json")) as f:
            it0 = json.load(f)["iters"]
        parts = []
        for v in variants:
            path = os.path.join(dl, f"scores-{v}.csv")
            if os.path.exists(path) and v in base_rows:
                sc, y = read_scores(path, "score")
                parts.append(f"{N[v]} {roc_auc_score(y, sc):.3f} (at {it0:,}: {base_rows[v]['auroc']:.3f})")
        if parts:
            bm, bv = best_classical(bench, base_rows[variants[0]]["dataset"])
            w(f"**Longer training.** `{task}` trained for {int(iters):,} instead of {it0:,} iterations: AUROC "
              + "; ".join(parts) + f"; best classical {bv:.3f}.")
            w("")

    # ---- model size and cost
    w("## Model files: training and cost per reading")
    w("")
    w("| data set | D | width × depth | iterations | train s (mean) |")
    w("|---|---:|---:|---:|---:|")
    for d in ds:
        with open(os.path.join(a.out, first[d]["dir"], "run", "fit-time.json")) as f:
            ft = json.load(f)
        fit_s = []
        for t in bench.tasks_of(d):
            p = os.path.join(a.out, t["dir"], "run", "fit-time.json")
            if os.path.exists(p):
                with open(p) as f:
                    fit_s.append(json.load(f)["fit_s"])
        w(f"| {SHORT[d]} | {first[d]['dim']} | {ft['width']} × {ft['depth']} | {ft['iters']} | {np.mean(fit_s):.0f} |")
    w("")
    w("MACs per reading (table *AUROC per unit of MCU cost* above) come from the model file: the energy score "
      "runs the energy network once"
      + (", plus K × D × D for the projections on the eigenvectors of the base's K Gaussian components (K = 1 "
         "for one Gaussian; files that declare `energy_base` = gaussian)" if any(f["base_macs"] for f in dfacts.values()) else "")
      + "; the reconstruction score runs the generator once per draw (after `export` folds the time branch). "
      "The generator and the energy network are both in every file.")
    w("")
    if mcu:
        probe = []
        for v in variants:
            if v in mcu.probe:
                instr, pmacs, _ = mcu.probe[v]
                probe.append(f"`{v}` {instr:,} instructions for {pmacs:,} MACs ({instr / pmacs:.2f} per MAC)")
        w("Instructions per reading are an estimate: the firmware example "
          "(`firmware-examples/cortex-m4f-anomaly`) only takes 2-D readings, so the benchmark's models cannot "
          "run in it as they are. The benchmark trains a 2-D probe model of the same width and depth "
          "(25gaussians, 100 iterations: only the shapes matter), exports it like the benchmark's models, and "
          "`scripts/firmware-report.sh` counts, instruction by instruction under QEMU (`mps2-an386`, "
          "Cortex-M4F), one `anomaly_score` call of each: " + "; ".join(probe)
          + ". The estimate for a data set is the probe's count plus its extra MACs (the wider first layer"
          + (", the larger base" if any(f["base_macs"] for f in dfacts.values()) else "")
          + ") at the probe's instructions per MAC. The firmware table of that run (the two committed default "
          "models, then the probes; its `instr/energy` column is the `anomaly_score` call, whichever score "
          "the file declares, while its MAC columns count the energy network's layers):")
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
        w("| normal digit | " + " | ".join(N[m] for m in bench.methods) + " |")
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
    w(f"![ROC curves of every method (top) and histograms of {N[main_v]} (bottom), per data set]({rel})")
    w("")
    w("Top: ROC curves of the first seed (digits: averaged over the normal digits), AUROC in the legend; "
      "dotted = classical, dash-dotted = distance from mean / Mahalanobis, solid = DDAEBM f32 files, "
      f"dashed = reduced precisions. Bottom: {N[main_v]} scores of normal and anomalous test rows for one task.")
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
    w("- **Classical detectors and references** (`bench/anomaly/baselines.py`, scikit-learn, features "
      "standardised with the training rows' mean and std, standard settings fixed in advance, nothing tuned on "
      "test data): Isolation Forest (200 trees), Local Outlier Factor (novelty mode, 20 neighbours), one-class "
      "SVM (RBF, γ = scale, ν = 0.1), Gaussian mixture (full covariances, reg_covar 10⁻³, 1–8 components chosen "
      "by BIC on the training rows): score = minus each model's `score_samples`"
      + ("; kNN = mean Euclidean distance to the 5 nearest training rows" if "knn" in dict(bench.classical) else "")
      + ". References"
      + (" (not in this run's baseline files)" if len(bench.baselines) < len(BASELINES) else "")
      + ": distance from mean = Euclidean distance from the training mean in standardised units; Mahalanobis "
      "(Ledoit-Wolf) = squared Mahalanobis distance from the training mean with the training rows' covariance "
      "estimated with Ledoit-Wolf shrinkage (`sklearn.covariance.LedoitWolf`; invertible even where a digit "
      f"has about 130 training rows in 64 dimensions). \"Best classical\" is the best of the "
      f"{len(bench.classical)} detectors.")
    fit_args = os.path.join(a.out, first[ds[0]]["dir"], "run", "fit-args")
    if os.path.exists(fit_args):
        with open(fit_args) as f:
            args = f.read().strip()
        prefix = os.path.join(a.out, first[ds[0]]["dir"]) + "/"
        args = args.replace(prefix, "")
        args = re.sub(r"--width \d+ --depth \d+ --iters \d+ --seed \d+", "--width W --depth L --iters N --seed S", args)
        fit = f"`trainer fit {args}`"
    else:
        fit = "`trainer fit --data train.csv --width W --depth L --iters N --seed S`"
    m0 = facts[variants[0]]["meta"]
    sched = ", ".join(f"{k} {m0[k]}" for k in ("steps", "schedule", "beta_min", "beta_max") if k in m0)
    exports = []
    for v in variants:
        prec, _ = parse_variant(v)
        f = facts[v]
        exports.append(f"`export --{prec} --score {f['score']}"
                       + (f" --draws {f['draws']}" if f["score"] == "reconstruction" else "")
                       + " --calibrate calib.csv`")
    w(f"- **DDAEBM**: {fit} (the first data set's arguments; W, L, N per data set in the table above"
      + (f"; the model files declare {sched}" if sched else "")
      + "; the trainer standardises the features and bakes the normalisation into the model file), then, per "
      "variant, " + ", ".join(dict.fromkeys(exports))
      + ", then `export score MODEL test.csv --label-column label`, which runs every row through the no_std "
      "runtime (`Model::anomaly_score`, the score the file declares). The benchmark passes "
      "`--allow-inaccurate` so that a reduced-precision file is measured even when export's default error "
      "bound would refuse it.")
    w(f"- **Metrics**: AUROC and average precision with the anomaly as the positive class, recomputed with "
      f"scikit-learn from the per-row score files (they agree with `export score`'s own numbers to "
      f"{bench.max_json_diff:.1e}).")
    w("- Everything runs on the CPU; Python's BLAS and libtorch use one thread each.")
    w("")

    # ---- sources
    w("## Data sources, attribution and licences")
    w("")
    uci = [d for d in ds if d in UCI]
    w("Nothing is downloaded at run time: the files ship inside the pinned PyPI packages that "
      "`bench/anomaly/setup.sh` installs (`bench/anomaly/requirements.txt`, plus `aeon==1.6.0` without "
      "its dependencies, for one data file)"
      + (", and the UCI sets are CSV files in the repository (`bench/anomaly/data/`)." if uci else "."))
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
    if uci:
        w(f"- **UCI sets** ({join_words(uci)}): UCI Machine Learning Repository data as shipped in the R package "
          "mlbench (Debian package `r-cran-mlbench` 2.1-3-1), converted to CSV with one class (or one rare class) "
          "as the anomaly; `bench/anomaly/data/README.md` gives each conversion.")
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
