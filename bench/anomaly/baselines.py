#!/usr/bin/env python3
"""Classical anomaly detectors on the benchmark's splits (scikit-learn).

    python bench/anomaly/baselines.py --out runs/anomaly-bench [--tasks DIR,DIR]

For every task folder of OUT/manifest.json (bench/anomaly/prepare.py): the
features are standardised with train.csv's mean and std, each method is fit
on train.csv only, and test.csv is scored (higher = more anomalous). Writes

    TASK/baselines/scores.csv    one row per test row: label, then a column per method
    TASK/baselines/summary.json  {method: {auroc, average_precision, fit_s, score_s, params}}

Settings are scikit-learn's standard ones, fixed in advance (nothing is
tuned on test data); the Gaussian mixture picks its number of components
(1-8) by BIC on the training rows.

Methods (the column / key names):

    iforest      Isolation Forest, 200 trees
    lof          Local Outlier Factor, novelty mode, 20 neighbours
    ocsvm        one-class SVM, RBF kernel, gamma = scale, nu = 0.1
    gmm          Gaussian mixture, full covariances, 1-8 components by BIC
                 (reg_covar 1e-3)
    knn          mean Euclidean distance to the 5 nearest training rows
    distance     Euclidean distance from the training mean (standardised units)
    mahalanobis  squared Mahalanobis distance from the training mean, with the
                 training rows' covariance estimated with Ledoit-Wolf
                 shrinkage (invertible even with fewer rows than dimensions)
"""

import argparse
import json
import os
import time

import numpy as np
from sklearn.covariance import LedoitWolf
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

METHODS = ["iforest", "lof", "ocsvm", "gmm", "knn", "distance", "mahalanobis"]
GMM_COMPONENTS = range(1, 9)
KNN_NEIGHBOURS = 5


def read_csv(path):
    with open(path) as f:
        header = f.readline().strip().split(",")
    x = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return header, x


def load_task(d):
    _, train = read_csv(os.path.join(d, "train.csv"))
    header, test = read_csv(os.path.join(d, "test.csv"))
    assert header[-1] == "label"
    return train, test[:, :-1], test[:, -1].astype(int)


def gmm_by_bic(x, seed):
    best = None
    for k in GMM_COMPONENTS:
        if k * 5 > len(x):
            break
        g = GaussianMixture(n_components=k, covariance_type="full", reg_covar=1e-3, random_state=seed)
        g.fit(x)
        bic = g.bic(x)
        if best is None or bic < best[0]:
            best = (bic, g)
    return best[1]


def fit_score(method, train, test, seed):
    """Returns (scores of the test rows, higher = more anomalous; parameters)."""
    if method == "iforest":
        m = IsolationForest(n_estimators=200, random_state=seed).fit(train)
        return -m.score_samples(test), {"n_estimators": 200}
    if method == "lof":
        k = min(20, len(train) - 1)
        m = LocalOutlierFactor(n_neighbors=k, novelty=True).fit(train)
        return -m.score_samples(test), {"n_neighbors": k, "novelty": True}
    if method == "ocsvm":
        m = OneClassSVM(kernel="rbf", gamma="scale", nu=0.1).fit(train)
        return -m.score_samples(test), {"kernel": "rbf", "gamma": "scale", "nu": 0.1}
    if method == "gmm":
        m = gmm_by_bic(train, seed)
        return -m.score_samples(test), {
            "n_components": int(m.n_components),
            "covariance_type": "full",
            "reg_covar": m.reg_covar,
        }
    if method == "knn":
        k = min(KNN_NEIGHBOURS, len(train))
        dist, _ = NearestNeighbors(n_neighbors=k).fit(train).kneighbors(test)
        return dist.mean(axis=1), {"n_neighbors": k, "aggregate": "mean distance", "units": "standardised"}
    if method == "distance":
        mean = train.mean(axis=0)
        return np.linalg.norm(test - mean, axis=1), {"centre": "training mean", "units": "standardised"}
    if method == "mahalanobis":
        m = LedoitWolf().fit(train)
        # LedoitWolf.mahalanobis returns the squared distance (ranks like the distance itself).
        return m.mahalanobis(test), {"covariance": "Ledoit-Wolf", "shrinkage": float(m.shrinkage_), "squared": True}
    raise ValueError(method)


def run_task(out, task):
    d = os.path.join(out, task["dir"])
    train, test, y = load_task(d)
    scaler = StandardScaler().fit(train)
    train_s, test_s = scaler.transform(train), scaler.transform(test)
    cols, summary = [y.astype(float)], {}
    for m in METHODS:
        t0 = time.perf_counter()
        s, params = fit_score(m, train_s, test_s, task["seed"])
        dt = time.perf_counter() - t0
        cols.append(s)
        summary[m] = {
            "auroc": float(roc_auc_score(y, s)),
            "average_precision": float(average_precision_score(y, s)),
            "fit_and_score_s": round(dt, 4),
            "params": params,
        }
    od = os.path.join(d, "baselines")
    os.makedirs(od, exist_ok=True)
    np.savetxt(
        os.path.join(od, "scores.csv"),
        np.column_stack(cols),
        delimiter=",",
        header=",".join(["label"] + METHODS),
        comments="",
        fmt=["%d"] + ["%.9g"] * len(METHODS),
    )
    with open(os.path.join(od, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return summary


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/anomaly-bench")
    ap.add_argument("--tasks", default=None, help="comma-separated task folders (default: all in the manifest)")
    a = ap.parse_args()
    with open(os.path.join(a.out, "manifest.json")) as f:
        manifest = json.load(f)
    only = set(a.tasks.split(",")) if a.tasks else None
    for task in manifest["tasks"]:
        if only and task["dir"] not in only:
            continue
        s = run_task(a.out, task)
        print(task["dir"], " ".join(f"{m}={s[m]['auroc']:.3f}" for m in METHODS), flush=True)


if __name__ == "__main__":
    main()
