#!/usr/bin/env python3
"""Writes the anomaly benchmark's data splits as CSV files.

    python bench/anomaly/prepare.py --out runs/anomaly-bench --seeds 0,1,2 --digits 0,1,...,9

For every task (data set, normal class, seed) one folder OUT/TASK/ with

    train.csv  normal rows only, features only, header
    calib.csv  held-out normal rows, features only, header
    test.csv   held-out normal rows + anomalous rows, features and a final
               `label` column (0 normal, 1 anomaly)

and OUT/manifest.json listing the tasks and describing each data set.
Everything is a pure function of the arguments (numpy's PCG64 seeded with
the task's seed; the UCI sets: numpy's RandomState(seed)); nothing is
downloaded: breast cancer and digits are the files inside scikit-learn, the
time series is a file inside the aeon wheel (installed, not imported, by
bench/anomaly/setup.sh), and the seven UCI sets (ionosphere, pima, breastw,
glass, vehicle, vowel, letter) are the CSV files in bench/anomaly/data/ (see
its README.md, the "dev pool"). `--datasets` takes data set names, `dev`
(the seven UCI sets) and `all` (all ten).
"""

import argparse
import importlib.util
import json
import os
import sys

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits

# The time series (b): UCR Time Series Anomaly Archive, series 135
# (InternalBleeding16), as shipped in the aeon wheel.
AEON_SERIES = "datasets/data/KDD-TSAD_135/135_UCR_Anomaly_InternalBleeding16_TEST.csv"
SERIES_TRAIN_END = 1200  # the anomaly-free training prefix (the rows of aeon's ..._TRAIN.csv)
SERIES_CALIB_START = 1000  # prefix rows [1000, 1200) are held out for calibration
SERIES_WINDOW = 32  # samples per window (the cycle is ~180 samples, the anomaly 12)
SERIES_TRAIN_STRIDE = 1
SERIES_TEST_STRIDE = 2

DIGITS_FRACTIONS = (0.74, 0.12)  # train, calib; the rest of each digit is test
# (the trainer needs >= 2 rows per column: 0.74 x 174 -> 129 >= 128 for 64 pixels; calibration
# in `export --calibrate` needs >= 20 rows: 0.12 x 174 -> 21)
BC_FRACTIONS = (0.60, 0.10)  # of the benign rows; every malignant row is test

# The seven UCI sets in bench/anomaly/data/ (NAME.csv: numeric features, last column `label`,
# 1 = anomaly): title, normal class, anomalies, source data set (R package mlbench).
UCI_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
UCI = {
    "ionosphere": ("Ionosphere radar returns", 'returns labelled "good"', 'returns labelled "bad"', "Ionosphere"),
    "pima": ("Pima Indians diabetes", "diabetes test negative", "diabetes test positive", "PimaIndiansDiabetes"),
    "breastw": (
        "Wisconsin breast cancer (original, cytology)",
        "benign",
        "malignant",
        "BreastCancer, without the rows with a missing value and the Id column",
    ),
    "glass": ("Glass identification", "glass types 1, 2, 3, 5 and 7", "type 6, tableware", "Glass"),
    "vehicle": ("Vehicle silhouettes", "bus, opel and saab", "van", "Vehicle"),
    "vowel": (
        "Vowel recognition (Deterding)",
        "ten of the eleven vowels",
        'the vowel "hed"',
        "Vowel, without the speaker column V1",
    ),
    "letter": (
        "Letter recognition",
        "letters A-E, every such row",
        "other letters, a fixed random draw",
        "LetterRecognition",
    ),
}
UCI_FRACTIONS = (0.60, 0.20)  # of the normal rows; the rest of them and every anomaly are test
DATASETS = ["breast_cancer", "ucr_internal_bleeding", "digits"] + list(UCI)


def write_csv(path, x, names, labels=None):
    names = list(names)
    if labels is not None:
        x = np.column_stack([x, labels])
        names = names + ["label"]
    fmt = ["%.7g"] * (x.shape[1] - (labels is not None)) + (["%d"] if labels is not None else [])
    np.savetxt(path, x, delimiter=",", header=",".join(names), comments="", fmt=fmt)


def split_rows(n, fractions, rng):
    idx = rng.permutation(n)
    n_train = int(round(n * fractions[0]))
    n_calib = int(round(n * fractions[1]))
    return idx[:n_train], idx[n_train : n_train + n_calib], idx[n_train + n_calib :]


def write_task(out, name, train, calib, test_x, test_y, names, meta, manifest):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    write_csv(os.path.join(d, "train.csv"), train, names)
    write_csv(os.path.join(d, "calib.csv"), calib, names)
    write_csv(os.path.join(d, "test.csv"), test_x, names, test_y.astype(int))
    meta = dict(meta)
    meta.update(
        dir=name,
        train_rows=int(len(train)),
        calib_rows=int(len(calib)),
        test_normal=int((test_y == 0).sum()),
        test_anomalies=int((test_y == 1).sum()),
        dim=int(train.shape[1]),
    )
    manifest["tasks"].append(meta)


def breast_cancer(out, seeds, manifest):
    bc = load_breast_cancer()
    x, y = bc.data, bc.target  # target 1 = benign, 0 = malignant
    names = [n.replace(" ", "_") for n in bc.feature_names]
    benign, malignant = x[y == 1], x[y == 0]
    for s in seeds:
        rng = np.random.Generator(np.random.PCG64(1000 + s))
        tr, ca, te = split_rows(len(benign), BC_FRACTIONS, rng)
        test_x = np.vstack([benign[te], malignant])
        test_y = np.r_[np.zeros(len(te)), np.ones(len(malignant))]
        meta = dict(dataset="breast_cancer", group="breast_cancer", seed=s)
        write_task(out, f"breast_cancer/s{s}", benign[tr], benign[ca], test_x, test_y, names, meta, manifest)
    manifest["datasets"]["breast_cancer"] = dict(
        title="Wisconsin diagnostic breast cancer",
        rows=int(len(x)),
        dim=int(x.shape[1]),
        normal="benign (357)",
        anomalies="malignant (212)",
        split=f"benign rows shuffled per seed: {BC_FRACTIONS[0]:.0%} train, {BC_FRACTIONS[1]:.0%} calib, "
        f"the rest test; test also holds all 212 malignant rows",
        source="sklearn.datasets.load_breast_cancer (file shipped inside scikit-learn)",
    )


def digits(out, seeds, normal_digits, manifest):
    dg = load_digits()
    x0, y = dg.data, dg.target
    names = [f"px{r}_{c}" for r in range(8) for c in range(8)]
    for s in seeds:
        rng = np.random.Generator(np.random.PCG64(2000 + s))
        # Dequantisation: the pixels are integers 0..16 and many are always 0
        # within a digit (a constant column, which the trainer refuses); every
        # method sees the same x + U(0, 1) noise in every split.
        x = x0 + rng.uniform(0.0, 1.0, size=x0.shape)
        parts = {}
        for k in range(10):
            rows = np.flatnonzero(y == k)
            tr, ca, te = split_rows(len(rows), DIGITS_FRACTIONS, rng)
            parts[k] = (rows[tr], rows[ca], rows[te])
        test_rows = np.concatenate([parts[k][2] for k in range(10)])
        for d in normal_digits:
            test_y = (y[test_rows] != d).astype(int)
            meta = dict(dataset="digits", group=f"digits-{d}", normal_digit=d, seed=s)
            write_task(
                out, f"digits/d{d}/s{s}", x[parts[d][0]], x[parts[d][1]], x[test_rows], test_y, names, meta, manifest
            )
    manifest["datasets"]["digits"] = dict(
        title="Handwritten digits 8x8",
        rows=int(len(x0)),
        dim=int(x0.shape[1]),
        normal="one digit (about 180 rows), each of the ten in turn",
        anomalies="the other nine digits",
        split=f"each digit's rows shuffled per seed: {DIGITS_FRACTIONS[0]:.0%} train, {DIGITS_FRACTIONS[1]:.0%} "
        f"calib, the rest test; the test set is the union of every digit's test part (the same for every "
        f"choice of normal digit); pixels dequantised with U(0, 1) noise",
        source="sklearn.datasets.load_digits (file shipped inside scikit-learn)",
    )


def uci(out, name, seeds, manifest):
    path = os.path.join(UCI_DIR, f"{name}.csv")
    with open(path) as f:
        header = f.readline().strip().split(",")
    assert header[-1] == "label", f"{path}: the last column must be `label`"
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    x, y = data[:, :-1], data[:, -1].astype(int)
    normal, anomalous = x[y == 0], x[y == 1]
    # A column constant on every normal row is constant in every train.csv, which the trainer
    # refuses; it is left out of every task of the set, for every method (ionosphere: V1 is 1 on
    # every "good" return, V2 is 0 on every row).
    keep = np.ptp(normal, axis=0) > 0
    names = [n for n, k in zip(header[:-1], keep) if k]
    dropped = [n for n, k in zip(header[:-1], keep) if not k]
    normal, anomalous = normal[:, keep], anomalous[:, keep]
    for s in seeds:
        tr, ca, te = split_rows(len(normal), UCI_FRACTIONS, np.random.RandomState(s))
        test_x = np.vstack([normal[te], anomalous])
        test_y = np.r_[np.zeros(len(te)), np.ones(len(anomalous))]
        meta = dict(dataset=name, group=name, seed=s)
        write_task(out, f"{name}/s{s}", normal[tr], normal[ca], test_x, test_y, names, meta, manifest)
    title, normal_text, anomaly_text, source = UCI[name]
    manifest["datasets"][name] = dict(
        title=title,
        rows=int(len(x)),
        dim=len(names),
        normal=f"{normal_text} ({len(normal)})",
        anomalies=f"{anomaly_text} ({len(anomalous)})",
        split=f"normal rows shuffled per seed (numpy RandomState(seed).permutation): {UCI_FRACTIONS[0]:.0%} train, "
        f"{UCI_FRACTIONS[1]:.0%} calib, the rest test; test also holds all {len(anomalous)} anomalies"
        + (f"; left out, constant on every normal row: {', '.join(dropped)}" if dropped else ""),
        source=f"bench/anomaly/data/{name}.csv (see its README.md): UCI data as shipped in the R package mlbench "
        f"(Debian package r-cran-mlbench 2.1-3-1), data set {source}",
        dropped_columns=dropped,
    )


def series_file():
    spec = importlib.util.find_spec("aeon")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("prepare.py: the aeon package (data files only) is missing; run bench/anomaly/setup.sh")
    path = os.path.join(spec.submodule_search_locations[0], AEON_SERIES)
    if not os.path.exists(path):
        sys.exit(f"prepare.py: {path} is missing; run bench/anomaly/setup.sh")
    return path


def windows(v, start, end, length, stride):
    starts = np.arange(start, end - length + 1, stride)
    return starts, np.stack([v[a : a + length] for a in starts])


def series(out, seeds, manifest):
    path = series_file()
    d = np.genfromtxt(path, delimiter=",", names=True)
    v, lab = d["value"].astype(float), d["is_anomaly"].astype(int)
    assert lab[:SERIES_TRAIN_END].sum() == 0, "the training prefix must be anomaly-free"
    w = SERIES_WINDOW
    names = [f"v{k}" for k in range(w)]
    _, train = windows(v, 0, SERIES_CALIB_START, w, SERIES_TRAIN_STRIDE)
    _, calib = windows(v, SERIES_CALIB_START, SERIES_TRAIN_END, w, SERIES_TRAIN_STRIDE)
    starts, test = windows(v, SERIES_TRAIN_END, len(v), w, SERIES_TEST_STRIDE)
    test_y = np.array([lab[a : a + w].max() for a in starts])
    anomaly = np.flatnonzero(lab)
    for s in seeds:
        meta = dict(dataset="ucr_internal_bleeding", group="ucr_internal_bleeding", seed=s)
        write_task(out, f"ucr_internal_bleeding/s{s}", train, calib, test, test_y, names, meta, manifest)
    manifest["datasets"]["ucr_internal_bleeding"] = dict(
        title="UCR anomaly archive #135 InternalBleeding16 (physiological series, windows)",
        rows=int(len(v)),
        dim=w,
        normal=f"windows of the anomaly-free prefix [0, {SERIES_TRAIN_END})",
        anomalies=f"test windows that overlap the labelled anomaly (samples {anomaly.min()}..{anomaly.max()})",
        split=f"windows of {w} samples; train: prefix [0, {SERIES_CALIB_START}) stride {SERIES_TRAIN_STRIDE}; "
        f"calib: [{SERIES_CALIB_START}, {SERIES_TRAIN_END}) stride {SERIES_TRAIN_STRIDE}; test: "
        f"[{SERIES_TRAIN_END}, {len(v)}) stride {SERIES_TEST_STRIDE}, label 1 when the window holds an "
        f"anomalous sample. The data are the same for every seed (the seed varies the models only).",
        source="aeon 1.6.0 wheel, aeon/" + AEON_SERIES,
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/anomaly-bench")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    ap.add_argument("--digit-seeds", default=None, help="seeds of the digits tasks (default: --seeds)")
    ap.add_argument("--digits", default="0,1,2,3,4,5,6,7,8,9", help="normal digits")
    ap.add_argument(
        "--datasets",
        default="breast_cancer,ucr_internal_bleeding,digits",
        help=f"comma-separated, of {', '.join(DATASETS)}; dev = the seven UCI sets, all = all ten",
    )
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",") if s]
    digit_seeds = [int(s) for s in a.digit_seeds.split(",") if s] if a.digit_seeds else seeds
    normal_digits = [int(d) for d in a.digits.split(",") if d]
    wanted = []
    for w in a.datasets.split(","):
        wanted += DATASETS if w == "all" else list(UCI) if w == "dev" else [w] if w else []
    unknown = sorted(set(wanted) - set(DATASETS))
    if unknown:
        sys.exit(f"prepare.py: unknown data set {', '.join(unknown)} (known: {', '.join(DATASETS)}, dev, all)")
    os.makedirs(a.out, exist_ok=True)
    manifest = {"tasks": [], "datasets": {}}
    if "breast_cancer" in wanted:
        breast_cancer(a.out, seeds, manifest)
    if "ucr_internal_bleeding" in wanted:
        series(a.out, seeds, manifest)
    if "digits" in wanted:
        digits(a.out, digit_seeds, normal_digits, manifest)
    for name in UCI:
        if name in wanted:
            uci(a.out, name, seeds, manifest)
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    for t in manifest["tasks"]:
        print(t["dir"])


if __name__ == "__main__":
    main()
