"""mnlogit on Dask against Spark MLlib, same Parquet data, same cores, one run.

Usage (from the repository root)::

    PYTHONPATH=src .venv/bin/python -m benchmarks.dask_spark [--n 5000000] [--p 50] [--K 5]
        [--workers 2] [--files 32] [--data-dir /tmp/mnlogit-dask-bench] [--skip-spark]
        [--skip-plain] [--output benchmarks/results/dask_spark.json]

The Spark side needs pyspark and a Java runtime: ``sh benchmarks/setup_spark.sh``
(``benchmarks/requirements-spark.txt``).

Measured, side by side:

1. **mnlogit on Dask**: ``MultinomialLogit(cov_type=None).fit(frame[features], frame["y"])``
   on a ``LocalCluster`` of ``--workers`` processes with one thread each, from
   ``dd.read_parquet`` to the fitted model (preparation passes included); passes counted.
2. **Spark MLlib** ``LogisticRegression(family="multinomial", regParam=0)`` on
   ``local[--workers]`` from the same Parquet files (``VectorAssembler`` included),
   ``tol=1e-12`` so that it reaches the optimum.
3. **The same objective**: both fits' mean log-loss evaluated by one common function
   (mnlogit's ``evaluate`` over the same Dask data, Spark's coefficients loaded with
   ``MultinomialLogit.from_coefficients``) and their relative difference.
4. **The issue's plain-Dask baseline** (``--skip-plain`` to leave it out): Dask arrays
   persisted on the same cluster, a numpy block kernel per partition, scipy's L-BFGS.
5. **Cost per pass**: one value-and-gradient pass of the Dask objective over the
   persisted blocks against the in-memory objective's pass on the same rows in this
   process (X read into memory from the same files, BLAS with all cores, and again with
   one BLAS thread), the three alternated 7 times on the same warm cluster and compared
   by their medians.

Every engine starts from the page cache: the files are read once before each
(:func:`warm_cache`), so that the first engine does not pay the disk alone. The load
averages before and after each engine are recorded.

Timings on a shared machine are noisy: the ratios from one run are what it reports.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.dask_data import make_parquet

__all__ = ["main"]


def warm_cache(directory: Path) -> float:
    """Read every Parquet file's bytes once, so that each engine starts from the page cache
    (the first engine would otherwise pay the disk alone); returns the seconds taken."""
    start = time.perf_counter()
    for f in sorted(directory.glob("*.parquet")):
        with open(f, "rb") as handle:
            while handle.read(1 << 24):
                pass
    return time.perf_counter() - start


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_dask(path: str, names: list[str], workers: int) -> dict[str, Any]:
    """The Dask fit and the per-pass comparison (item 1 and 4 of the module docstring)."""
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    from mnlogit import MultinomialLogit
    from mnlogit.distributed.partitions import PassReport, report_passes

    out: dict[str, Any] = {}
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(workers)
        passes: list[PassReport] = []
        start = time.perf_counter()
        with report_passes(passes.append):
            frame = dd.read_parquet(path)
            model = MultinomialLogit(cov_type=None).fit(frame[names], frame["y"])
        out["fit_seconds"] = time.perf_counter() - start
        out["solver"] = model.solver_
        out["n_iter"] = int(model.n_iter_)
        out["passes"] = [(p.kind, round(p.seconds, 3)) for p in passes]
        out["n_passes"] = len(passes)
        out["loglik"] = float(model.loglik_)
        out["coef"] = model.coef_.tolist()
        out["intercept"] = model.intercept_.tolist()
        out["classes"] = model.classes_.tolist()
        out["worker_peak_mib"] = list(client.run(_peak_rss_mib).values())
        out["pass"] = _per_pass(frame, names, model, path)
        report = model.evaluate(frame[names], frame["y"])
        out["log_loss"] = report.log_loss
    return out


def _per_pass(
    frame: Any, names: list[str], model: Any, path: str, repeats: int = 7
) -> dict[str, Any]:
    """One value-and-gradient pass of the Dask objective (persisted blocks) against the
    in-memory objective's pass on the same rows in this process, alternated ``repeats``
    times in the same run (medians), so that drifting load hits both alike."""
    from mnlogit.distributed.objective import DaskObjective
    from mnlogit.distributed.preparation import prepare_dask
    from mnlogit.objective import make_penalty
    from mnlogit.parameterization import Parameterization
    from mnlogit.preparation import FitSettings

    settings = FitSettings.from_params(model.get_params())
    data = prepare_dask(settings, frame[names], frame["y"], None, None)
    dask_obj = DaskObjective(
        data,
        Parameterization(data.n_classes, data.reference_index),
        make_penalty(None, 0.0, True),
    )
    memory_obj = _memory_objective(path, names)
    rng = np.random.default_rng(1)
    dask_obj.value_and_gradient(rng.normal(size=dask_obj.n_params) * 0.01)  # the persist
    memory_obj.value_and_gradient(rng.normal(size=memory_obj.n_params) * 0.01)
    import dask
    from threadpoolctl import threadpool_limits

    times: dict[str, list[float]] = {
        "dask": [],
        "dask_graph": [],
        "memory": [],
        "memory_1thread": [],
    }
    for _ in range(repeats):
        theta = rng.normal(size=dask_obj.n_params) * 0.01
        for label, obj, threads in (
            ("dask", dask_obj, None),
            ("dask_graph", dask_obj, None),
            ("memory", memory_obj, None),
            ("memory_1thread", memory_obj, 1),
        ):
            theta = theta + 1e-6  # a new point: the objectives cache their last one
            # "dask_graph": the same pass as a graph of one task per partition and a
            # reduction tree (mnlogit.pass_per_worker False), the code before issue-dask4
            per_worker = label != "dask_graph"
            with (
                threadpool_limits(limits=threads, user_api="blas"),
                dask.config.set({"mnlogit.pass_per_worker": per_worker}),
            ):
                start = time.perf_counter()
                obj.value_and_gradient(theta)
                times[label].append(time.perf_counter() - start)
    rows = data.rows
    medians = {k: float(np.median(v)) for k, v in times.items()}
    return {
        "dask_pass_seconds": medians["dask"],
        "memory_pass_seconds": medians["memory"],
        "memory_1thread_pass_seconds": medians["memory_1thread"],
        "dask_graph_pass_seconds": medians["dask_graph"],
        "ratio_graph_1thread": medians["dask_graph"] / medians["memory_1thread"],
        "ratio": medians["dask"] / medians["memory"],
        "ratio_1thread": medians["dask"] / medians["memory_1thread"],
        "times": times,
        "partitions": len(rows),
        "rows_per_partition": float(np.mean(rows)),
        "persisted": bool(data.persisted),
    }


def _memory_objective(path: str, names: list[str]) -> Any:
    """The in-memory objective of the same rows (X read with pyarrow, row-major)."""
    import pyarrow.parquet as pq

    from mnlogit.objective import MultinomialObjective, make_penalty
    from mnlogit.parameterization import Parameterization

    files = sorted(Path(path).parent.glob("*.parquet"))
    rows = [pq.ParquetFile(f).metadata.num_rows for f in files]
    X = np.empty((sum(rows), len(names)))
    y = np.empty(sum(rows), dtype=np.intp)
    at = 0
    for f, m in zip(files, rows, strict=True):
        table = pq.read_table(f, columns=[*names, "y"])
        for j, name in enumerate(names):
            X[at : at + m, j] = table.column(name).to_numpy()
        y[at : at + m] = table.column("y").to_numpy()
        at += m
    K = int(y.max()) + 1
    return MultinomialObjective(
        X, y, K, np.ones(y.size), Parameterization(K, 0), make_penalty(None, 0.0, True)
    )


def _plain_part(X: Any, y: Any, coef: Any) -> tuple[float, Any]:
    """The baseline's numpy block kernel: summed log-loss and gradient, reference class 0."""
    eta = np.zeros((X.shape[0], coef.shape[1] + 1))
    eta[:, 1:] = X @ coef[1:] + coef[0]
    top = eta.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(eta - top).sum(axis=1))
    rows = np.arange(X.shape[0])
    labels = np.asarray(y, dtype=np.intp)
    nll = float(np.sum(lse - eta[rows, labels]))
    P = np.exp(eta - lse[:, None])
    P[rows, labels] -= 1.0
    grad = np.vstack([P.sum(axis=0)[None, :], X.T @ P])[:, 1:]
    return nll, grad


def _plain_add(*parts: tuple[float, Any]) -> tuple[float, Any]:
    return sum(p[0] for p in parts), sum(p[1] for p in parts)


def run_plain_dask(path: str, names: list[str], workers: int, K: int) -> dict[str, Any]:
    """The issue's baseline: plain Dask arrays, a numpy block kernel, scipy's L-BFGS.

    The partitions are persisted (``to_dask_array(lengths=True)``), every evaluation is
    one pass (the kernel per block, the partial sums added on a worker, the coefficients
    one graph key); timed from ``read_parquet`` to the optimum.
    """
    import dask
    import dask.dataframe as dd
    import scipy.optimize
    from dask.delayed import delayed
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(workers)
        start = time.perf_counter()
        frame = dd.read_parquet(path)
        # one selection (a column read alone may be partitioned apart from the others)
        table = frame[[*names, "y"]].to_dask_array(lengths=True)
        X, y = dask.persist(table[:, :-1].map_blocks(np.ascontiguousarray), table[:, -1])
        blocks = list(zip(X.to_delayed()[:, 0], y.to_delayed(), strict=True))
        n = int(X.shape[0])
        shape = (len(names) + 1, K - 1)
        passes = 0

        def fun(theta: Any) -> tuple[float, Any]:
            nonlocal passes
            coef = delayed(theta.reshape(shape), pure=True, traverse=False)
            parts = [delayed(_plain_part)(a, b, coef) for a, b in blocks]
            nll, grad = delayed(_plain_add)(*parts).compute()
            passes += 1
            return nll / n, grad.ravel() / n

        result = scipy.optimize.minimize(
            fun,
            np.zeros(shape[0] * shape[1]),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": 1000, "ftol": 1e-15, "gtol": 1e-10},
        )
        seconds = time.perf_counter() - start
    return {
        "fit_seconds": seconds,
        "n_iter": int(result.nit),
        "n_passes": passes,
        "log_loss": float(result.fun),
    }


def run_spark(path: str, names: list[str], workers: int, memory: str) -> dict[str, Any]:
    """Spark MLlib's multinomial logistic regression from the same Parquet files."""
    try:
        from pyspark.ml.classification import LogisticRegression
        from pyspark.ml.feature import VectorAssembler
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SystemExit(
            "the Spark side needs pyspark and a Java runtime: run benchmarks/setup_spark.sh "
            "(or pass --skip-spark)"
        ) from exc

    spark = (
        SparkSession.builder.master(f"local[{workers}]")
        .config("spark.driver.memory", memory)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(2 * workers))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        start = time.perf_counter()
        frame = spark.read.parquet(path)  # the same files (the glob skips spec.json)
        data = VectorAssembler(inputCols=names, outputCol="features").transform(frame)
        lr = LogisticRegression(
            family="multinomial",
            regParam=0.0,
            elasticNetParam=0.0,
            maxIter=1000,
            tol=1e-12,
            standardization=True,
            labelCol="y",
            featuresCol="features",
        )
        fitted = lr.fit(data)
        seconds = time.perf_counter() - start
        history = fitted.summary.objectiveHistory
        return {
            "fit_seconds": seconds,
            "n_iter": int(fitted.summary.totalIterations),
            "coef": fitted.coefficientMatrix.toArray().tolist(),
            "intercept": list(fitted.interceptVector.toArray()),
            "objective_history_last": float(history[-1]) if history else None,
        }
    finally:
        spark.stop()


def spark_log_loss(path: str, names: list[str], spark: dict[str, Any], classes: list[Any]) -> float:
    """Spark's coefficients scored by mnlogit's ``evaluate`` over the same Dask data."""
    import dask
    import dask.dataframe as dd

    from mnlogit import MultinomialLogit

    model = MultinomialLogit.from_coefficients(
        np.asarray(classes), np.asarray(spark["intercept"]), np.asarray(spark["coef"])
    )
    with dask.config.set(scheduler="threads", num_workers=2):
        frame = dd.read_parquet(path)
        return float(model.evaluate(frame[names], frame["y"]).log_loss)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5_000_000)
    parser.add_argument("--p", type=int, default=50)
    parser.add_argument("--K", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--files", type=int, default=32)
    parser.add_argument("--data-dir", default="/tmp/mnlogit-dask-bench")
    parser.add_argument("--spark-memory", default="8g")
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--skip-plain", action="store_true", help="no plain-Dask baseline")
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    directory = Path(args.data_dir) / f"n{args.n}-p{args.p}-K{args.K}-f{args.files}"
    start = time.perf_counter()
    names = make_parquet(directory, args.n, args.p, args.K, args.files)
    print(f"data: {directory} ({time.perf_counter() - start:.1f} s to make or find)")
    path = str(directory / "*.parquet")
    result: dict[str, Any] = {"n": args.n, "p": args.p, "K": args.K, "workers": args.workers}
    result["load"] = {"start": _load()}
    result["warm_seconds"] = [warm_cache(directory)]
    result["dask"] = run_dask(path, names, args.workers)
    result["load"]["after_dask"] = _load()
    d = result["dask"]
    print(
        f"dask: {d['fit_seconds']:.1f} s, {d['solver']}, {d['n_iter']} iterations, "
        f"{d['n_passes']} passes, log loss {d['log_loss']:.12f}, workers' peak "
        f"{[round(m) for m in d['worker_peak_mib']]} MiB"
    )
    pp = d["pass"]
    result["pass_ratio"] = pp["ratio"]
    print(
        f"per pass (medians of {len(pp['times']['dask'])}, alternated): dask "
        f"{pp['dask_pass_seconds']:.3f} s ({pp['partitions']} partitions of "
        f"{pp['rows_per_partition']:.0f} rows), in memory {pp['memory_pass_seconds']:.3f} s "
        f"(ratio {pp['ratio']:.2f}), in memory with one BLAS thread "
        f"{pp['memory_1thread_pass_seconds']:.3f} s (ratio {pp['ratio_1thread']:.2f}); "
        f"as a graph of a task per partition {pp['dask_graph_pass_seconds']:.3f} s "
        f"(ratio to one thread {pp['ratio_graph_1thread']:.2f})"
    )
    if not args.skip_plain:
        result["warm_seconds"].append(warm_cache(directory))
        b = result["plain_dask"] = run_plain_dask(path, names, args.workers, args.K)
        result["load"]["after_plain"] = _load()
        b["gap"] = (b["log_loss"] - d["log_loss"]) / d["log_loss"]
        result["plain_ratio"] = d["fit_seconds"] / b["fit_seconds"]
        print(
            f"plain dask + scipy L-BFGS: {b['fit_seconds']:.1f} s, {b['n_passes']} passes, "
            f"log loss {b['log_loss']:.12f} (relative gap to mnlogit {b['gap']:+.2e}); "
            f"mnlogit / plain time {result['plain_ratio']:.3f}"
        )
    if not args.skip_spark:
        result["warm_seconds"].append(warm_cache(directory))
        s = result["spark"] = run_spark(path, names, args.workers, args.spark_memory)
        result["load"]["after_spark"] = _load()
        s["log_loss"] = spark_log_loss(path, names, s, d["classes"])
        gap = (s["log_loss"] - d["log_loss"]) / d["log_loss"]
        result["objective_gap"] = gap
        result["time_ratio"] = d["fit_seconds"] / s["fit_seconds"]
        print(
            f"spark: {s['fit_seconds']:.1f} s, {s['n_iter']} iterations, log loss "
            f"{s['log_loss']:.12f} (relative gap to dask {gap:+.2e}); dask / spark time "
            f"{result['time_ratio']:.3f}"
        )
    print(f"load averages (1, 5, 15 min): {result['load']}")
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
