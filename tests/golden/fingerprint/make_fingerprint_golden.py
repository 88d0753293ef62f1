"""Write the golden model files and digests of tests/test_fingerprint_golden.py.

Run with the mnlogit tree whose digests are the reference (they were written by `main`
at 88edd99, before issue-tall8 changed how the preparation and the fingerprint read the
data; regenerate only when the digests are meant to change, which breaks every saved
model's refit checks). They are files of model-file format version 1 with scheme-1
fingerprints (no "scheme" key), as mnlogit 0.1 wrote them: the tests that a newer mnlogit
still reads such files and checks their data rely on that, so a tree that writes scheme 2
(issue-print11 and later) must not regenerate them:

    PYTHONPATH=<tree>/src python tests/golden/fingerprint/make_fingerprint_golden.py

The data are made by integer arithmetic and one correctly rounded division (no random
generator, no libm), so they are the same numbers on every platform.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _uniform(i: np.ndarray, salt: int) -> np.ndarray:
    """Numbers in [-0.5, 0.5) from a splitmix64-style hash of the integers ``i`` (uint64
    wrap-around arithmetic and an exact division by 2**53: the same on every machine)."""
    h = (i.astype(np.uint64) + np.uint64(salt)) * np.uint64(0x9E3779B97F4A7C15)
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return (h >> np.uint64(11)).astype(np.float64) / 2.0**53 - 0.5


def golden_data(n: int = 220_000, p: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``X`` (n, p) float64 -- 17.6 MB, over the fingerprint's 16 MiB, so sampled --
    labels (n,) in 0..3 and weights (n,) in {1, 2, 3}."""
    X = _uniform(np.arange(n * p), 1).reshape(n, p)
    r = np.arange(n)
    # labels tied to the first two columns with noise, so the classes are not separated
    score = X[:, 0] + 0.5 * X[:, 1] + 2.0 * _uniform(r, 2)
    y = np.digitize(score, [-0.4, 0.0, 0.4])
    w = (1 + r % 3).astype(np.float64)
    return X, y, w


def main() -> None:
    from mnlogit import MultinomialLogit

    X, y, w = golden_data()
    digests = {}
    for name, weights in (("unweighted", None), ("weighted", w)):
        model = MultinomialLogit().fit(X, y, sample_weight=weights)
        model.save(HERE / f"model_{name}.mnlogit")
        digests[name] = model.fitted_.fingerprint.to_dict()
    (HERE / "digests.json").write_text(json.dumps(digests, indent=1) + "\n")
    print("written with", sys.modules["mnlogit"].__file__)


if __name__ == "__main__":
    main()
