#!/usr/bin/env python3
"""Writes the small-data benchmark's splits: handwritten digits (8x8 = 64
pixel columns, the file inside scikit-learn), one digit as the normal class,
trained on fewer rows than columns.

    python bench/small-data/prepare.py --out runs/small-data --seeds 0,1,2 --train-rows 20,40,100 --digits 0,...,9

For every (normal digit d, seed s, training size n) one folder
OUT/n{n}/d{d}/s{s}/ with

    train.csv  the first n of digit d's shuffled rows (features, header px0_0 ... px7_7)
    calib.csv  the next CALIB_ROWS of them (held-out normal rows)
    test.csv   every digit's remaining rows after the first MAX_TRAIN + CALIB_ROWS
               of its shuffled rows, with a `label` column (1 = not digit d)

and OUT/manifest.json listing the tasks. The test and calibration rows of a
(digit, seed) do not depend on n, so the training sizes are compared on the
same test set; the smaller training set is a prefix of the larger one.
Pixels are dequantised with U(0, 1) noise as in bench/anomaly/prepare.py (the
same noise for every method). Nothing is downloaded.
"""

import argparse
import json
import os

import numpy as np
from sklearn.datasets import load_digits

CALIB_ROWS = 30


def write_csv(path, x, names, labels=None):
    names = list(names)
    fmt = ["%.7g"] * x.shape[1]
    if labels is not None:
        x = np.column_stack([x, labels])
        names = names + ["label"]
        fmt = fmt + ["%d"]
    np.savetxt(path, x, delimiter=",", header=",".join(names), comments="", fmt=fmt)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/small-data")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--train-rows", default="20,40,100")
    ap.add_argument("--digits", default="0,1,2,3,4,5,6,7,8,9")
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    sizes = [int(n) for n in a.train_rows.split(",")]
    digits = [int(d) for d in a.digits.split(",")]
    max_train = max(sizes)
    dg = load_digits()
    x0, y = dg.data, dg.target
    names = [f"px{r}_{c}" for r in range(8) for c in range(8)]
    manifest = {"calib_rows": CALIB_ROWS, "dim": int(x0.shape[1]), "tasks": []}
    for s in seeds:
        rng = np.random.Generator(np.random.PCG64(3000 + s))
        x = x0 + rng.uniform(0.0, 1.0, size=x0.shape)
        order = {k: rng.permutation(np.flatnonzero(y == k)) for k in range(10)}
        for k in range(10):
            if len(order[k]) < max_train + CALIB_ROWS + 10:
                raise SystemExit(f"digit {k} has {len(order[k])} rows, too few for --train-rows {max_train}")
        test_rows = np.concatenate([order[k][max_train + CALIB_ROWS :] for k in range(10)])
        for d in digits:
            rows = order[d]
            calib = rows[max_train : max_train + CALIB_ROWS]
            test_y = (y[test_rows] != d).astype(int)
            for n in sizes:
                out = os.path.join(a.out, f"n{n}", f"d{d}", f"s{s}")
                os.makedirs(out, exist_ok=True)
                write_csv(os.path.join(out, "train.csv"), x[rows[:n]], names)
                write_csv(os.path.join(out, "calib.csv"), x[calib], names)
                write_csv(os.path.join(out, "test.csv"), x[test_rows], names, test_y)
                manifest["tasks"].append(
                    dict(
                        dir=os.path.relpath(out, a.out),
                        train_rows=n,
                        digit=d,
                        seed=s,
                        test_normal=int((test_y == 0).sum()),
                        test_anomalies=int((test_y == 1).sum()),
                    )
                )
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
