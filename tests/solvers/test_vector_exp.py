"""The compiled kernels' vectorizable ``exp`` (:mod:`mnlogit.solvers.vector_exp`) against
NumPy's ``np.exp`` over its whole range: within 1 ulp where the result is a normal number,
within one subnormal step where it is subnormal, 0, inf and NaN where NumPy's are."""

from __future__ import annotations

import numpy as np

from mnlogit.objective.compiled import compiled
from mnlogit.solvers.vector_exp import exp_lanes

TINY = np.finfo(np.float64).tiny  # the smallest normal number
STEP = np.nextafter(0.0, 1.0)  # the smallest subnormal one


@compiled
def _exp_all(x, out):  # type: ignore[no-untyped-def]
    """``exp_lanes`` over a contiguous array: the vectorized loop the kernels run."""
    for q in range(x.size):
        out[q] = exp_lanes(x[q])


def _arguments() -> np.ndarray:
    rng = np.random.default_rng(0)
    edges = [
        0.0, -0.0, 1e-300, -1e-300, 5e-324, np.log(2) / 2, -np.log(2) / 2,  # around 0
        np.log(TINY), np.nextafter(np.log(TINY), 0), np.nextafter(np.log(TINY), -1),
        -745.1332191019411, -745.1332191019412, -745.13321910194122, -745.2, -746.0, -1e4,
        709.782712893384, 709.7827128933841, 709.79, 1e4,  # overflow
        -np.inf, np.inf,
    ]  # fmt: skip
    halves = (np.arange(-1080, 1030) + 0.5) * np.log(2)  # reductions' rounding boundaries
    return np.concatenate(
        [
            rng.uniform(-800.0, 0.0, 400_000),  # where the softmax's arguments lie
            rng.uniform(-1.0, 1.0, 200_000),
            rng.uniform(-746.0, -700.0, 100_000),  # subnormal and near it
            rng.uniform(0.0, 720.0, 100_000),
            -np.exp(rng.uniform(-40.0, 0.0, 50_000)),  # tiny arguments
            np.array(edges),
            halves,
            np.nextafter(halves, np.inf),
            np.nextafter(halves, -np.inf),
            np.arange(-1075, 1025, dtype=np.float64) * np.log(2),
        ]
    )


def test_exp_lanes_within_an_ulp_of_numpy_over_the_whole_range():
    x = _arguments()
    out = np.empty_like(x)
    _exp_all(x, out)
    with np.errstate(over="ignore"):
        ref = np.exp(x)
    normal = np.isfinite(ref) & (ref >= TINY)
    ulps = np.abs(out[normal] - ref[normal]) / np.spacing(ref[normal])
    assert ulps.max() <= 1.0
    assert ulps.mean() < 0.1  # nearly always the correctly rounded value
    below = ref < TINY  # subnormal or 0: one rounding at the last product
    assert np.all(np.abs(out[below] - ref[below]) <= STEP)
    assert np.all(out[ref == 0.0] == 0.0) and np.all(out >= 0.0)
    assert np.array_equal(np.isinf(out), np.isinf(ref))
    assert (ref == 0.0).sum() > 1000 and np.isinf(ref).sum() > 1000  # both ends reached


def test_exp_lanes_special_values():
    x = np.array([np.nan, -np.inf, np.inf, 0.0, -0.0, 1.0, -1.0])
    out = np.empty_like(x)
    _exp_all(x, out)
    assert np.isnan(out[0])
    assert out[1] == 0.0 and out[2] == np.inf
    assert out[3] == 1.0 and out[4] == 1.0
    for value, x_ in ((out[5], 1.0), (out[6], -1.0), (exp_lanes(-3.25), -3.25)):
        assert abs(value - np.exp(x_)) <= np.spacing(np.exp(x_))  # (a lone call too)
