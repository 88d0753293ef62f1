"""Render benchmark results (JSON from :mod:`benchmarks.run`) as Markdown.

Usage::

    .venv/bin/python -m benchmarks.report [benchmarks/results/latest.json] [--no-docs]

prints the tables and writes them into ``docs/benchmarks.md`` between the markers
``<!-- benchmark-results:start -->`` and ``<!-- benchmark-results:end -->`` (with
``--section NAME``: ``benchmark-results:NAME:start`` and ``...:end``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["render", "update_docs"]

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCS = REPO_ROOT / "docs" / "benchmarks.md"


def _markers(section: str | None) -> tuple[str, str]:
    """The start and end markers of a results section of the docs page."""
    name = "benchmark-results" if not section else f"benchmark-results:{section}"
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def _fmt_time(seconds: float) -> str:
    if seconds >= 100:
        return f"{seconds:.0f}"
    if seconds >= 10:
        return f"{seconds:.1f}"
    if seconds >= 0.1:
        return f"{seconds:.2f}"
    return f"{seconds:.3f}"


def _fmt_gap(gap: float) -> str:
    return "0" if gap == 0.0 else f"{gap:.0e}"


def _fmt_mb(nbytes: float) -> str:
    mb = nbytes / 2**20
    return f"{mb:.0f}" if mb >= 10 else f"{mb:.1f}"


def _problem_label(prob: dict[str, Any]) -> str:
    kind = f"sparse {prob['density']:.1%}" if prob["sparse"] else "dense"
    pen = "" if prob["penalty"] is None else f", L2 alpha={prob['alpha']:g}"
    dtype = "" if prob["dtype"] == "float64" else f", {prob['dtype']}"
    return f"n={prob['n']:,} p={prob['p']:,} K={prob['K']} ({kind}{dtype}{pen})"


def _main_row(entry: dict[str, Any], r: dict[str, Any], first: bool) -> str:
    prob = entry["problem"]
    ref = entry.get("reference")
    name = f"**{prob['name']}**" if first else ""
    method = r["method"]
    if r.get("solver") and r["solver"] != r["method"].split("-", 1)[-1]:
        method += f" → {r['solver']}"
    if r["status"] == "timeout":
        ratio = f"> {r['ratio']:.1f}" if "ratio" in r else ""
        passes = f"> {r['passes']:.0f}" if "passes" in r else ""
        return (
            f"| {name} | {method} | | > {_fmt_time(r['time_s'])} (timeout) | {ratio} | "
            f"{passes} | | | |"
        )
    if r["status"] != "ok":
        err = str(r.get("error", "")).replace("|", "/").replace("\n", " ")[:80]
        return f"| {name} | {method} | | error: {err} | | | | | |"
    iters = str(r["n_iter"]) + ("" if r["converged"] else " ✗")
    ratio = ""
    if "ratio" in r:
        ratio = f"{r['ratio']:.2f}"
        if ref is not None and ref["method"] == r["method"]:
            ratio += " (ref)"
        if ref is not None and not ref["exact"]:
            ratio += " †"
    return (
        f"| {name} | {method} | {iters} | {_fmt_time(r['time_s'])} | {ratio} | "
        f"{r['passes']:.0f} | {_fmt_gap(r['rel_gap'])} | {_fmt_mb(r['peak_extra_bytes'])} | "
        f"{r['mem_x']:.2f} |"
    )


def _profile_rows(entry: dict[str, Any]) -> list[str]:
    rows = []
    for r in entry["results"]:
        prof = r.get("profile")
        if r["status"] != "ok" or not prof:
            continue
        fg = prof.get("value_and_gradient", [0, 0.0])
        f_only = prof.get("value", [0, 0.0])
        hess = prof.get("hessian", [0, 0.0])
        # H·v: exact products (hessp) and float32 ones for search directions
        hv = [
            a + b
            for a, b in zip(
                prof.get("hessp", [0, 0.0]), prof.get("curvature_product", [0, 0.0]), strict=True
            )
        ]
        other_calls = sum(
            v[1] for k, v in prof.items() if k not in ("value_and_gradient", "value", "hessian",
                                                        "hessp", "curvature_product")
        )  # fmt: skip
        spent = fg[1] + f_only[1] + hess[1] + hv[1] + other_calls
        rest = r["time_s"] - spent

        def cell(calls_time: list[float]) -> str:
            calls, seconds = calls_time
            return "" if not calls else f"{int(calls)} / {_fmt_time(seconds)}"

        rows.append(
            f"| {entry['problem']['name']} | {r['method']} | {r['solver']} | {r['n_iter']} | "
            f"{cell(fg)} | {cell(f_only)} | {cell(hess)} | {cell(hv)} | "
            f"{_fmt_time(other_calls)} | {_fmt_time(rest)} | {_fmt_time(r['time_s'])} |"
        )
    return rows


def render(results: dict[str, Any]) -> str:
    """The Markdown for a results dictionary: header, main table, skips, mnlogit profile."""
    meta = results["meta"]
    mach = meta["machine"]
    if meta.get("threads"):
        blas = f"BLAS/OpenMP limited to {meta['threads']} thread(s) per fit"
    else:
        blas = ", ".join(
            f"{p['internal_api']} {p['num_threads']} threads" for p in mach.get("thread_pools", [])
        )
    vers = ", ".join(f"{k} {v}" for k, v in mach["versions"].items())
    lines = [
        f"Run {meta['date']} on {mach['cores']} cores ({mach['cpu']}; {blas}), "
        f"scale {meta['scale']:g}, best of up to {meta['repeat']} fits (while under "
        f"{meta.get('repeat_budget_s', float('inf')):g} s), timeout {meta['timeout_s']:.0f} s, "
        f"memory by {meta['memory']}.",
        f"Versions: {vers}; mnlogit tree {mach.get('git', 'unknown')} "
        f"({meta.get('source', 'live tree')}).",
        "",
        f"Command: `{meta['command']}`",
        "",
        "| problem | method | iters | time (s) | ÷ ref | passes | rel. gap | extra MB | x X |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    notes: list[str] = []
    for entry in results["problems"]:
        shown = [r for r in entry["results"] if r["status"] != "skipped"]
        for i, r in enumerate(shown):
            lines.append(_main_row(entry, r, first=i == 0))
        prob = entry["problem"]
        ref = entry.get("reference")
        note = (
            f"- **{prob['name']}**: {_problem_label(prob)}, (K-1)(p+1) = {entry['n_params']:,}; "
            f"X = {_fmt_mb(entry['x_nbytes'])} MB; one pass = "
            f"{entry['pass_time_s'] * 1e3:.2f} ms; best objective "
            f"{entry.get('best_objective', float('nan')):.12g}."
        )
        if ref is not None:
            if ref["exact"]:
                note += f" Reference: {ref['method']}."
            else:
                note += (
                    f" † No competitor reached the best objective within 1e-10; reference is "
                    f"the fastest, {ref['method']} (gap {ref['rel_gap']:.0e}; best competitor "
                    f"gap {ref['best_competitor_gap']:.0e})."
                )
        check = entry.get("objective_check_max_rel", 0.0)
        if check > 1e-12:
            note += f" Warning: the plain-numpy objective differs by {check:.0e} (relative)."
        skipped = [f"{r['method']} ({r['reason']})" for r in entry["results"]
                   if r["status"] == "skipped"]  # fmt: skip
        if skipped:
            note += " Skipped: " + "; ".join(skipped) + "."
        notes.append(note)
    lines += ["", *notes, ""]
    profile = [row for entry in results["problems"] for row in _profile_rows(entry)]
    if profile:
        lines += [
            "Where mnlogit's time goes (calls / seconds, outermost objective calls only; "
            "*other* = probabilities, linear predictor, back-projection (IRLS); *rest* = "
            "everything outside the objective: input validation, the Newton solve, CG and "
            "L-BFGS vector algebra, line-search bookkeeping):",
            "",
            "| problem | method | solver | iters | f+grad | f only | Hessian | H·v | other | "
            "rest | total |",
            "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
            *profile,
            "",
        ]
    return "\n".join(lines)


def update_docs(markdown: str, path: Path = DOCS, section: str | None = None) -> None:
    """Replace the text between a section's markers in ``path`` with ``markdown``.

    The markers (``<!-- benchmark-results:start -->`` and ``...:end -->``, or
    ``benchmark-results:SECTION:...`` for a named section) are appended when missing.
    """
    start, end = _markers(section)
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if start not in text or end not in text:
        text = text.rstrip("\n") + f"\n\n{start}\n{end}\n"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{markdown.rstrip()}\n{end}{tail}")


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.report [RESULTS] [--no-docs]``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report")
    parser.add_argument(
        "results", nargs="?", type=Path, default=REPO_ROOT / "benchmarks/results/latest.json"
    )
    parser.add_argument("--no-docs", action="store_true", help="print only")
    parser.add_argument("--docs", type=Path, default=DOCS)
    parser.add_argument(
        "--section", default=None, help="write between the markers benchmark-results:SECTION"
    )
    args = parser.parse_args(argv)
    markdown = render(json.loads(args.results.read_text()))
    print(markdown)
    if not args.no_docs:
        update_docs(markdown, args.docs, args.section)


if __name__ == "__main__":
    main()
