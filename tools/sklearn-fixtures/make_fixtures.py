#!/usr/bin/python3
"""Reference outputs from scikit-learn for libs/models' faithfulness tests.

Writes small seeded datasets and what scikit-learn computes on them into libs/models/tests/fixtures/*.json.
Run with Debian's interpreter (see README.md); the output is deterministic for a given scikit-learn/numpy.
"""
import json
import os
import sys

import numpy as np
import sklearn
from sklearn.cluster import DBSCAN
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import RobustScaler

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'libs', 'models', 'tests', 'fixtures')


def blobs(rng, n, d, centres, spread, outliers=0, box=8.0):
    """Gaussian blobs around the given centres plus uniform outliers in [-box, box]^d (label 1)."""
    k = len(centres)
    sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
    parts = [rng.normal(loc=c, scale=s, size=(m, d)) for c, s, m in zip(centres, spread, sizes)]
    X = np.vstack(parts)
    y = np.zeros(len(X), dtype=int)
    if outliers:
        X = np.vstack([X, rng.uniform(-box, box, size=(outliers, d))])
        y = np.concatenate([y, np.ones(outliers, dtype=int)])
    return X, y


def with_duplicates(rng, X, groups):
    """Appends exact copies: `groups` is a list of copy counts, each for a randomly chosen existing row."""
    extra = []
    for copies in groups:
        i = rng.integers(len(X))
        extra.extend([X[i]] * copies)
    return np.vstack([X, np.array(extra)]) if extra else X


def shuffled(rng, X, y=None):
    p = rng.permutation(len(X))
    return (X[p], y[p]) if y is not None else X[p]


def write(name, payload):
    payload = {'sklearn': sklearn.__version__, 'numpy': np.__version__, **payload}
    path = os.path.join(OUT, name)
    with open(path, 'w') as f:
        json.dump(payload, f, separators=(',', ':'))
    print(f'{path}: {os.path.getsize(path)} bytes', file=sys.stderr)


def lof_cases():
    cases = []
    rng = np.random.default_rng(11)
    X, _ = blobs(rng, 400, 3, [[0, 0, 0], [4, 4, 0], [-3, 3, 2]], [0.6, 1.0, 0.4], outliers=20)
    # A pair, a triple, and a group larger than k (scikit-learn's duplicate corner case).
    X = shuffled(rng, with_duplicates(rng, X, [2, 3, 25]))
    test, _ = blobs(rng, 100, 3, [[0, 0, 0], [4, 4, 0]], [0.8, 1.2], outliers=30)
    test = np.vstack([test, X[:5]])  # exact copies of training rows
    cases.append(('3d-k20-duplicates', X, test, 20))

    rng = np.random.default_rng(12)
    X, _ = blobs(rng, 480, 5, [np.zeros(5), np.full(5, 3.0)], [1.0, 0.5], outliers=20)
    X = shuffled(rng, with_duplicates(rng, X, [2]))
    test, _ = blobs(rng, 80, 5, [np.zeros(5), np.full(5, 3.0)], [1.5, 0.7], outliers=20)
    cases.append(('5d-k10', X, test, 10))

    out = []
    for name, X, test, k in cases:
        lof = LocalOutlierFactor(n_neighbors=k).fit(X)
        nov = LocalOutlierFactor(n_neighbors=k, novelty=True).fit(X)
        out.append(
            {
                'name': name,
                'nNeighbors': k,
                'X': X.tolist(),
                'negativeOutlierFactor': lof.negative_outlier_factor_.tolist(),
                'test': test.tolist(),
                'noveltyScoreSamples': nov.score_samples(test).tolist(),
            }
        )
    write('lof.json', {'cases': out})


def dbscan_cases():
    out = []
    rng = np.random.default_rng(21)
    X, _ = blobs(rng, 450, 2, [[0, 0], [3, 0], [1.5, 2.5]], [0.5, 0.5, 0.3], outliers=40, box=5)
    X = shuffled(rng, with_duplicates(rng, X, [3, 6]))
    out.append(('2d', X, 0.3, 5))
    out.append(('2d-wide', X, 0.6, 10))
    rng = np.random.default_rng(22)
    X, _ = blobs(rng, 500, 4, [np.zeros(4), np.full(4, 2.5), [3, -3, 0, 1]], [0.7, 0.7, 0.5], outliers=40, box=6)
    X = shuffled(rng, X)
    out.append(('4d', X, 0.9, 6))
    write(
        'dbscan.json',
        {
            'cases': [
                {'name': name, 'eps': eps, 'minSamples': m, 'X': X.tolist(), 'labels': DBSCAN(eps=eps, min_samples=m).fit(X).labels_.tolist()}
                for name, X, eps, m in out
            ]
        },
    )


def gmm_cases():
    out = []
    specs = [
        ('3d-k3', 13, 3, [[0, 0, 0], [3, 3, 0], [-2, 3, 2]], [0.7, 1.0, 0.5], 3),
        ('5d-k4', 14, 5, [np.zeros(5), np.full(5, 2.0), [3, -2, 0, 1, 0], [-3, 0, 2, 0, -1]], [1.0, 0.6, 0.8, 0.5], 4),
    ]
    for name, seed, d, centres, spread, k in specs:
        rng = np.random.default_rng(seed)
        X, _ = blobs(rng, 540, d, centres, spread, outliers=20)
        # Correlate features so full and diagonal covariances fit differently.
        A = np.eye(d) + 0.4 * rng.normal(size=(d, d))
        X = shuffled(rng, X @ A)
        test, _ = blobs(rng, 60, d, centres, spread, outliers=10)
        test = test @ A
        weights = np.full(k, 1.0 / k)
        means = X[rng.choice(len(X), size=k, replace=False)]
        for cov_type in ('full', 'diag'):
            if cov_type == 'full':
                precisions = np.array([np.linalg.inv(np.cov(X.T))] * k)
            else:
                precisions = np.array([1.0 / X.var(axis=0)] * k)
            gm = GaussianMixture(
                n_components=k,
                covariance_type=cov_type,
                weights_init=weights,
                means_init=means,
                precisions_init=precisions,
                tol=1e-3,
                reg_covar=1e-6,
                max_iter=100,
            ).fit(X)
            out.append(
                {
                    'name': f'{name}-{cov_type}',
                    'covarianceType': cov_type,
                    'X': X.tolist(),
                    'test': test.tolist(),
                    'init': {'weights': weights.tolist(), 'means': means.tolist(), 'precisions': precisions.tolist()},
                    'nIter': int(gm.n_iter_),
                    'converged': bool(gm.converged_),
                    'lowerBound': float(gm.lower_bound_),
                    'meanLogLikelihood': float(gm.score(X)),
                    'scoreSamples': gm.score_samples(X).tolist(),
                    'testScoreSamples': gm.score_samples(test).tolist(),
                    'weights': gm.weights_.tolist(),
                    'means': gm.means_.tolist(),
                }
            )
    write('gaussian-mixture.json', {'cases': out})


def iforest_cases():
    out = []
    # Outliers drawn in a box that overlaps the blobs, so ROC-AUC sits near 0.92–0.94 rather than at a trivial 1.0.
    specs = [('4d', 31, 4, 500, 25, 3.5), ('8d', 32, 8, 600, 30, 2.5)]
    for name, seed, d, n, n_out, box in specs:
        rng = np.random.default_rng(seed)
        X, y = blobs(rng, n, d, [np.zeros(d), np.full(d, 2.0)], [1.0, 0.7], outliers=n_out, box=box)
        X, y = shuffled(rng, X, y)
        forest = IsolationForest(n_estimators=100, max_samples='auto', random_state=0).fit(X)
        s = forest.score_samples(X)
        out.append(
            {
                'name': name,
                'X': X.tolist(),
                'y': y.tolist(),
                'scoreSamples': s.tolist(),
                'offset': float(forest.offset_),
                'auc': float(roc_auc_score(y, -s)),
            }
        )
    write('isolation-forest.json', {'cases': out})


def scaler_cases():
    rng = np.random.default_rng(41)
    X = np.column_stack(
        [rng.lognormal(3, 1, 301), rng.normal(0, 5, 301), np.full(301, 7.0), rng.integers(0, 4, 301).astype(float)]
    )
    sc = RobustScaler().fit(X)
    sc2 = RobustScaler(quantile_range=(10, 90)).fit(X)
    write(
        'robust-scaler.json',
        {
            'X': X.tolist(),
            'center': sc.center_.tolist(),
            'scale': sc.scale_.tolist(),
            'transformed': sc.transform(X).tolist(),
            'scale10to90': sc2.scale_.tolist(),
        },
    )


if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    lof_cases()
    dbscan_cases()
    gmm_cases()
    iforest_cases()
    scaler_cases()
