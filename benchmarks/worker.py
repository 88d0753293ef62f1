"""One fit of one method on one problem, in its own process.

Run by :mod:`benchmarks.run` as ``python -m benchmarks.worker SPEC OUT STATUS``: reads
the JSON spec, loads the problem's data from ``.npy`` files, fits (``repeat`` times),
scores the fit with :func:`benchmarks.scoring.common_objective`, and writes a JSON
result to ``OUT``. Before each timed fit it writes ``start <i> <unix time>`` to
``STATUS`` so that the parent can enforce the per-fit time limit.

Peak extra memory
-----------------
``rss`` (default): the process's peak resident set size during the fit minus its
resident size just before, after the data are loaded, the libraries imported and a
small warm-up fit done (for mnlogit also the compiled kernels' machine code loaded: the
Hessian's, the sweep's and the column read's, ``_KERNEL_LOADERS``; the warm-up's rows are too
few for the fit to use them, and their one-time load is a process cost like the imports).
The peak is reset first by writing ``5`` to ``/proc/self/clear_refs`` (Linux; it resets
``VmHWM``, which ``getrusage``'s ``ru_maxrss`` also reports); where that is not allowed,
the increase of ``ru_maxrss`` is used, a lower bound. RSS sees every allocation (numpy,
C/Fortran buffers, BLAS workspace) but also counts pages freed to the allocator and not
yet returned.

``tracemalloc``: the peak of memory traced by Python's ``tracemalloc`` (numpy
reports its array buffers to it) during the fit. It misses allocations made outside
numpy and Python (Fortran work arrays, BLAS buffers) and slows Python-heavy code, so it
is an alternative, not the default.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from benchmarks.methods import METHODS, FitOutput
from benchmarks.problems import Problem
from benchmarks.scoring import common_objective, reference_objective

__all__ = ["instrument_mnlogit", "load_data", "main", "save_data"]

# Objective methods timed when profiling mnlogit (outermost calls only).
_PROFILED = (
    "value",
    "value_and_gradient",
    "gradient",
    "hessian",
    "hessp",
    "curvature_product",
    "probabilities",
    "linear_predictor",
    "backproject",
)


def save_data(directory: Path, X: Any, y: NDArray[np.intp]) -> None:
    """Write ``X`` and ``y`` as ``.npy`` files under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    np.save(directory / "y.npy", y)
    if sp.issparse(X):
        csr: Any = X.tocsr()  # type: ignore[attr-defined]
        np.save(directory / "X_data.npy", csr.data)
        np.save(directory / "X_indices.npy", csr.indices)
        np.save(directory / "X_indptr.npy", csr.indptr)
        np.save(directory / "X_shape.npy", np.asarray(csr.shape))
    else:
        np.save(directory / "X.npy", X)


def load_data(directory: Path) -> tuple[Any, NDArray[np.intp]]:
    """Inverse of :func:`save_data` (read fully into memory, not memory-mapped)."""
    y = np.load(directory / "y.npy")
    if (directory / "X.npy").exists():
        return np.load(directory / "X.npy"), y
    n_rows, n_cols = (int(v) for v in np.load(directory / "X_shape.npy"))
    X = sp.csr_matrix(
        (
            np.load(directory / "X_data.npy"),
            np.load(directory / "X_indices.npy"),
            np.load(directory / "X_indptr.npy"),
        ),
        shape=(n_rows, n_cols),
    )
    return X, y


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class PeakMemory:
    """Peak extra memory of a code region (see the module docstring)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.how = mode
        self._base = 0

    def start(self) -> None:
        """Mark the baseline."""
        gc.collect()
        if self.mode == "tracemalloc":
            if not tracemalloc.is_tracing():
                tracemalloc.start()
            tracemalloc.reset_peak()
            self._base = tracemalloc.get_traced_memory()[0]
            return
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            rss = _status_kb("VmRSS")
            if rss is None:
                raise OSError("no VmRSS")
            self._base = rss * 1024
            self.how = "rss (VmHWM reset)"
        except OSError:
            self._base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            self.how = "rss (ru_maxrss increase, lower bound)"

    def peak_extra(self) -> int:
        """Bytes above the baseline at the peak since :meth:`start`."""
        if self.mode == "tracemalloc":
            return max(0, tracemalloc.get_traced_memory()[1] - self._base)
        hwm = _status_kb("VmHWM") if self.how == "rss (VmHWM reset)" else None
        if hwm is not None:
            peak = hwm * 1024
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return max(0, peak - self._base)


def instrument_mnlogit() -> dict[str, list[float]]:
    """Count and time mnlogit's objective calls during a fit.

    Replaces ``mnlogit.fitting.MultinomialObjective`` (the class the fit pipeline
    builds) by a subclass whose public methods record ``[calls, seconds]`` (outermost
    calls only: ``value_and_gradient`` calling ``value`` counts once). Returns the (live) record.
    """
    import mnlogit.fitting as est

    base = est.MultinomialObjective
    record: dict[str, list[float]] = {}
    depth = [0]

    def wrap(name: str) -> Any:
        orig = getattr(base, name)

        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            if depth[0]:
                return orig(self, *args, **kwargs)
            depth[0] += 1
            t0 = time.perf_counter()
            try:
                return orig(self, *args, **kwargs)
            finally:
                depth[0] -= 1
                entry = record.setdefault(name, [0, 0.0])
                entry[0] += 1
                entry[1] += time.perf_counter() - t0

        wrapper.__name__ = name
        wrapper.__doc__ = orig.__doc__
        return wrapper

    namespace = {name: wrap(name) for name in _PROFILED if hasattr(base, name)}
    est.MultinomialObjective = type("ProfiledObjective", (base,), namespace)
    return record


#: The compiled kernels a default fit may take beyond the warm-up's few rows (their machine
#: code loaded before the timed fits): the Hessian's, the sweep's, the column read's.
_KERNEL_LOADERS = (
    ("mnlogit.objective.hessian", "load_compiled_kernel"),
    ("mnlogit.objective.softmax_kernel", "load_compiled_kernel"),
    ("mnlogit.identification.column_kernels", "load_compiled_kernels"),
)


def _warmup_rows(y: NDArray[np.intp], n_params: int) -> NDArray[np.intp]:
    """A small subset of rows holding every class."""
    size = min(y.size, max(1000, min(2 * n_params, 5000)))
    first = np.unique(y, return_index=True)[1]
    return np.unique(np.concatenate([np.arange(size), first]))


def _write_status(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def run(spec: dict[str, Any], status_path: Path) -> dict[str, Any]:
    """Carry out the spec (see :mod:`benchmarks.run`); returns the result record."""
    prob = Problem.from_dict(spec["problem"])
    method = METHODS[spec["method"]]
    method.prepare()  # before limiting threads: threadpoolctl sees loaded libraries only
    threads = spec.get("threads")
    limiter = None
    if threads:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(limits=int(threads))
    profile = instrument_mnlogit() if method.library == "mnlogit" and spec["profile"] else None
    X, y = load_data(Path(spec["data_dir"]))

    rows = _warmup_rows(y, prob.n_params)
    with contextlib.suppress(Exception):  # a failed warm-up must not stop the benchmark
        method.fit(X[rows], y[rows], prob, max_iter=2)
    if method.library == "mnlogit":  # the compiled kernels' one-time loads, as imports
        for module, loader in _KERNEL_LOADERS:
            with contextlib.suppress(Exception):  # a tree from before a kernel has none
                getattr(importlib.import_module(module), loader)()
    if profile is not None:
        profile.clear()

    memory = PeakMemory(spec["memory"])
    times: list[float] = []
    peaks: list[int] = []
    out: FitOutput | None = None
    profiles: list[dict[str, list[float]]] = []
    for i in range(int(spec["repeat"])):
        if i > 0 and sum(times) > float(spec.get("repeat_budget", float("inf"))):
            break
        memory.start()
        _write_status(status_path, f"start {i} {time.time()}")
        t0 = time.perf_counter()
        out = method.fit(X, y, prob)
        times.append(time.perf_counter() - t0)
        peaks.append(memory.peak_extra())
        if profile is not None:
            profiles.append({k: list(v) for k, v in profile.items()})
            profile.clear()
    _write_status(status_path, "scoring")
    if memory.mode == "tracemalloc":
        tracemalloc.stop()
    assert out is not None
    best = int(np.argmin(times))
    objective = common_objective(X, y, out.intercept, out.coef, prob.alpha)
    check = reference_objective(X, y, out.intercept, out.coef, prob.alpha)
    if limiter is not None:
        limiter.restore_original_limits()
    import mnlogit

    return {
        "status": "ok",
        "mnlogit_file": mnlogit.__file__,
        "time_s": times[best],
        "times_s": times,
        "n_iter": out.n_iter,
        "converged": out.converged,
        "solver": out.solver,
        "warnings": out.warnings,
        "objective": objective,
        "objective_check": check,
        "peak_extra_bytes": max(peaks),
        "memory_method": memory.how,
        "profile": profiles[best] if profiles else None,
        "coef_norm": float(np.linalg.norm(out.coef - out.coef.mean(axis=0))),
    }


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.worker SPEC OUT STATUS``."""
    args = sys.argv[1:] if argv is None else argv
    spec_path, out_path, status_path = (Path(a) for a in args)
    spec = json.loads(spec_path.read_text())
    try:
        result = run(spec, status_path)
    except Exception as exc:  # reported, not raised: one failure must not end the suite
        result = {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:500]}
    out_path.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
