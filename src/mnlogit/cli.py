"""The ``mnlogit`` command: fit, predict, summary, report, demo.

Errors (missing file, bad formula, unknown column, unreadable model) print one line
``mnlogit: error: ...`` to standard error and exit with status 2; there is never a
traceback. Long fits show one progress line per solver iteration on standard error
(``--quiet`` turns it off). Advice in messages names the command line's flags
(``--missing drop``, ``--penalty firth``), not the Python arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SOLVER_CHOICES", "cli_advice", "main", "read_table", "sniff_format", "write_table"]

_READERS = {
    ".csv": lambda p: pd.read_csv(p),
    ".txt": lambda p: pd.read_csv(p),
    ".tsv": lambda p: pd.read_csv(p, sep="\t"),
    ".parquet": lambda p: pd.read_parquet(p),
    ".pq": lambda p: pd.read_parquet(p),
    ".feather": lambda p: pd.read_feather(p),
    ".json": lambda p: pd.read_json(p),
}
_DELIMITED = (".csv", ".txt", ".tsv")
_SNIFFED = ",;\t|"  # the delimiters a .csv or .txt file is sniffed for

#: the solvers the command line offers: every solver of the API (``mnlogit.solvers.SOLVERS``)
SOLVER_CHOICES = ("auto", "newton", "irls", "lbfgs", "newton-cg", "gd", "subsample-newton")

# Python-argument advice in library messages, as the command line's flags
_FLAG_ADVICE = (
    (re.compile(r"missing=['\"]drop['\"]"), "--missing drop"),
    (re.compile(r"penalty=['\"]firth['\"]"), "--penalty firth"),
    (re.compile(r"penalty=['\"]l2['\"]"), "--penalty l2"),
    (re.compile(r"solver=['\"]([\w-]+)['\"]"), r"--solver \1"),
    (re.compile(r"max_iter=(\d+)"), r"--max-iter \1"),
    (re.compile(r"l1_ratio"), "--l1-ratio"),
)

#: the penalties whose fits select terms: their output lists the nonzero terms
_SPARSE = ("l1", "elasticnet", "group")


def cli_advice(message: str) -> str:
    """``message`` with Python-argument advice (``missing='drop'``) written as the flags
    of the command line (``--missing drop``)."""
    for pattern, flag in _FLAG_ADVICE:
        message = pattern.sub(flag, message)
    return message


def _separator(value: str | None) -> str | None:
    """``--sep`` as typed: ``tab`` or ``\\t`` for a tab, otherwise one character."""
    if value is None:
        return None
    sep = "\t" if value in ("tab", "\\t", "\t") else value
    if len(sep) != 1:
        raise CliError(f"--sep must be one character (or 'tab'), got {value!r}")
    return sep


def sniff_format(path: Path, sep: str | None = None) -> tuple[str, str]:
    """The delimiter and decimal mark of a delimited text file, from its first 64 KiB.

    The delimiter (unless ``sep`` gives it) is one of ``,`` ``;`` tab ``|`` (``,`` when
    the sample says nothing clear). The decimal mark is ``,`` when the delimiter is not
    a comma and the sample writes numbers only as ``0,5`` (a European CSV), else ``.``.
    """
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        sample = fh.read(65536)
    lines = sample.splitlines()
    if len(lines) > 1 and len(sample) == 65536:
        sample = "\n".join(lines[:-1])  # the last line may be cut
    delimiter = sep
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=_SNIFFED).delimiter
        except csv.Error:
            delimiter = ","
    comma_decimals = re.search(r"\d,\d", sample) and not re.search(r"\d\.\d", sample)
    return delimiter, "," if delimiter != "," and comma_decimals else "."


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def _read_delimited(path: Path, sep: str | None) -> pd.DataFrame:
    delimiter, decimal = sniff_format(path, sep)
    return pd.read_csv(path, sep=delimiter, decimal=decimal)


def read_table(path: str, sep: str | None = None) -> pd.DataFrame:
    """Read a data file by its extension (CSV, TSV, Parquet, Feather, JSON).

    A ``.csv`` or ``.txt`` file's delimiter is sniffed (``,`` ``;`` tab ``|``) unless
    ``sep`` gives it; ``.tsv`` is tab-separated unless ``sep`` says otherwise. With a
    delimiter other than ``,``, decimal commas (``0,5``) are read as numbers when the file
    has no decimal points (see :func:`sniff_format`).
    """
    p = Path(path)
    if not p.exists():
        raise CliError(f"no such file: {path}")
    suffix = p.suffix.lower()
    reader = _READERS.get(suffix)
    if sep is not None and suffix not in _DELIMITED:
        raise CliError(f"--sep applies to .csv, .tsv and .txt files, not {suffix!r}")
    if suffix in _DELIMITED and p.is_file():
        reader = partial(_read_delimited, sep=sep or ("\t" if suffix == ".tsv" else None))
    if reader is None:
        raise CliError(
            f"cannot read {path}: unknown extension {p.suffix!r} "
            f"(use one of {', '.join(sorted(_READERS))})"
        )
    try:
        return reader(p)
    except ImportError as exc:
        raise CliError(
            f"reading {p.suffix} files needs pyarrow: pip install 'mnlogit[parquet]' ({exc})"
        ) from exc
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from exc


def write_table(frame: pd.DataFrame, path: str) -> None:
    """Write CSV or Parquet by the extension of ``path``, atomically (a failed write
    leaves an existing file as it was; see :func:`mnlogit.io.atomic_write`)."""
    from mnlogit.io import atomic_write

    suffix = Path(path).suffix.lower()
    writers = {
        ".parquet": lambda fh: frame.to_parquet(fh, index=False),
        ".pq": lambda fh: frame.to_parquet(fh, index=False),
        ".csv": lambda fh: frame.to_csv(fh, index=False, encoding="utf-8"),
        ".txt": lambda fh: frame.to_csv(fh, index=False, encoding="utf-8"),
        "": lambda fh: frame.to_csv(fh, index=False, encoding="utf-8"),
        ".tsv": lambda fh: frame.to_csv(fh, index=False, sep="\t", encoding="utf-8"),
    }
    if suffix not in writers:
        raise CliError(f"cannot write {path}: use a .csv, .tsv or .parquet file name")
    try:
        atomic_write(path, writers[suffix])
    except ImportError as exc:
        raise CliError(
            f"writing Parquet needs pyarrow: pip install 'mnlogit[parquet]' ({exc})"
        ) from exc


@contextlib.contextmanager
def _progress(enabled: bool) -> Iterator[None]:
    """Route the solver's per-iteration lines to standard error."""
    if not enabled:
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield


def _load_model(path: str) -> Any:
    from mnlogit import load

    if not Path(path).exists():
        raise CliError(f"no such model file: {path}")
    return load(path)


def _reference(value: str | None, data: pd.DataFrame, formula: str) -> Any:
    """The reference label typed on the command line, in the response's own type."""
    if value is None:
        return "auto"
    if value in ("first", "last", "auto", "none"):
        return None if value == "none" else value
    from mnlogit.formula import FormulaDesign

    response = FormulaDesign.response_of(formula)
    if response in data.columns:
        column: Any = data[response].dropna()
        if hasattr(column, "compute"):  # a Dask column: its distinct values, one pass
            column = column.unique().compute()
        for label in pd.unique(column):
            if str(label) == value:
                return label.item() if isinstance(label, np.generic) else label
    raise CliError(f"--reference {value!r} is not a value of the response column {response!r}")


def _without_standard_errors(state: Any) -> str:
    """The coefficients of a model without a covariance, with the reason (and, for a
    separated fit, what the numbers are and what to do), and its convergence report."""
    status = str(state.cov_status or "no covariance")
    status = re.sub(r"^no standard errors:\s*", "", status)  # said once, below
    lines = [f"(no standard errors: {cli_advice(status)})"]
    if state.separation is not None:
        first = str(state.separation.message).splitlines()[0]
        lines.append(
            f"note: {first} The coefficients below are where the solver stopped, not "
            "estimates; refit with --penalty firth (bias-reduced) or --penalty l2 for "
            "finite estimates with standard errors."
        )
    coef = pd.DataFrame(
        np.column_stack([state.intercept, state.coef]),
        index=pd.Index([str(c) for c in state.classes], name="class"),
        columns=["Intercept", *state.feature_names],
    )
    lines.append(coef.to_string(float_format="{:.6g}".format))
    if state.convergence is not None:
        lines.append(str(state.convergence))
    return "\n".join(lines)


def _penalty_options(args: argparse.Namespace) -> dict[str, Any]:
    """The penalty flags checked against each other: ``--l1-ratio`` only with
    ``--penalty elasticnet`` or ``group``, ``--cv`` only with a sparse penalty (``l1`` when
    none is given) and without ``--alpha`` (which it chooses)."""
    penalty = args.penalty
    if args.cv is not None:
        if args.cv < 2:
            raise CliError(f"--cv must be at least 2 folds, got {args.cv}")
        penalty = penalty or "l1"
        if penalty not in _SPARSE:
            raise CliError(
                f"--cv chooses the strength of --penalty l1, elasticnet or group, not {penalty}"
            )
        if args.alpha is not None:
            raise CliError("--cv chooses alpha: give --cv or --alpha, not both")
    if args.l1_ratio is not None and penalty not in ("elasticnet", "group"):
        raise CliError("--l1-ratio applies to --penalty elasticnet or group")
    if penalty == "elasticnet" and args.l1_ratio is None:
        raise CliError("--penalty elasticnet needs --l1-ratio (0 < r <= 1; 1 is the lasso)")
    if penalty in _SPARSE and args.cv is None and args.alpha is None:
        raise CliError(f"--penalty {penalty} needs --alpha (the strength), or --cv N to choose it")
    if penalty not in _SPARSE and args.select != "min":
        raise CliError("--select applies to --cv")
    options: dict[str, Any] = {"penalty": penalty}
    if penalty in _SPARSE:
        options["l1_ratio"] = args.l1_ratio
    return options


def _cross_validated(args: argparse.Namespace, data: pd.DataFrame, options: dict[str, Any]) -> Any:
    """``--cv N``: the path and its cross-validation on the formula's design matrix, the
    model refitted on all rows at the chosen alpha (a fitted ``MultinomialLogitCV``)."""
    from mnlogit.selection import MultinomialLogitCV

    cv_model = MultinomialLogitCV(
        formula=args.formula,
        cv=args.cv,
        n_alphas=args.n_alphas,
        select=args.select,
        missing=args.missing,
        max_iter=args.max_iter,
        **options,
    )
    cv_model.fit(data)
    n_folds = cv_model.cv_scores_.shape[0]
    print(
        f"cross-validation: {n_folds} folds, {cv_model.alphas_.size} alphas from "
        f"{cv_model.alphas_[0]:.4g} to {cv_model.alphas_[-1]:.4g}, score {cv_model.score_name_}"
    )
    best = int(np.flatnonzero(cv_model.alphas_ == cv_model.alpha_)[0])
    one_se = int(np.flatnonzero(cv_model.alphas_ == cv_model.alpha_1se_)[0])
    print(
        f"alpha_ (best mean score)  = {cv_model.alpha_:.6g}  "
        f"(mean {cv_model.cv_mean_[best]:.6g} +/- {cv_model.cv_se_[best]:.3g})"
    )
    print(
        f"alpha_1se_ (one-SE rule) = {cv_model.alpha_1se_:.6g}  "
        f"(mean {cv_model.cv_mean_[one_se]:.6g} +/- {cv_model.cv_se_[one_se]:.3g})"
    )
    chosen = "alpha_" if args.select == "min" else "alpha_1se_"
    print(f"refitted on all rows at {chosen} = {cv_model.alpha_selected_:.6g}\n")
    return cv_model


def cmd_fit(args: argparse.Namespace) -> int:
    if args.workers is not None or args.scheduler is not None:  # Dask (docs/dask.md)
        if args.cv is not None or args.penalty in _SPARSE or args.report:
            raise CliError(
                "--workers/--scheduler fit on Dask, which takes no --cv, --report or "
                "--penalty l1/elasticnet/group: fit those on data in memory"
            )
        from mnlogit.distributed.command import dask_session, dask_table

        with dask_session(args.workers, args.scheduler, progress=not args.quiet):
            return _fit(args, dask_table(args.data))
    return _fit(args, read_table(args.data, _separator(args.sep)))


def _fit(args: argparse.Namespace, data: Any) -> int:
    from mnlogit.estimator import MultinomialLogit

    options = _penalty_options(args)
    if args.cv is not None:
        with _progress(not args.quiet):
            cv_model = _cross_validated(args, data, options)
        _print_fit(cv_model.best_estimator_, args)
        _fit_report(cv_model, data, args)
        return 0
    model = MultinomialLogit(
        formula=args.formula,
        reference=_reference(args.reference, data, args.formula),
        alpha=args.alpha,
        solver=args.solver,
        cov_type=None if args.cov_type == "none" else args.cov_type,
        missing=args.missing,
        max_iter=args.max_iter,
        verbose=0 if args.quiet else 1,
        **options,
    )
    groups = None
    if args.cov_type == "cluster":
        if not args.groups:
            raise CliError("--cov-type cluster needs --groups COLUMN")
        if args.groups not in data.columns:
            raise CliError(f"--groups: no column {args.groups!r} in {args.data}")
        dask_frame = hasattr(data, "npartitions")  # a Dask fit reads the column itself
        groups = args.groups if dask_frame else data[args.groups].to_numpy()
    with _progress(not args.quiet):
        model.fit(data, groups=groups)
    _print_fit(model, args)
    _fit_report(model, data, args)
    return 0


def _fit_report(model: Any, data: pd.DataFrame, args: argparse.Namespace) -> None:
    """``fit --report FILE``: the HTML report of the fit on its data (for ``--cv``, with the
    cross-validation: the chosen alphas, the path and the CV curve)."""
    if not args.report:
        return
    from mnlogit.report import write_report

    write_report(model, data, args.report)
    print(f"report written to {args.report}")


def _print_fit(model: Any, args: argparse.Namespace) -> None:
    """The fitted model's summary (the nonzero terms of a sparse fit), and where it went."""
    if model.get_params()["penalty"] in _SPARSE:
        print(model.summary())
    elif model.cov_type_ is not None and model.fitted_.cov is not None:
        print(model.summary(exponentiate=args.rrr))
    else:
        print(_without_standard_errors(model.fitted_))
    if args.output:
        model.save(args.output)
        print(f"\nmodel written to {args.output}")
    else:
        print("\nmodel not saved (give --output FILE to save it)")


def cmd_predict(args: argparse.Namespace) -> int:
    model = _load_model(args.model)
    data = read_table(args.data, _separator(args.sep))
    rule = args.missing or ("nan" if model.get_params()["missing"] == "drop" else "error")
    design = model.fitted_.design
    if design is not None and rule == "drop":
        complete = design.complete_rows(data)
        if not complete.all():
            print(
                f"mnlogit: warning: skipped {int((~complete).sum())} of {complete.size} rows "
                "with missing values (--keep an id column to match the rest)",
                file=sys.stderr,
            )
            data = data.loc[complete].reset_index(drop=True)
    model.set_params(missing="drop" if rule == "nan" else "error")
    proba = model.predict_proba(data)
    out = pd.DataFrame(proba, columns=[f"prob_{c}" for c in model.classes_])
    predicted = model.classes_[np.argmax(np.nan_to_num(proba, nan=0.0), axis=1)].astype(object)
    predicted[np.isnan(proba).any(axis=1)] = None
    out["predicted"] = predicted
    for position, col in enumerate(args.keep or []):
        if col not in data.columns:
            raise CliError(f"--keep: no column {col!r} in {args.data}")
        out.insert(position, col, data[col].to_numpy())
    if args.output:
        write_table(out, args.output)
        print(f"{len(out)} predictions written to {args.output}")
    else:
        print(out.to_csv(index=False), end="")
    return 0


def _significance(args: argparse.Namespace) -> float:
    """``1 - level`` from ``summary --level`` (0.95 or 95); ``--alpha`` is refused, being
    the ridge strength of ``fit``."""
    if args.alpha is not None:
        raise CliError(
            "summary takes --level (the confidence level, e.g. 0.95 or 95), not --alpha: "
            "--alpha is the ridge strength of `mnlogit fit`"
        )
    level = args.level / 100 if args.level >= 1 else args.level
    if not (0 < args.level < 1 or 10 <= args.level < 100):
        raise CliError(
            f"--level must be in (0, 1) or, as a percentage, in [10, 100), got {args.level}"
        )
    return 1 - level


def cmd_summary(args: argparse.Namespace) -> int:
    model = _load_model(args.model)
    state = model.fitted_
    if model.get_params()["penalty"] in _SPARSE:
        print(model.summary())
        return 0
    if state.cov is None:
        print(_without_standard_errors(state))
        return 0
    iia = None
    if args.iia:
        if state.design is None:
            raise CliError(
                "--iia needs a model fitted with a formula (the response is read from DATA)"
            )
        iia = read_table(args.iia, _separator(args.sep))
    summary = model.summary(alpha=_significance(args), exponentiate=args.rrr, iia=iia)
    if args.iia and args.iia_seed is not None:
        table = model.iia_test(iia, method="small-hsiao", random_state=args.iia_seed)
        summary.add_section(f"IIA: Small-Hsiao tests (random split, seed {args.iia_seed})", table)
    print(summary)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from mnlogit.report import write_report

    model = _load_model(args.model)
    data = read_table(args.data, _separator(args.sep))
    test = read_table(args.test_data, _separator(args.sep)) if args.test_data else None
    write_report(model, data, args.output, title=args.title, strict=args.strict, test_data=test)
    print(f"report written to {args.output}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from mnlogit.demo import run_demo

    return run_demo(Path(args.output_dir), quiet=args.quiet)


def _add_penalty_arguments(parser: argparse.ArgumentParser) -> None:
    """``fit``'s penalty flags: ``--penalty``, ``--alpha``, ``--l1-ratio``, ``--cv``,
    ``--select``, ``--n-alphas``."""
    parser.add_argument(
        "--penalty",
        choices=["l2", "firth", "l1", "elasticnet", "group"],
        default=None,
        help="l2: ridge (strength --alpha); firth: bias-reduced, finite under separation; "
        "l1, elasticnet (with --l1-ratio), group (a feature's coefficients in all classes "
        "together): sparse fits, strength --alpha or chosen by --cv",
    )
    parser.add_argument(
        "--alpha", type=float, default=None, help="penalty strength (on the mean log loss)"
    )
    parser.add_argument(
        "--l1-ratio",
        type=float,
        default=None,
        metavar="R",
        help="share of L1 in --penalty elasticnet (or group): 1 is the lasso, 0 ridge",
    )
    parser.add_argument(
        "--cv",
        type=int,
        default=None,
        metavar="N",
        help="choose alpha by N-fold cross-validation over a path (--penalty l1 by default)",
    )
    parser.add_argument(
        "--select",
        choices=["min", "1se"],
        default="min",
        help="with --cv: refit at the best mean score (min) or by the one-SE rule (1se)",
    )
    parser.add_argument(
        "--n-alphas", type=int, default=100, metavar="L", help="with --cv: alphas on the path"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    from mnlogit import __version__

    parser = argparse.ArgumentParser(
        prog="mnlogit",
        description="Multinomial logistic regression: fit, predict, summarize, report.",
    )
    parser.add_argument("--version", action="version", version=f"mnlogit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    fit = sub.add_parser("fit", help="fit a model from a data file and a formula")
    fit.add_argument("data", help="CSV, TSV, Parquet, Feather or JSON file")
    fit.add_argument("--formula", required=True, help="e.g. 'risk ~ age + income + C(region)'")
    fit.add_argument("--reference", help="reference class (a value of the response), or 'none'")
    _add_penalty_arguments(fit)
    fit.add_argument("--solver", default="auto", choices=SOLVER_CHOICES)
    fit.add_argument(
        "--cov-type", default="nonrobust", choices=["nonrobust", "robust", "cluster", "none"]
    )
    fit.add_argument("--groups", help="cluster column for --cov-type cluster")
    fit.add_argument("--missing", default="error", choices=["error", "drop"])
    fit.add_argument("--max-iter", type=int, default=None)
    fit.add_argument("--rrr", action="store_true", help="show relative risk ratios")
    fit.add_argument("--output", "-o", help="model file to write")
    fit.add_argument(
        "--report",
        metavar="FILE",
        help="also write the HTML report of the fit on DATA (with --cv: the chosen alphas, "
        "the coefficient path and the CV curve)",
    )
    fit.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    fit.add_argument(
        "--workers",
        type=int,
        default=None,
        help="fit on Dask: a local cluster of N worker processes (Parquet or CSV files, a glob)",
    )
    fit.add_argument(
        "--scheduler", default=None, help="fit on Dask: the address of a running scheduler"
    )
    fit.set_defaults(func=cmd_fit)

    pred = sub.add_parser("predict", help="class probabilities and predicted class")
    pred.add_argument("model")
    pred.add_argument("data")
    pred.add_argument("--output", "-o", help="CSV or Parquet file (default: standard output)")
    pred.add_argument("--keep", nargs="*", help="data columns to copy into the output")
    pred.add_argument(
        "--missing",
        choices=["error", "drop", "nan"],
        default=None,
        help="rows with missing values: refuse them (error), leave them out (drop; counted "
        "on standard error) or keep them with empty predictions (nan); default: nan for a "
        "model fitted with --missing drop, else error",
    )
    pred.set_defaults(func=cmd_predict)

    summ = sub.add_parser("summary", help="print a saved model's summary")
    summ.add_argument("model")
    summ.add_argument(
        "--level",
        type=float,
        default=0.95,
        help="confidence level of the intervals: 0.95 or 95 (Stata's level())",
    )
    summ.add_argument("--alpha", type=float, default=None, help=argparse.SUPPRESS)
    summ.add_argument("--rrr", action="store_true", help="show relative risk ratios")
    summ.add_argument(
        "--iia",
        metavar="DATA",
        help="the training data file: add Hausman-McFadden and suest tests of IIA",
    )
    summ.add_argument(
        "--iia-seed",
        type=int,
        default=None,
        metavar="SEED",
        help="with --iia, also the Small-Hsiao test on a random split drawn from SEED",
    )
    summ.set_defaults(func=cmd_summary)

    rep = sub.add_parser("report", help="self-contained HTML report of a model on data")
    rep.add_argument("model")
    rep.add_argument("data")
    rep.add_argument("--output", "-o", required=True, help="HTML file to write")
    rep.add_argument("--title", default=None)
    rep.add_argument(
        "--test-data",
        metavar="FILE",
        help="held-out data for the evaluation, confusion matrix and calibration "
        "(default: DATA, labelled in-sample)",
    )
    rep.add_argument(
        "--strict",
        action="store_true",
        help="a figure that cannot be drawn is an error (exit 2, no report written)",
    )
    rep.set_defaults(func=cmd_report)
    for command in (fit, pred, summ, rep):
        command.add_argument(
            "--sep",
            default=None,
            metavar="CHAR",
            help="delimiter of .csv/.tsv/.txt data (default: sniffed among , ; tab |)",
        )

    demo = sub.add_parser("demo", help="fit, summarize and report on a bundled real dataset")
    demo.add_argument("--output-dir", default="mnlogit-demo")
    demo.add_argument("--quiet", "-q", action="store_true")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    from mnlogit.exceptions import MnlogitWarning
    from mnlogit.io import ModelFileError

    parser = build_parser()
    args = parser.parse_args(argv)

    def one_line_warning(message: Any, category: Any, *_: Any, **__: Any) -> None:
        print(f"mnlogit: warning: {cli_advice(str(message))}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default", MnlogitWarning)
            warnings.showwarning = one_line_warning
            status: int = args.func(args)
            return status
    except (CliError, ModelFileError, ValueError, KeyError, RuntimeError, OSError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"mnlogit: error: {cli_advice(message)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mnlogit: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # last resort: one line, never a traceback
        print(f"mnlogit: error: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
