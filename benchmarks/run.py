"""Run the benchmark suite: mnlogit against scikit-learn and statsmodels.

Usage (from the repository root)::

    .venv/bin/python -m benchmarks.run [--problems NAME ...] [--methods NAME ...]
        [--scale S] [--repeat R] [--timeout SECONDS] [--output PATH] [--update-docs]

For every problem (:mod:`benchmarks.problems`) the data are generated once, saved to a
temporary directory, and every applicable method (:mod:`benchmarks.methods`) is fitted
in a fresh subprocess (:mod:`benchmarks.worker`), so that each method's peak memory is
its own and no library's state leaks into another's timing. Recorded per fit: wall
time (best of ``--repeat``), iterations, the objective reached (scored by one common
function, :func:`benchmarks.scoring.common_objective`), peak extra memory. Derived
(:func:`summarize`): relative gap to the best objective any method reached, time ratio
against the fastest competitor that reached it within ``1e-10`` relative, pass
equivalents (time over one ``X @ W`` plus one ``X.T @ G``), and memory as a multiple of
the size of ``X``. Results go to a JSON file; :mod:`benchmarks.report` renders them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.methods import METHODS, Limits, Method
from benchmarks.problems import PROBLEMS, Problem, get_problems

__all__ = ["REACH_RTOL", "main", "summarize"]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "benchmarks" / "results" / "latest.json"

# A method "reaches" the best objective when within this relative distance of it.
REACH_RTOL = 1e-10


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _git_state() -> str:
    """Commit of the working tree, with ``+dirty`` when ``src/`` has uncommitted changes."""

    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True)
        return out.stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", "src")
    except OSError:
        return "unknown"
    return head + ("+dirty" if dirty else "") if head else "unknown"


def machine_info() -> dict[str, Any]:
    """CPU, thread pools and library versions of this run."""
    import numpy
    import scipy
    import sklearn
    import statsmodels

    import mnlogit

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        from threadpoolctl import threadpool_info

        pools = [
            {k: info.get(k) for k in ("user_api", "internal_api", "num_threads", "version")}
            for info in threadpool_info()
        ]
    except ImportError:
        pools = []
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 0
    return {
        "git": _git_state(),
        "cpu": cpu,
        "cores": cores,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "thread_pools": pools,
        "versions": {
            "mnlogit": getattr(mnlogit, "__version__", "?"),
            "numpy": numpy.__version__,
            "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__,
            "statsmodels": statsmodels.__version__,
        },
    }


@contextlib.contextmanager
def _killing_on_exit() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Kill the worker processes collected in the yielded list if the parent is stopped."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def snapshot_source(workdir: Path) -> Path:
    """Copy ``src/mnlogit`` under ``workdir``; workers import that copy.

    Others may edit ``src/`` while a long run is going; the copy keeps every fit of one
    run on the same code.
    """
    target = workdir / "src"
    shutil.copytree(
        REPO_ROOT / "src" / "mnlogit",
        target / "mnlogit",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return target


def _worker_env(threads: int | None, source: Path | None) -> dict[str, str]:
    """The worker's environment: thread counts pinned when ``--threads`` is given, and
    the source snapshot (if any) ahead of the installed package."""
    env = dict(os.environ)
    paths = [str(source)] if source is not None else []
    paths += [str(REPO_ROOT), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    if threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
    return env


def _raise_system_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _run_worker(
    spec: dict[str, Any],
    workdir: Path,
    timeout: float,
    setup_timeout: float,
    source: Path | None = None,
) -> dict[str, Any]:
    """Run one fit in a subprocess, killing it when a single fit exceeds ``timeout``."""
    tag = f"{spec['problem']['name']}.{spec['method']}"
    spec_path = workdir / f"{tag}.spec.json"
    out_path = workdir / f"{tag}.out.json"
    status_path = workdir / f"{tag}.status"
    log_path = workdir / f"{tag}.log"
    spec_path.write_text(json.dumps(spec))
    for path in (out_path, status_path):
        path.unlink(missing_ok=True)
    launched = time.time()
    with open(log_path, "w") as log, _killing_on_exit() as procs:
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.worker", str(spec_path), str(out_path),
             str(status_path)],
            cwd=REPO_ROOT,
            env=_worker_env(spec.get("threads"), source),
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        procs.append(proc)
        while True:
            try:
                proc.wait(timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                pass
            status = status_path.read_text() if status_path.exists() else ""
            now = time.time()
            if status.startswith("start"):
                if now - float(status.split()[2]) > timeout:
                    proc.kill()
                    proc.wait()
                    return {"status": "timeout", "time_s": timeout}
            elif not status and now - launched > setup_timeout:
                proc.kill()
                proc.wait()
                return {"status": "error", "error": f"setup exceeded {setup_timeout:.0f} s"}
    if out_path.exists():
        return dict(json.loads(out_path.read_text()))
    tail = log_path.read_text()[-500:] if log_path.exists() else ""
    return {"status": "error", "error": f"worker exited with {proc.returncode}: {tail}"}


def summarize(entry: dict[str, Any]) -> None:
    """Add the derived fields to one problem's results (in place).

    ``rel_gap``: ``(f - f_best) / |f_best|`` with ``f_best`` the lowest objective any
    method reached. ``ratio``: time over the reference time: that of the fastest
    competitor (scikit-learn, statsmodels) within ``REACH_RTOL`` of ``f_best``, or,
    when none is, of the fastest competitor at all (``entry["reference"]["exact"]`` is
    then False). ``passes``: time over ``pass_time_s``. ``mem_x``: peak extra memory
    over the bytes of ``X``.
    """
    results = entry["results"]
    ran = [r for r in results if r["status"] in ("ok", "timeout")]
    for r in ran:
        r["passes"] = r["time_s"] / entry["pass_time_s"]
    ok = [r for r in results if r["status"] == "ok" and math.isfinite(r["objective"])]
    entry["reference"] = None
    if not ok:
        return
    f_best = min(r["objective"] for r in ok)
    entry["best_objective"] = f_best
    entry["objective_check_max_rel"] = max(
        abs(r["objective"] - r["objective_check"]) / abs(r["objective"]) for r in ok
    )
    for r in ok:
        r["rel_gap"] = max(0.0, (r["objective"] - f_best) / abs(f_best))
        r["reaches_best"] = r["rel_gap"] <= REACH_RTOL
        r["mem_x"] = r["peak_extra_bytes"] / entry["x_nbytes"]
    competitors = [r for r in ok if METHODS[r["method"]].is_competitor]
    if not competitors:
        return
    reaching = [r for r in competitors if r["reaches_best"]]
    exact = bool(reaching)
    ref = min(reaching or competitors, key=lambda r: r["time_s"])
    entry["reference"] = {
        "method": ref["method"],
        "time_s": ref["time_s"],
        "exact": exact,
        "rel_gap": ref["rel_gap"],
        "best_competitor_gap": min(r["rel_gap"] for r in competitors),
    }
    for r in ran:
        r["ratio"] = r["time_s"] / ref["time_s"]


def _describe(result: dict[str, Any]) -> str:
    if result["status"] == "skipped":
        return f"skipped ({result['reason']})"
    if result["status"] != "ok":
        return f"{result['status']}: {result.get('error', '')}"[:200]
    mb = result["peak_extra_bytes"] / 2**20
    return (
        f"{result['time_s']:.3f} s, {result['n_iter']} it, f={result['objective']:.12g}, "
        f"+{mb:.0f} MB{'' if result['converged'] else ', NOT converged'}"
    )


def run_problem(
    prob: Problem,
    methods: list[Method],
    args: argparse.Namespace,
    workdir: Path,
    source: Path | None = None,
) -> dict[str, Any]:
    """Generate one problem's data, run every method on it, return its results entry."""
    from benchmarks.worker import load_data, save_data

    _log(f"== {prob.name}: {prob.describe()}")
    t0 = time.perf_counter()
    X: Any
    X, y = prob.generate()
    gen_s = time.perf_counter() - t0
    data_dir = workdir / prob.name
    save_data(data_dir, X, y)
    x_nbytes = (
        int(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes)
        if hasattr(X, "indptr")
        else int(X.nbytes)
    )
    t_pass = _pass_time(X, prob.K, args.threads)
    del X, y
    _log(f"   generated in {gen_s:.1f} s; one pass (X@W + X.T@G) = {t_pass * 1e3:.2f} ms")
    limits = Limits(
        newton_max_params=args.newton_max_params,
        statsmodels_max_params=args.statsmodels_max_params,
        memory_budget_mb=args.memory_budget_mb,
    )
    entry: dict[str, Any] = {
        "problem": prob.to_dict(),
        "n_params": prob.n_params,
        "sklearn_C": prob.sklearn_C,
        "x_nbytes": x_nbytes,
        "pass_time_s": t_pass,
        "results": [],
    }
    for method in methods:
        base = {"method": method.name, "library": method.library, "solver": method.solver}
        reason = method.skip_reason(prob, limits)
        if reason is not None:
            result = {**base, "status": "skipped", "reason": reason}
        else:
            spec = {
                "problem": prob.to_dict(),
                "method": method.name,
                "data_dir": str(data_dir),
                "repeat": args.repeat,
                "repeat_budget": args.repeat_budget,
                "memory": args.memory,
                "threads": args.threads,
                "profile": not args.no_profile,
            }
            res = _run_worker(spec, workdir, args.timeout, args.timeout + 600, source)
            result = {**base, **res, "solver": res.get("solver", method.solver)}
        entry["results"].append(result)
        _log(f"   {method.name:26s} {_describe(result)}")
    # Timed again after the fits, and the faster kept: one slow moment of a shared machine
    # should not rescale a whole problem's pass equivalents.
    X, y = load_data(data_dir)
    t_pass_after = _pass_time(X, prob.K, args.threads)
    del X, y
    entry["pass_time_runs_s"] = [t_pass, t_pass_after]
    entry["pass_time_s"] = min(t_pass, t_pass_after)
    summarize(entry)
    return entry


def _pass_time(X: Any, K: int, threads: int | None) -> float:
    """:func:`benchmarks.scoring.pass_time` under the run's thread limit."""
    from benchmarks.scoring import pass_time

    if not threads:
        return pass_time(X, K)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        return pass_time(X, K)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--problems",
        nargs="+",
        choices=sorted(PROBLEMS),
        metavar="NAME",
        help=f"problems to run (default all: {', '.join(PROBLEMS)})",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=sorted(METHODS),
        metavar="NAME",
        help=f"methods to run (default all: {', '.join(METHODS)})",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply every n by this (bounded below by the problem's min_n)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="fits per method, best time kept (see --repeat-budget)",
    )
    parser.add_argument(
        "--repeat-budget",
        type=float,
        default=30.0,
        help="no further repeats once a method's fits took this many seconds",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="seconds allowed to one fit before it is killed (default 300)",
    )
    parser.add_argument(
        "--memory",
        choices=("rss", "tracemalloc"),
        default="rss",
        help="how peak extra memory is measured (see benchmarks/worker.py)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="limit BLAS/OpenMP threads in the workers (default: library default)",
    )
    parser.add_argument("--newton-max-params", type=int, default=Limits.newton_max_params)
    parser.add_argument("--statsmodels-max-params", type=int, default=Limits.statsmodels_max_params)
    parser.add_argument(
        "--memory-budget-mb",
        type=float,
        default=Limits.memory_budget_mb,
        help="skip statsmodels when its estimated peak exceeds this",
    )
    parser.add_argument(
        "--no-profile", action="store_true", help="do not count/time mnlogit's objective calls"
    )
    parser.add_argument(
        "--no-snapshot",
        action="store_true",
        help="import the live src/ in every worker instead of a copy taken at the start",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--update-docs", action="store_true", help="render the results into docs/benchmarks.md"
    )
    return parser.parse_args(argv)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Run the suite and write the JSON results (and optionally the docs table)."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_system_exit)  # run the clean-up of workers and tmp
    raw = sys.argv[1:] if argv is None else argv
    problems = get_problems(args.problems, scale=args.scale)
    methods = [METHODS[name] for name in (args.methods or METHODS)]
    results: dict[str, Any] = {
        "meta": {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "command": shlex.join(["python", "-m", "benchmarks.run", *raw]),
            "scale": args.scale,
            "repeat": args.repeat,
            "repeat_budget_s": args.repeat_budget,
            "timeout_s": args.timeout,
            "memory": args.memory,
            "threads": args.threads,
            "reach_rtol": REACH_RTOL,
            "machine": machine_info(),
        },
        "problems": [],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mnlogit-bench-") as tmp:
        source = None if args.no_snapshot else snapshot_source(Path(tmp))
        results["meta"]["source"] = "live tree" if source is None else "snapshot at start"
        for prob in problems:
            results["problems"].append(run_problem(prob, methods, args, Path(tmp), source))
            results["meta"]["total_s"] = time.perf_counter() - started
            args.output.write_text(json.dumps(results, indent=1))
    _log(f"wrote {args.output} ({time.perf_counter() - started:.0f} s)")
    from benchmarks.report import render, update_docs

    markdown = render(results)
    print(markdown)
    if args.update_docs:
        update_docs(markdown)


if __name__ == "__main__":
    main()
