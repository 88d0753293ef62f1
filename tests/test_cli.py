"""The ``mnlogit`` command: fit, predict, summary, report, demo and its error contract.

Commands run in-process through ``mnlogit.cli.main`` (fast, output captured with capsys);
one test runs the installed console script in a subprocess to check the entry point and
that the exit status reaches the shell.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mnlogit import MultinomialLogit, load
from mnlogit.cli import main

FORMULA = "risk ~ age + income + C(region)"
CLASSES = ["high", "low", "medium"]
PROB_COLUMNS = [f"prob_{c}" for c in CLASSES]


def make_frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n).round(1),
            "income": rng.normal(50, 15, n).round(1),
            "region": rng.choice(["east", "north", "south"], n),
            "cluster": rng.integers(0, 20, n),
        }
    )
    eta = np.column_stack(
        [np.zeros(n), -2 + 0.05 * frame["age"], 1 - 0.03 * frame["income"]]
    ).astype(float)
    prob = np.exp(eta)
    prob /= prob.sum(axis=1, keepdims=True)
    u = rng.uniform(size=(n, 1))
    frame["risk"] = np.array(["low", "medium", "high"])[(u > prob.cumsum(axis=1)).sum(axis=1)]
    return frame


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Data files, and a model fitted through the CLI, shared by the module."""
    d = tmp_path_factory.mktemp("cli")
    frame = make_frame()
    out = {"dir": d, "csv": d / "data.csv", "parquet": d / "data.parquet"}
    frame.to_csv(out["csv"], index=False)
    frame.to_parquet(out["parquet"], index=False)
    # missing values in a predictor
    missing = frame.copy()
    missing.loc[[3, 7, 11], "age"] = np.nan
    out["missing"] = d / "missing.csv"
    missing.to_csv(out["missing"], index=False)
    # a region level the model never saw
    unseen = frame.copy()
    unseen.loc[5, "region"] = "atlantis"
    out["unseen"] = d / "unseen.csv"
    unseen.to_csv(out["unseen"], index=False)
    # new data without the response column
    out["new"] = d / "new.parquet"
    frame.drop(columns="risk").iloc[:40].to_parquet(out["new"], index=False)
    # same data under an extension nobody reads
    out["unknown_ext"] = d / "data.xlsx2"
    shutil.copy(out["csv"], out["unknown_ext"])
    # a model fitted through the CLI
    out["model"] = d / "model.mnlogit"
    assert main(["fit", str(out["csv"]), "--formula", FORMULA, "-o", str(out["model"]), "-q"]) == 0
    return out


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_frame()


@pytest.fixture(scope="module")
def api_model(frame: pd.DataFrame) -> MultinomialLogit:
    return MultinomialLogit(formula=FORMULA).fit(frame)


def progress_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if " iter " in line and line.startswith("[")]


def assert_one_error_line(rc: int, out: str, err: str, *needles: str) -> None:
    """The error contract: status 2, one ``mnlogit: error:`` line, no traceback."""
    assert rc == 2, (out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {lines}"
    assert lines[0].startswith("mnlogit: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    assert "Traceback" not in out and "Traceback" not in err
    assert 'File "' not in out and 'File "' not in err
    assert out.strip() == "", f"nothing expected on stdout, got {out!r}"


# ---------------------------------------------------------------------- fit
def test_fit_csv_prints_summary_progress_and_writes_a_loadable_model(
    files, api_model, tmp_path, capsys
) -> None:
    target = tmp_path / "m.mnlogit"
    rc = main(["fit", str(files["csv"]), "--formula", FORMULA, "--output", str(target)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "Multinomial logit regression results" in out
    assert "class = low  (against reference high)" in out
    assert f"model written to {target}" in out
    assert str(api_model.summary()) in out

    # progress: one line per iteration on stderr, none on stdout
    lines = progress_lines(err)
    assert len(lines) >= api_model.n_iter_ >= 1
    assert lines[0].startswith("[newton] iter    0")
    assert not progress_lines(out)

    model = load(target)
    assert list(model.classes_) == CLASSES
    np.testing.assert_allclose(model.coef_, api_model.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.intercept_, api_model.intercept_, rtol=1e-10, atol=1e-12)
    frame = pd.read_csv(files["csv"])
    np.testing.assert_allclose(
        model.predict_proba(frame), api_model.predict_proba(frame), rtol=1e-10, atol=1e-14
    )
    assert str(model.summary()) == str(api_model.summary())


def test_fit_parquet_equals_csv(files, api_model, tmp_path, capsys) -> None:
    target = tmp_path / "pq.mnlogit"
    rc = main(["fit", str(files["parquet"]), "--formula", FORMULA, "-o", str(target), "--quiet"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "Multinomial logit regression results" in out
    model = load(target)
    np.testing.assert_allclose(model.coef_, api_model.coef_, rtol=1e-10, atol=1e-12)


def test_fit_quiet_prints_no_progress(files, capsys) -> None:
    rc = main(["fit", str(files["csv"]), "--formula", FORMULA, "--quiet"])
    out, err = capsys.readouterr()
    assert rc == 0
    assert not progress_lines(err) and not progress_lines(out)
    assert err.strip() == ""
    assert "model written" not in out  # no --output: nothing written
    assert "Multinomial logit regression results" in out


def test_fit_reference(files, frame, tmp_path, capsys) -> None:
    target = tmp_path / "ref.mnlogit"
    argv = ["fit", str(files["csv"]), "--formula", FORMULA, "--reference", "medium", "-q"]
    rc = main([*argv, "-o", str(target)])
    out, _ = capsys.readouterr()
    assert rc == 0
    assert "against reference medium" in out
    model = load(target)
    assert model.reference_ == "medium"
    ref = list(model.classes_).index("medium")
    np.testing.assert_array_equal(model.coef_[ref], 0.0)
    expected = MultinomialLogit(formula=FORMULA, reference="medium").fit(frame)
    np.testing.assert_allclose(model.coef_, expected.coef_, rtol=1e-10, atol=1e-12)


def test_fit_reference_with_integer_labels(tmp_path, frame, capsys) -> None:
    data = frame.assign(code=frame["risk"].map({"low": 0, "medium": 1, "high": 2}))
    path = tmp_path / "int.csv"
    data.to_csv(path, index=False)
    target = tmp_path / "int.mnlogit"
    rc = main(
        [
            "fit",
            str(path),
            "--formula",
            "code ~ age + income",
            "--reference",
            "1",
            "-q",
            "-o",
            str(target),
        ]
    )
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "against reference 1" in out
    model = load(target)
    assert model.reference_ == 1
    assert list(model.classes_) == [0, 1, 2]


def test_fit_reference_none_is_symmetric(files, capsys) -> None:
    rc = main(["fit", str(files["csv"]), "--formula", FORMULA, "--reference", "none", "-q"])
    out, _ = capsys.readouterr()
    assert rc == 0
    assert "symmetric form" in out
    assert "against reference" not in out


def test_fit_reference_with_transformed_response(files, frame, capsys) -> None:
    """The formula API accepts a left-hand side such as ``C(risk)`` (the labels are the
    ``risk`` column); ``--reference`` must find the labels there too."""
    formula = "C(risk) ~ age + income"
    api = MultinomialLogit(formula=formula, reference="low").fit(frame)
    assert api.reference_ == "low"
    rc = main(["fit", str(files["csv"]), "--formula", formula, "--reference", "low", "-q"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "against reference low" in out


def test_fit_penalty_and_alpha(files, frame, tmp_path, capsys) -> None:
    target = tmp_path / "l2.mnlogit"
    argv = ["fit", str(files["csv"]), "--formula", FORMULA, "--penalty", "l2", "--alpha", "0.1"]
    # warnings are printed as one line each on stderr, not in Python's source-line format
    rc = main([*argv, "-q", "-o", str(target)])
    out, err = capsys.readouterr()
    assert rc == 0
    assert "mnlogit: warning: standard errors of a penalized fit" in err
    assert ".py:" not in err
    assert "l2, alpha=0.1" in out
    assert "Penalized fit" in out
    model = load(target)
    assert model.penalty == "l2"
    assert model.alpha_ == pytest.approx(0.1)
    expected = MultinomialLogit(formula=FORMULA, penalty="l2", alpha=0.1).fit(frame)
    np.testing.assert_allclose(model.coef_, expected.coef_, rtol=1e-8, atol=1e-10)
    unpenalized = MultinomialLogit(formula=FORMULA).fit(frame)
    assert model.loglik_ < unpenalized.loglik_


@pytest.mark.parametrize("cov_type", ["robust", "cluster"])
def test_fit_cov_types(files, frame, tmp_path, capsys, cov_type) -> None:
    target = tmp_path / f"{cov_type}.mnlogit"
    argv = ["fit", str(files["csv"]), "--formula", FORMULA, "--cov-type", cov_type]
    groups = None
    if cov_type == "cluster":
        argv += ["--groups", "cluster"]
        groups = frame["cluster"].to_numpy()
    rc = main([*argv, "-q", "-o", str(target)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    model = load(target)
    assert model.cov_type_ == cov_type
    expected = MultinomialLogit(formula=FORMULA, cov_type=cov_type).fit(frame, groups=groups)
    ours, theirs = model.coef_table(), expected.coef_table()
    np.testing.assert_allclose(ours["std_err"], theirs["std_err"], rtol=1e-8)
    nonrobust = MultinomialLogit(formula=FORMULA).fit(frame).coef_table()
    assert not np.allclose(ours["std_err"], nonrobust["std_err"], rtol=1e-3)
    row = next(line for line in out.splitlines() if "Covariance:" in line)
    assert cov_type in row


def test_fit_cov_type_none(files, tmp_path, capsys) -> None:
    target = tmp_path / "nocov.mnlogit"
    rc = main(
        [
            "fit",
            str(files["csv"]),
            "--formula",
            FORMULA,
            "--cov-type",
            "none",
            "-q",
            "-o",
            str(target),
        ]
    )
    out, _ = capsys.readouterr()
    assert rc == 0
    assert "converged" in out
    assert "no standard errors" in out
    assert load(target).cov_type_ is None


def test_fit_missing_drop(files, frame, tmp_path, capsys) -> None:
    target = tmp_path / "drop.mnlogit"
    argv = ["fit", str(files["missing"]), "--formula", FORMULA, "-q", "-o", str(target)]
    rc = main(argv)
    out, err = capsys.readouterr()
    assert_one_error_line(rc, out, err, "missing values", "'age': 3", "--missing drop")
    assert "missing='drop'" not in err  # the advice names the flag, not the Python argument

    rc = main([*argv, "--missing", "drop"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "mnlogit: warning: dropped 3 of 300 rows" in err
    assert re.search(r"Observations:\s+297\b", out)
    model = load(target)
    assert model.nobs_ == 297
    assert model.n_missing_dropped_ == 3
    data = pd.read_csv(files["missing"])
    expected = MultinomialLogit(formula=FORMULA).fit(data.dropna())
    np.testing.assert_allclose(model.coef_, expected.coef_, rtol=1e-10, atol=1e-12)


def test_fit_missing_drop_with_clusters(files, tmp_path, capsys) -> None:
    """Dropped rows leave the cluster column aligned with the rows kept."""
    target = tmp_path / "dropc.mnlogit"
    argv = ["fit", str(files["missing"]), "--formula", FORMULA, "--missing", "drop", "-q"]
    rc = main([*argv, "--cov-type", "cluster", "--groups", "cluster", "-o", str(target)])
    _, err = capsys.readouterr()
    assert "mnlogit: warning: dropped" in err
    assert rc == 0, err
    model = load(target)
    assert model.cov_type_ == "cluster"
    kept = pd.read_csv(files["missing"]).dropna()
    expected = MultinomialLogit(formula=FORMULA, cov_type="cluster").fit(
        kept, groups=kept["cluster"].to_numpy()
    )
    np.testing.assert_allclose(
        model.coef_table()["std_err"], expected.coef_table()["std_err"], rtol=1e-8
    )


def test_fit_rrr(files, api_model, capsys) -> None:
    rc = main(["fit", str(files["csv"]), "--formula", FORMULA, "--rrr", "-q"])
    out, _ = capsys.readouterr()
    assert rc == 0
    assert str(api_model.summary(exponentiate=True)) in out
    assert " rrr " in out
    assert "Relative risk ratios" in out


# ---------------------------------------------------------------------- predict
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_predict_writes_probabilities_and_labels(files, tmp_path, capsys, suffix) -> None:
    target = tmp_path / f"pred{suffix}"
    rc = main(["predict", str(files["model"]), str(files["csv"]), "--output", str(target)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    data = pd.read_csv(files["csv"])
    assert f"{len(data)} predictions written to {target}" in out
    pred = pd.read_csv(target) if suffix == ".csv" else pd.read_parquet(target)
    assert list(pred.columns) == [*PROB_COLUMNS, "predicted"]
    assert len(pred) == len(data)
    model = load(files["model"])
    np.testing.assert_allclose(pred[PROB_COLUMNS].sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        pred[PROB_COLUMNS].to_numpy(), model.predict_proba(data), rtol=1e-12, atol=1e-15
    )
    np.testing.assert_array_equal(pred["predicted"].to_numpy(), model.predict(data))


def test_predict_parquet_input_and_keep(files, tmp_path, capsys) -> None:
    target = tmp_path / "keep.parquet"
    rc = main(
        [
            "predict",
            str(files["model"]),
            str(files["parquet"]),
            "-o",
            str(target),
            "--keep",
            "risk",
            "region",
        ]
    )
    _, err = capsys.readouterr()
    assert rc == 0, err
    data = pd.read_parquet(files["parquet"])
    pred = pd.read_parquet(target)
    assert set(pred.columns) == {"risk", "region", *PROB_COLUMNS, "predicted"}
    np.testing.assert_array_equal(pred["risk"].to_numpy(), data["risk"].to_numpy())
    np.testing.assert_array_equal(pred["region"].to_numpy(), data["region"].to_numpy())
    np.testing.assert_allclose(pred[PROB_COLUMNS].sum(axis=1), 1.0, atol=1e-12)


def test_predict_keep_preserves_the_order_given(files, tmp_path, capsys) -> None:
    """``--keep risk region`` copies the columns in the order they were named."""
    target = tmp_path / "order.csv"
    rc = main(
        [
            "predict",
            str(files["model"]),
            str(files["csv"]),
            "-o",
            str(target),
            "--keep",
            "risk",
            "region",
        ]
    )
    capsys.readouterr()
    assert rc == 0
    assert list(pd.read_csv(target).columns) == ["risk", "region", *PROB_COLUMNS, "predicted"]


def test_predict_to_stdout_on_data_without_response(files, capsys) -> None:
    rc = main(["predict", str(files["model"]), str(files["new"])])
    out, err = capsys.readouterr()
    assert rc == 0, err
    pred = pd.read_csv(io.StringIO(out))
    assert list(pred.columns) == [*PROB_COLUMNS, "predicted"]
    assert len(pred) == 40
    model = load(files["model"])
    new = pd.read_parquet(files["new"])
    np.testing.assert_array_equal(pred["predicted"].to_numpy(), model.predict(new))
    np.testing.assert_allclose(pred[PROB_COLUMNS].sum(axis=1), 1.0, atol=1e-12)


# ---------------------------------------------------------------------- summary, report, demo
def test_summary(files, capsys) -> None:
    model = load(files["model"])
    rc = main(["summary", str(files["model"])])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert out == str(model.summary()) + "\n"
    for level in ("0.9", "90"):
        rc = main(["summary", str(files["model"]), "--rrr", "--level", level])
        out, _ = capsys.readouterr()
        assert rc == 0
        assert out == str(model.summary(alpha=0.1, exponentiate=True)) + "\n"
        assert "[90%" in out and " rrr " in out
    # --alpha is fit's ridge strength: summary refuses it and names --level
    rc = main(["summary", str(files["model"]), "--alpha", "0.1"])
    out, err = capsys.readouterr()
    assert_one_error_line(rc, out, err, "--level", "ridge strength")
    rc = main(["summary", str(files["model"]), "--level", "1.5"])
    out, err = capsys.readouterr()
    assert_one_error_line(rc, out, err, "--level must be in")


def test_summary_iia(files, frame, capsys) -> None:
    model = load(files["model"])
    rc = main(["summary", str(files["model"]), "--iia", str(files["csv"])])
    out, err = capsys.readouterr()
    assert rc == 0, err
    data = pd.read_csv(files["csv"])
    assert out == str(model.summary(iia=data)) + "\n"
    assert "IIA: Hausman-McFadden tests" in out and "IIA: generalized Hausman (suest)" in out
    hm = model.iia_test(data)
    for label, row in hm.iterrows():
        assert f"{row['statistic']:.4f}" in out, label
    rc = main(["summary", str(files["model"]), "--iia", str(files["csv"]), "--iia-seed", "3"])
    seeded, _ = capsys.readouterr()
    assert rc == 0
    sh = model.iia_test(data, method="small-hsiao", random_state=3)
    assert "Small-Hsiao tests (random split, seed 3)" in seeded
    assert all(f"{v:.4f}" in seeded for v in sh["statistic"])


def test_summary_iia_refuses_other_rows(files, tmp_path, capsys) -> None:
    part = tmp_path / "part.csv"
    pd.read_csv(files["csv"]).iloc[:200].to_csv(part, index=False)
    rc = main(["summary", str(files["model"]), "--iia", str(part)])
    out, err = capsys.readouterr()
    assert_one_error_line(rc, out, err, "need the training data")


def test_report(files, tmp_path, capsys) -> None:
    target = tmp_path / "r.html"
    rc = main(
        [
            "report",
            str(files["model"]),
            str(files["csv"]),
            "--output",
            str(target),
            "--title",
            "Risk & reward",
        ]
    )
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert f"report written to {target}" in out
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert page.rstrip().endswith("</html>")
    assert "<title>Risk &amp; reward</title>" in page
    assert "Multinomial logit regression results" in page
    assert "Formula: <code>risk ~ age + income + C(region)</code>" in page
    assert page.count("<img ") >= 5
    report = load(files["model"]).evaluate(pd.read_csv(files["csv"]))
    assert f"{report.accuracy:.4f}" in page
    assert "<h2>Specification tests</h2>" in page
    assert "IIA: Hausman-McFadden tests" in page and "IIA: suest tests" in page
    suest = load(files["model"]).iia_test(pd.read_csv(files["csv"]), method="suest")
    assert all(f"<td>{v:.4f}</td>" in page for v in suest["statistic"])


def test_report_warns_about_a_figure_it_cannot_draw_and_strict_fails(
    files, tmp_path, capsys, monkeypatch
) -> None:
    from mnlogit import plotting

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("no confusion today")

    monkeypatch.setattr(plotting, "plot_confusion_matrix", broken)
    target = tmp_path / "r.html"
    rc = main(["report", str(files["model"]), str(files["csv"]), "-o", str(target)])
    out, err = capsys.readouterr()
    assert rc == 0
    assert "mnlogit: warning: figure not drawn: Confusion matrix: no confusion today" in err
    assert "could not be drawn" in target.read_text(encoding="utf-8")
    strict = tmp_path / "strict.html"
    rc = main(["report", str(files["model"]), str(files["csv"]), "-o", str(strict), "--strict"])
    out, err = capsys.readouterr()
    assert_one_error_line(rc, out, err, "figure not drawn: Confusion matrix")
    assert not strict.exists()


def test_demo(tmp_path, capsys) -> None:
    target = tmp_path / "demo"
    rc = main(["demo", "--output-dir", str(target), "--quiet"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert not progress_lines(err)
    assert "Multinomial logit regression results" in out
    assert re.search(r"Observations:\s+944\b", out)
    assert "against reference Strong Democrat" in out
    assert "Evaluation on 944 rows" in out
    model_path, report_path = target / "model.mnlogit", target / "report.html"
    assert model_path.is_file() and report_path.is_file()
    model = load(model_path)
    assert model.classes_.size == 7
    assert model.reference_ == "Strong Democrat"
    # the 7-point party scale in its own order (an ordered categorical), not alphabetical
    from mnlogit.datasets import ANES96_PARTY_LABELS

    scale = [ANES96_PARTY_LABELS[code] for code in range(7)]
    assert model.classes_.tolist() == scale
    headers = re.findall(r"^class = (.+?)  \(against", out, re.M)
    assert headers == scale[1:]
    assert str(model.summary()) in out
    page = report_path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "ANES 1996 party identification" in page
    assert "<img " in page


# ---------------------------------------------------------------------- errors
def _data_offset(archive: bytes, member: str) -> int:
    """Where ``member``'s (compressed) data start in a ZIP archive."""
    info = zipfile.ZipFile(io.BytesIO(archive)).getinfo(member)
    name_len, extra_len = struct.unpack(
        "<HH", archive[info.header_offset + 26 : info.header_offset + 30]
    )
    return info.header_offset + 30 + name_len + extra_len


def _central_entry(archive: bytes, member: str) -> int:
    """Offset of ``member``'s central-directory record."""
    pos = archive.find(b"PK\x01\x02")
    while pos != -1:
        name_len = struct.unpack("<H", archive[pos + 28 : pos + 30])[0]
        if archive[pos + 46 : pos + 46 + name_len] == member.encode():
            return pos
        pos = archive.find(b"PK\x01\x02", pos + 4)
    raise AssertionError(f"{member} not in the archive")


def corrupt_model_files(model: Path, d: Path) -> dict[str, Path]:
    """Damaged copies of a good model file, each damaged in a known, deterministic way."""
    raw = model.read_bytes()
    out: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        out[name] = d / f"{name}.mnlogit"
        out[name].write_bytes(data)

    put("garbage", b"this is not a model file at all\n" * 10)
    put("truncated", raw[: len(raw) // 2])
    put("empty", b"")

    with zipfile.ZipFile(model) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}

    def rezip(replace: dict[str, bytes | None], method: int = zipfile.ZIP_DEFLATED) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=method) as zf:
            for member, blob in members.items():
                new = replace.get(member, blob)
                if new is not None:
                    zf.writestr(member, new)
        return buf.getvalue()

    coef = members["coef.npy"]
    put("checksum", rezip({"coef.npy": coef[:-8] + b"\x00" * 8}))
    put("bad_json", rezip({"model.json": b"{not json"}))
    put("no_json", rezip({"model.json": None}))
    put("no_coef", rezip({"coef.npy": None}))
    meta = json.loads(members["model.json"])
    del meta["classes"]
    put("incomplete_json", rezip({"model.json": json.dumps(meta).encode()}))

    # a changed byte in a stored (uncompressed) member: the ZIP CRC catches it
    stored = bytearray(rezip({}, method=zipfile.ZIP_STORED))
    at = stored.index(b'"format"', _data_offset(bytes(stored), "model.json"))
    stored[at + 1] ^= 0x20  # "format" -> "Format"
    put("crc", bytes(stored))

    # a damaged deflate stream: the first block header of model.json says block type 3
    # (reserved), which zlib rejects ("invalid block type")
    deflated = bytearray(raw)
    deflated[_data_offset(raw, "model.json")] |= 0x06
    put("bad_deflate", bytes(deflated))

    # the central directory names a compression method that does not exist
    method = bytearray(raw)
    entry = _central_entry(raw, "model.json")
    method[entry + 10 : entry + 12] = struct.pack("<H", 99)
    put("unknown_compression", bytes(method))
    return out


@pytest.fixture(scope="module")
def corrupted(files) -> dict[str, Path]:
    d = files["dir"] / "corrupted"
    d.mkdir()
    return corrupt_model_files(files["model"], d)


def error_cases(files: dict[str, Path]) -> dict[str, tuple[list[str], tuple[str, ...]]]:
    csv, model = str(files["csv"]), str(files["model"])
    return {
        "missing data file": (
            ["fit", str(files["dir"] / "nope.csv"), "--formula", FORMULA],
            ("no such file", "nope.csv"),
        ),
        "unknown extension": (
            ["fit", str(files["unknown_ext"]), "--formula", FORMULA],
            ("unknown extension", ".xlsx2"),
        ),
        "bad formula": (["fit", csv, "--formula", "risk ~ age +"], ("cannot parse formula",)),
        "unbalanced formula": (["fit", csv, "--formula", "risk ~ (age"], ("formula",)),
        "no left-hand side": (["fit", csv, "--formula", "age + income"], ("left-hand side",)),
        "unknown column": (
            ["fit", csv, "--formula", "risk ~ age + shoe_size"],
            ("shoe_size", "not in the data"),
        ),
        "unknown response": (["fit", csv, "--formula", "danger ~ age"], ("danger",)),
        "unknown reference": (
            ["fit", csv, "--formula", FORMULA, "--reference", "extreme"],
            ("--reference", "'extreme'"),
        ),
        "cluster without groups": (
            ["fit", csv, "--formula", FORMULA, "--cov-type", "cluster"],
            ("--groups",),
        ),
        "cluster with unknown groups": (
            ["fit", csv, "--formula", FORMULA, "--cov-type", "cluster", "--groups", "nope"],
            ("--groups", "'nope'"),
        ),
        "missing model file": (
            ["predict", str(files["dir"] / "nope.mnlogit"), csv],
            ("no such model file", "nope.mnlogit"),
        ),
        "summary of missing model file": (
            ["summary", str(files["dir"] / "nope.mnlogit")],
            ("no such model file",),
        ),
        "unseen category level": (
            ["predict", model, str(files["unseen"])],
            ("'region'", "atlantis"),
        ),
        "predict with missing values": (
            ["predict", model, str(files["missing"])],
            ("missing values",),
        ),
        "keep unknown column": (
            ["predict", model, csv, "--keep", "nope"],
            ("--keep", "'nope'"),
        ),
        "predict output extension": (
            ["predict", model, csv, "-o", str(files["dir"] / "out.xlsx")],
            ("cannot write",),
        ),
        "iia on data that are not the training data": (
            ["summary", model, "--iia", str(files["new"])],
            ("risk",),
        ),
        "report on missing data file": (
            ["report", model, str(files["dir"] / "nope.csv"), "-o", str(files["dir"] / "x.html")],
            ("no such file",),
        ),
    }


ERROR_NAMES = [
    "missing data file",
    "unknown extension",
    "bad formula",
    "unbalanced formula",
    "no left-hand side",
    "unknown column",
    "unknown response",
    "unknown reference",
    "cluster without groups",
    "cluster with unknown groups",
    "missing model file",
    "summary of missing model file",
    "unseen category level",
    "predict with missing values",
    "keep unknown column",
    "predict output extension",
    "iia on data that are not the training data",
    "report on missing data file",
]


@pytest.mark.parametrize("name", ERROR_NAMES)
def test_errors_print_one_line_and_return_2(files, capsys, name) -> None:
    argv, needles = error_cases(files)[name]
    rc = main(argv)
    out, err = capsys.readouterr()
    assert_one_error_line(rc, out, err, *needles)


def test_error_case_list_is_complete(files) -> None:
    assert sorted(error_cases(files)) == sorted(ERROR_NAMES)


CORRUPTIONS = [
    "garbage",
    "truncated",
    "empty",
    "checksum",
    "bad_json",
    "no_json",
    "no_coef",
    "incomplete_json",
    "crc",
    "bad_deflate",
    "unknown_compression",
]


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_corrupted_model_file(files, corrupted, tmp_path, capsys, kind) -> None:
    """Every command that reads the model refuses a damaged file with one line that names
    the file (as for any unreadable model file), and writes nothing."""
    path = str(corrupted[kind])
    for argv in (
        ["summary", path],
        ["predict", path, str(files["csv"]), "-o", str(tmp_path / "p.csv")],
        ["report", path, str(files["csv"]), "-o", str(tmp_path / "r.html")],
    ):
        rc = main(argv)
        out, err = capsys.readouterr()
        assert_one_error_line(rc, out, err, path)
        assert "unexpected" not in err
    assert not (tmp_path / "p.csv").exists() and not (tmp_path / "r.html").exists()


def test_corruption_list_is_complete(corrupted) -> None:
    assert sorted(corrupted) == sorted(CORRUPTIONS)


def test_usage_errors_exit_through_argparse(files, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["fit", str(files["csv"])])  # --formula is required
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["fit", str(files["csv"]), "--formula", FORMULA, "--cov-type", "bogus"])
    assert info.value.code == 2
    _, err = capsys.readouterr()
    assert "Traceback" not in err


# ---------------------------------------------------------------------- the real console script
def console_script() -> str:
    beside = Path(sys.executable).with_name("mnlogit")
    if beside.is_file():
        return str(beside)
    found = shutil.which("mnlogit")
    assert found is not None, "the mnlogit console script is not installed"
    return found


def test_console_script_entry_point_and_exit_status(files) -> None:
    """One run of the installed ``mnlogit`` script: an error reaches the shell as status 2,
    with one line on stderr and no traceback."""
    proc = subprocess.run(
        [console_script(), "fit", str(files["csv"]), "--formula", "risk ~ age + shoe_size"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert_one_error_line(proc.returncode, proc.stdout, proc.stderr, "shoe_size")


# ---------------------------------------------------------------------- completeness (issue 17)
def test_version(capsys) -> None:
    from mnlogit import __version__

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"mnlogit {__version__}"


def test_every_api_solver_is_offered_and_fits(files, api_model, tmp_path, capsys) -> None:
    from mnlogit.cli import SOLVER_CHOICES
    from mnlogit.solvers import SOLVERS

    assert set(SOLVER_CHOICES) == {"auto", *SOLVERS}
    target = tmp_path / "sub.mnlogit"
    argv = ["fit", str(files["csv"]), "--formula", FORMULA, "-q", "-o", str(target)]
    assert main([*argv, "--solver", "subsample-newton"]) == 0
    capsys.readouterr()
    model = load(target)
    assert model.solver_ == "subsample-newton"
    np.testing.assert_allclose(model.coef_, api_model.coef_, rtol=1e-5, atol=1e-7)


def test_fit_penalty_firth_equals_the_api(files, frame, tmp_path, capsys) -> None:
    target = tmp_path / "firth.mnlogit"
    argv = ["fit", str(files["csv"]), "--formula", FORMULA, "-q", "-o", str(target)]
    rc = main([*argv, "--penalty", "firth"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "Firth" in out
    expected = MultinomialLogit(formula=FORMULA, penalty="firth").fit(frame)
    np.testing.assert_allclose(load(target).coef_, expected.coef_, rtol=1e-8, atol=1e-10)


def test_fit_without_output_says_nothing_was_saved(files, capsys) -> None:
    assert main(["fit", str(files["csv"]), "--formula", FORMULA, "-q"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("model not saved (give --output FILE to save it)")


@pytest.mark.parametrize(
    ("sep", "decimal", "flag"),
    [(";", ",", None), (";", ".", None), ("\t", ".", None), ("|", ".", None), (";", ".", ";")],
)
def test_delimiters_are_sniffed_or_given(frame, tmp_path, capsys, sep, decimal, flag) -> None:
    from mnlogit.cli import read_table

    path = tmp_path / "data.csv"
    frame.to_csv(path, sep=sep, decimal=decimal, index=False)
    read = read_table(str(path), flag)
    assert list(read.columns) == list(frame.columns)
    pd.testing.assert_frame_equal(read, frame, check_dtype=False)
    target = tmp_path / "m.mnlogit"
    argv = ["fit", str(path), "--formula", FORMULA, "-q", "-o", str(target)]
    assert main(argv + (["--sep", flag] if flag else [])) == 0
    capsys.readouterr()
    assert load(target).coef_.shape == (3, 4)  # age, income and two region indicators


def test_sep_on_a_file_that_has_none(files, capsys) -> None:
    rc = main(["predict", str(files["model"]), str(files["new"]), "--sep", ";"])
    out, err = capsys.readouterr()
    assert_one_error_line(rc, out, err, "--sep applies to .csv, .tsv and .txt files")
    rc = main(["fit", str(files["csv"]), "--formula", FORMULA, "--sep", ";;"])
    out, err = capsys.readouterr()
    assert_one_error_line(rc, out, err, "--sep must be one character")


def test_summary_of_a_separated_fit_shows_the_coefficients_and_the_note(tmp_path, capsys) -> None:
    data = pd.DataFrame({"x": np.arange(1.0, 13.0), "y": ["a"] * 4 + ["b"] * 4 + ["c"] * 4})
    path = tmp_path / "sep.csv"
    data.to_csv(path, index=False)
    target = tmp_path / "sep.mnlogit"
    assert main(["fit", str(path), "--formula", "y ~ x", "-q", "-o", str(target)]) == 0
    _, err = capsys.readouterr()
    assert "--penalty firth" in err and "penalty='firth'" not in err
    rc = main(["summary", str(target)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert out.count("no standard errors") == 1
    assert "separat" in out and "--penalty firth" in out
    model = load(target)
    for value in [*model.intercept_[1:], *model.coef_[1:, 0]]:
        assert f"{value:.6g}" in out


def test_predict_on_missing_values(files, tmp_path, capsys) -> None:
    """A model fitted with --missing drop predicts data with missing values: empty
    predictions by default, the rows left out with --missing drop, refused with error."""
    target = tmp_path / "drop.mnlogit"
    fit = ["fit", str(files["missing"]), "--formula", FORMULA, "-q", "-o", str(target)]
    assert main([*fit, "--missing", "drop"]) == 0
    capsys.readouterr()
    data = pd.read_csv(files["missing"])  # age missing in rows 3, 7, 11
    out_path = tmp_path / "p.csv"
    assert main(["predict", str(target), str(files["missing"]), "-o", str(out_path)]) == 0
    _, err = capsys.readouterr()
    assert "3 of 300 rows have missing values" in err and "fitted with --missing drop" in err
    out = pd.read_csv(out_path)
    assert len(out) == 300
    assert out.loc[[3, 7, 11], PROB_COLUMNS].isna().all().all()
    assert out.loc[[3, 7, 11], "predicted"].isna().all()
    complete = data.dropna()
    expected = load(target).predict_proba(complete)
    np.testing.assert_allclose(out.loc[complete.index, PROB_COLUMNS].to_numpy(), expected)

    rc = main(["predict", str(target), str(files["missing"]), "--missing", "drop", "--keep", "age"])
    out_text, err = capsys.readouterr()
    assert rc == 0
    assert "skipped 3 of 300 rows with missing values" in err
    assert len(pd.read_csv(io.StringIO(out_text))) == 297
    rc = main(["predict", str(target), str(files["missing"]), "--missing", "error"])
    out_text, err = capsys.readouterr()
    assert_one_error_line(rc, out_text, err, "missing values", "--missing drop")


def test_report_with_held_out_data(files, tmp_path, capsys) -> None:
    test_path = tmp_path / "test.csv"
    make_frame(n=120, seed=9).to_csv(test_path, index=False)
    target = tmp_path / "held.html"
    argv = ["report", str(files["model"]), str(files["csv"]), "-o", str(target)]
    assert main([*argv, "--test-data", str(test_path)]) == 0
    capsys.readouterr()
    page = target.read_text(encoding="utf-8")
    held = load(files["model"]).evaluate(pd.read_csv(test_path))
    assert "<h2>Evaluation on held-out data</h2>" in page and "<p>120 rows.</p>" in page
    assert f"<td>{held.log_loss:.4f}</td>" in page
