"""Synthetic Parquet datasets for the Dask benchmarks (written file by file, never whole).

``n`` rows of ``p`` float64 features ``x0 .. x{p-1}`` and an integer label ``y`` in
``0 .. K-1`` drawn from a multinomial logit with fixed true coefficients, in ``files``
Parquet files of ``n / files`` rows. The same seed gives the same files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["make_parquet"]


def make_parquet(directory: Path, n: int, p: int, K: int, files: int, seed: int = 0) -> list[str]:
    """Write the dataset (or reuse it when ``directory`` already holds the same one).

    Returns
    -------
    list of str
        The feature column names.
    """
    import pandas as pd

    directory.mkdir(parents=True, exist_ok=True)
    spec = {"n": n, "p": p, "K": K, "files": files, "seed": seed}
    marker = directory / "spec.json"
    names = [f"x{j}" for j in range(p)]
    if marker.exists() and json.loads(marker.read_text()) == spec:
        return names
    for old in directory.glob("*.parquet"):
        old.unlink()
    rng = np.random.default_rng(seed)
    B = rng.normal(size=(p, K)) * (1.5 / np.sqrt(p))
    b = rng.normal(size=K) * 0.3
    bounds = np.linspace(0, n, files + 1).astype(np.int64)
    for i in range(files):
        m = int(bounds[i + 1] - bounds[i])
        part_rng = np.random.default_rng([seed, i])
        X = part_rng.normal(size=(m, p))
        eta = X @ B + b + part_rng.gumbel(size=(m, K))
        frame = pd.DataFrame(X, columns=names)
        frame["y"] = np.argmax(eta, axis=1).astype(np.int64)
        frame.to_parquet(directory / f"part{i:04d}.parquet", index=False)
    marker.write_text(json.dumps(spec))
    return names
