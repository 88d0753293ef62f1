"""mnlogit.fingerprint: digests that tell the fit's data from other data, cheaply.

Scheme 2 (new fits) is checked against an independent ``hashlib`` computation of the bytes
the module docstring documents; both schemes ignore memory layout and storage format and
see changes of data, shape, dtype, labels and weights; scheme-1 records (model files of
format version 1) load and keep checking the data as before.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

import mnlogit
from mnlogit import MultinomialLogit
from mnlogit.exceptions import InvalidInputError
from mnlogit.fingerprint import (
    FULL_HASH_BYTES,
    SAMPLE_BYTES,
    SCHEME,
    DataFingerprint,
    SchemeMismatchError,
    sampled_rows,
)
from mnlogit.io import ModelFileError, format_version


def _digest(X: Any, scheme: int = SCHEME) -> str:
    n = X.shape[0]
    codes = np.zeros(n, dtype=np.intp)
    return DataFingerprint.of(X, np.array([0, 1]), codes, np.ones(n), scheme=scheme).features


# ------------------------------------------------------------ the documented bytes
def _spaced(n: int, row_bytes: float, budget: int) -> np.ndarray | None:
    """The documented sample: k = budget // row_bytes rows, (i * (n - 1)) // (k - 1)."""
    if n * row_bytes <= budget:
        return None
    k = int(budget // row_bytes)
    return np.array([(i * (n - 1)) // (k - 1) for i in range(k)])


def _reference_features(X: Any, budget: int) -> str:
    """sha256(dtype.str + str(shape) + the hashed rows' C-order bytes); sparse X as the
    sampled rows' canonical CSR (data, int64 indices and indptr, each with its header)."""
    h = hashlib.sha256(f"{X.dtype.str}{X.shape}".encode())
    if sp.issparse(X):
        csr = sp.csr_matrix(X)
        rows = _spaced(X.shape[0], csr.nnz * (X.dtype.itemsize + 8) / X.shape[0], budget)
        part = csr if rows is None else csr[rows]
        part = part.copy()
        part.sort_indices()
        h.update(b"csr")
        for a in (part.data, part.indices.astype(np.int64), part.indptr.astype(np.int64)):
            h.update(f"{a.dtype.str}{a.shape}".encode() + a.tobytes())
        h.update(str(part.shape).encode())
        return h.hexdigest()
    rows = _spaced(X.shape[0], X.shape[1] * X.dtype.itemsize, budget)
    h.update((X if rows is None else X[rows]).tobytes(order="C"))
    return h.hexdigest()


def _reference(X: Any, classes: np.ndarray, codes: np.ndarray, w: np.ndarray, scheme: int):
    n = codes.size
    text = repr([str(c) for c in classes.tolist()]).encode()
    if scheme == 1:
        code_type = np.dtype(np.int64)
    else:
        code_type = np.dtype(
            next(t for t in (np.uint8, np.uint16, np.uint32) if classes.size <= np.iinfo(t).max + 1)
        )
    labels = hashlib.sha256(
        text + f"{code_type.str}{(n,)}".encode() + codes.astype(code_type).tobytes()
    )
    if scheme == 2 and np.all(w == 1.0):
        weights = hashlib.sha256(b"unit" + str(n).encode())
    else:
        weights = hashlib.sha256(f"<f8{(n,)}".encode() + w.astype(np.float64).tobytes())
    budget = FULL_HASH_BYTES if scheme == 1 else SAMPLE_BYTES
    return _reference_features(X, budget), labels.hexdigest(), weights.hexdigest()


@pytest.fixture(scope="module")
def big() -> np.ndarray:
    # 1.5 times scheme 2's budget (and under scheme 1's): sampled under scheme 2 only
    n = int(1.5 * SAMPLE_BYTES) // (16 * 8)
    return np.random.default_rng(0).normal(size=(n, 16))


@pytest.mark.parametrize("scheme", [1, 2])
@pytest.mark.parametrize("K", [3, 300])
@pytest.mark.parametrize("weights", ["unit", "other"])
def test_digests_are_the_documented_bytes(big, scheme, K, weights) -> None:
    n = big.shape[0]
    rng = np.random.default_rng(K)
    codes = np.arange(n) % K
    rng.shuffle(codes)
    classes = np.array([f"c{k:03d}" for k in range(K)])
    w = np.ones(n) if weights == "unit" else rng.uniform(0.5, 2.0, n)
    for X in (big, big[:500], big.astype(np.float32)):
        got = DataFingerprint.of(
            X[: codes.size], classes, codes[: X.shape[0]], w[: X.shape[0]], scheme=scheme
        )
        m = X.shape[0]
        expected = _reference(X, classes, codes[:m], w[:m], scheme)
        assert (got.features, got.labels, got.weights) == expected
        assert got.n_rows == m and got.scheme == scheme


def test_float32_x_above_the_budget_is_the_documented_bytes() -> None:
    """float32 X sampled under scheme 2 (``big`` in float32 is under the budget)."""
    n = int(1.5 * SAMPLE_BYTES) // (16 * 4)
    X = np.random.default_rng(5).normal(size=(n, 16)).astype(np.float32)
    assert sampled_rows(n, 16 * 4, SAMPLE_BYTES) is not None
    codes = np.arange(n) % 3
    classes = np.array(["a", "b", "c"])
    for w in (np.ones(n), np.linspace(0.5, 2.0, n)):
        got = DataFingerprint.of(X, classes, codes, w, scheme=2)
        assert (got.features, got.labels, got.weights) == _reference(X, classes, codes, w, 2)


def test_a_fingerprint_of_an_unknown_scheme_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="unknown data-fingerprint scheme 3"):
        DataFingerprint(10, "0" * 64, "0" * 64, "0" * 64, scheme=3)


@pytest.mark.parametrize("scheme", [1, 2])
def test_sparse_digest_is_the_documented_bytes(scheme) -> None:
    n = 40_000  # 160,000 stored values, 16 bytes each: 2.4 MiB, sampled under scheme 2
    X = sp.random(n, 200, density=0.02, format="csr", random_state=1, dtype=np.float64)
    row_bytes = X.nnz * 16 / n
    assert (
        sampled_rows(n, row_bytes, SAMPLE_BYTES) is not None and sampled_rows(n, row_bytes) is None
    )
    codes = np.arange(n) % 4
    fp = DataFingerprint.of(X, np.arange(4), codes, np.ones(n), scheme=scheme)
    assert fp.features == _reference_features(X, FULL_HASH_BYTES if scheme == 1 else SAMPLE_BYTES)


def test_scheme_two_hashes_less(big) -> None:
    assert SCHEME == 2 and SAMPLE_BYTES <= FULL_HASH_BYTES // 8
    rows = sampled_rows(big.shape[0], big.shape[1] * 8, SAMPLE_BYTES)
    assert rows is not None and sampled_rows(big.shape[0], big.shape[1] * 8) is None
    assert rows[0] == 0 and rows[-1] == big.shape[0] - 1
    assert rows.size * big.shape[1] * 8 <= SAMPLE_BYTES + big.shape[1] * 8
    gaps = np.diff(rows)
    assert gaps.min() >= 1 and gaps.max() - gaps.min() <= 1


def test_small_x_is_hashed_whole() -> None:
    assert sampled_rows(100, 8.0) is None
    assert sampled_rows(FULL_HASH_BYTES // 8, 8.0) is None
    assert sampled_rows(SAMPLE_BYTES // 8, 8.0, SAMPLE_BYTES) is None
    assert sampled_rows(SAMPLE_BYTES // 8 + 1, 8.0, SAMPLE_BYTES) is not None


def test_sample_is_evenly_spaced_and_spans_all_rows() -> None:
    n = 10 * FULL_HASH_BYTES // 80  # ten times the full-hash size at 80 bytes a row
    rows = sampled_rows(n, 80.0)
    assert rows is not None
    assert rows[0] == 0 and rows[-1] == n - 1
    assert np.all(np.diff(rows) > 0)
    assert rows.size * 80 <= FULL_HASH_BYTES + 80
    gaps = np.diff(rows)
    assert gaps.max() - gaps.min() <= 1


# ------------------------------------------------------------ what the digests see
@pytest.mark.parametrize("scheme", [1, 2])
def test_digest_ignores_layout(big, scheme) -> None:
    assert (
        _digest(big, scheme)
        == _digest(np.asfortranarray(big), scheme)
        == _digest(big.copy(), scheme)
    )


def test_sampled_digest_sees_other_data(big: np.ndarray) -> None:
    rows = sampled_rows(big.shape[0], big.shape[1] * 8, SAMPLE_BYTES)
    assert rows is not None
    base = _digest(big)
    edited = big.copy()
    edited[rows[len(rows) // 2], 3] += 1e-12
    assert _digest(edited) != base
    assert _digest(big[::-1]) != base  # same rows, other order
    assert _digest(big.astype(np.float32)) != base
    assert _digest(big[:-1]) != base
    # what the sample cannot see (docs/decisions.md): an edit of a skipped row
    skipped = big.copy()
    skipped[np.setdiff1d(np.arange(big.shape[0]), rows)[0], 3] += 1.0
    assert _digest(skipped) == base
    assert _digest(skipped, scheme=1) != _digest(big, scheme=1)  # X hashed whole there


@pytest.mark.parametrize("scheme", [1, 2])
def test_labels_and_weights_are_hashed_in_full(scheme) -> None:
    n = 50_000
    X = np.zeros((n, 1))
    codes = np.arange(n) % 3
    classes = np.array(["a", "b", "c"])
    base = DataFingerprint.of(X, classes, codes, np.ones(n), scheme=scheme)
    for i in (0, 12_345, n - 1):
        other = codes.copy()
        other[i] = (other[i] + 1) % 3
        assert DataFingerprint.of(X, classes, other, np.ones(n), scheme=scheme).differences(
            base
        ) == ["labels"]
        w = np.ones(n)
        w[i] = 2.0  # one weight off 1: hashed in full, not the unit marker
        assert DataFingerprint.of(X, classes, codes, w, scheme=scheme).differences(base) == [
            "weights"
        ]
    renamed = DataFingerprint.of(X, np.array(["a", "b", "d"]), codes, np.ones(n), scheme=scheme)
    assert renamed.differences(base) == ["labels"]
    for w in (np.full(n, 2.0), np.full(n, 1.0 + 2**-52)):
        assert DataFingerprint.of(X, classes, codes, w, scheme=scheme).weights != base.weights
    fewer = DataFingerprint.of(X[:-1], classes, codes[:-1], np.ones(n - 1), scheme=scheme)
    assert fewer.differences(base) == ["rows", "labels", "weights", "features"]


def test_sparse_formats_agree_and_sample() -> None:
    n = 120_000  # 1.9 million stored values, 16 bytes each: 1.8 times scheme 1's budget
    X = sp.random(n, 400, density=0.04, format="csr", random_state=1, dtype=np.float64)
    assert sampled_rows(n, X.nnz * 16 / n) is not None  # the sampled path of both schemes
    for scheme in (1, 2):
        digest = _digest(X, scheme)
        assert digest == _digest(X.tocsc(), scheme) == _digest(sp.csr_array(X), scheme)
        Y = X.copy()
        Y.data[0] += 1.0  # row 0 is always in the sample
        assert _digest(Y, scheme) != digest


# ------------------------------------------------------------ schemes and records
def test_records_round_trip_with_their_scheme(big) -> None:
    n = big.shape[0]
    codes = np.arange(n) % 2
    for scheme in (1, 2):
        fp = DataFingerprint.of(big, np.arange(2), codes, np.ones(n), scheme=scheme)
        record = json.loads(json.dumps(fp.to_dict()))
        assert record["scheme"] == scheme and record["algorithm"] == "sha256"
        assert DataFingerprint.from_dict(record) == fp
    old = fp.to_dict()
    del old["scheme"]  # what format-version-1 files hold
    assert DataFingerprint.from_dict(old).scheme == 1
    for bad in (3, 0, "2", True, None):
        with pytest.raises(ValueError, match="scheme"):
            DataFingerprint.from_dict({**old, "scheme": bad})
    one = DataFingerprint.of(big, np.arange(2), codes, np.ones(n), scheme=1)
    two = DataFingerprint.of(big, np.arange(2), codes, np.ones(n), scheme=2)
    assert (one.labels, one.weights, one.features) != (two.labels, two.weights, two.features)
    with pytest.raises(SchemeMismatchError):
        one.differences(two, rows_only=True)


def _edited(src: Path, dst: Path, edit: Any) -> Path:
    """A copy of the model file ``src`` with ``edit`` applied to its ``model.json``."""
    with zipfile.ZipFile(src) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    meta = json.loads(members.pop("model.json"))
    edit(meta)
    with zipfile.ZipFile(dst, "w") as zf:
        zf.writestr("model.json", json.dumps(meta))
        for name, blob in members.items():
            zf.writestr(name, blob)
    return dst


def _scheme_one_file(model: MultinomialLogit, X: Any, y: Any, w: Any, path: Path) -> Path:
    """``model`` saved as a format-version-1 file whose data fingerprint is scheme 1's
    record (no ``"scheme"`` key), as mnlogit 0.1 wrote it."""
    classes = model.fitted_.classes
    codes = np.searchsorted(classes, y)
    weights = np.ones(len(y)) if w is None else np.asarray(w, dtype=np.float64)
    record = DataFingerprint.of(X, classes, codes, weights, scheme=1).to_dict()
    del record["scheme"]
    saved = model.save(path.with_suffix(".new"))
    return _edited(saved, path, lambda m: m.update(format_version=1, data_fingerprint=record))


@pytest.fixture(scope="module")
def small_data():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((400, 3))
    y = (X[:, 0] + rng.standard_normal(400) > 0).astype(int) + (X[:, 1] > 0.5)
    w = rng.integers(1, 4, 400).astype(np.float64)
    return X, y, w


@pytest.mark.parametrize("weighted", [False, True])
def test_scheme_one_files_check_their_data_as_before(small_data, tmp_path, weighted) -> None:
    X, y, w = small_data
    w = w if weighted else None
    model = MultinomialLogit().fit(X, y, sample_weight=w)
    assert model.fitted_.fingerprint.scheme == 2
    path = _scheme_one_file(model, X, y, w, tmp_path / "old.mnlogit")
    old = mnlogit.load(path)
    assert old.fitted_.fingerprint.scheme == 1
    old.compute_covariance(X, y, sample_weight=w, cov_type="robust")  # hashed in scheme 1
    with pytest.raises(InvalidInputError, match="labels differ"):
        mnlogit.load(path).compute_covariance(X, np.roll(y, 1), sample_weight=w)
    with pytest.raises(InvalidInputError, match="features differ"):
        mnlogit.load(path).compute_covariance(X[::-1], y[::-1], sample_weight=w)
    other_w = np.full(len(y), 2.0) if w is None else np.ones(len(y))
    with pytest.raises(InvalidInputError, match="weights differ"):
        mnlogit.load(path).compute_covariance(X, y, sample_weight=other_w)
    # term_tests refits (new fits, scheme 2) after checking the data in scheme 1
    got = mnlogit.load(path).term_tests(X, y, sample_weight=w)
    np.testing.assert_allclose(
        got["lr_chi2"], model.term_tests(X, y, sample_weight=w)["lr_chi2"], rtol=1e-8
    )
    # lr_test between a scheme-1 model and a new fit: refused, with the way out
    reduced = MultinomialLogit().fit(X[:, :2], y, sample_weight=w)
    with pytest.raises(InvalidInputError, match=r"different schemes.*Refit the loaded model"):
        mnlogit.load(path).lr_test(reduced)
    with pytest.raises(InvalidInputError, match="different schemes"):
        reduced.lr_test(mnlogit.load(path))
    assert model.lr_test(reduced).statistic > 0  # two new fits compare as before
    # a loaded scheme-1 model is saved again as format 1 (older readers read it right)
    assert format_version(old.fitted_) == 1
    again = mnlogit.load(old.save(tmp_path / "again.mnlogit"))
    assert again.fitted_.fingerprint == old.fitted_.fingerprint


def test_new_files_are_format_two_and_keep_the_scheme(small_data, tmp_path) -> None:
    X, y, w = small_data
    model = MultinomialLogit().fit(X, y, sample_weight=w)
    path = model.save(tmp_path / "new.mnlogit")
    with zipfile.ZipFile(path) as zf:
        meta = json.loads(zf.read("model.json"))
    assert meta["format_version"] == 2 and meta["data_fingerprint"]["scheme"] == 2
    loaded = mnlogit.load(path)
    assert loaded.fitted_.fingerprint == model.fitted_.fingerprint
    loaded.compute_covariance(X, y, sample_weight=w)
    with pytest.raises(InvalidInputError, match="weights differ"):
        loaded.compute_covariance(X, y, sample_weight=w[::-1])
    built = MultinomialLogit.from_coefficients(model.classes_, model.intercept_, model.coef_)
    assert format_version(built.fitted_) == 1  # no fingerprint: nothing an old reader misreads


def test_an_unknown_scheme_in_a_file_is_refused(small_data, tmp_path) -> None:
    X, y, _ = small_data
    saved = MultinomialLogit().fit(X, y).save(tmp_path / "m.mnlogit")

    def scheme_three(meta: dict[str, Any]) -> None:
        meta["data_fingerprint"]["scheme"] = 3

    path = _edited(saved, tmp_path / "s3.mnlogit", scheme_three)
    with pytest.raises(ModelFileError, match="unknown data-fingerprint scheme 3"):
        mnlogit.load(path)


@pytest.mark.parametrize("version, scheme", [(1, 2), (2, None), (2, 1)])
def test_a_version_and_scheme_that_disagree_are_refused(
    small_data, tmp_path, version, scheme
) -> None:
    """A version-1 file holds scheme-1 digests only; a later one records its scheme."""
    X, y, _ = small_data
    saved = MultinomialLogit().fit(X, y).save(tmp_path / "m.mnlogit")

    def mismatch(meta: dict[str, Any]) -> None:
        meta["format_version"] = version
        if scheme is None:
            del meta["data_fingerprint"]["scheme"]
        else:
            meta["data_fingerprint"]["scheme"] = scheme

    path = _edited(saved, tmp_path / "mismatch.mnlogit", mismatch)
    with pytest.raises(ModelFileError, match=f"format-version-{version} file"):
        mnlogit.load(path)


def test_term_tests_still_compare_refits_of_the_same_scheme(small_data, monkeypatch) -> None:
    """term_tests' refits are checked against the fit when their schemes agree: a refit
    whose recorded labels differ (here: forced) is refused, not tested."""
    X, y, w = small_data
    model = MultinomialLogit().fit(X, y, sample_weight=w)
    real_fit = MultinomialLogit.fit

    def tampered(self, X, y, sample_weight=None, **kw):
        got = real_fit(self, X, y, sample_weight=sample_weight, **kw)
        if X.shape[1] < 3:  # the reduced refits: labels recorded as another sample's
            import dataclasses

            fp = got.fitted_.fingerprint
            object.__setattr__(
                got,
                "fitted_",
                dataclasses.replace(
                    got.fitted_, fingerprint=dataclasses.replace(fp, labels="f" * 64)
                ),
            )
        return got

    monkeypatch.setattr(MultinomialLogit, "fit", tampered)
    with pytest.raises(InvalidInputError, match="labels differ"):
        model.term_tests(X, y, sample_weight=w)


def test_the_golden_files_are_mnlogit_0_1_files() -> None:
    """tests/golden/fingerprint holds model files written by main before schemes existed
    (test_preparation_fixed_costs.py checks their refits): format 1, no scheme key."""
    golden = Path(__file__).parent / "golden" / "fingerprint"
    for name in ("unweighted", "weighted"):
        with zipfile.ZipFile(golden / f"model_{name}.mnlogit") as zf:
            meta = json.loads(zf.read("model.json"))
        assert meta["format_version"] == 1 and "scheme" not in meta["data_fingerprint"]
        assert mnlogit.load(golden / f"model_{name}.mnlogit").fitted_.fingerprint.scheme == 1


# ------------------------------------------------------------ deferred digests
_SHA256 = hashlib.sha256


class _CountingSha:
    """hashlib.sha256 that tallies the bytes hashed."""

    hashed = 0

    def __init__(self, data: bytes = b"") -> None:
        self._h = _SHA256()
        self.update(data)

    def update(self, data: Any) -> None:
        _CountingSha.hashed += memoryview(data).nbytes
        self._h.update(data)

    def hexdigest(self) -> str:
        return self._h.hexdigest()


@pytest.mark.parametrize("weighted", [False, True])
def test_a_new_fit_hashes_x_when_first_read(big, monkeypatch, weighted) -> None:
    import pickle
    from dataclasses import replace

    import mnlogit.fingerprint as fingerprint_module

    rng = np.random.default_rng(5)
    X = big.copy()
    y = (X[:, 0] + rng.standard_normal(X.shape[0]) > 0).astype(int)
    w = rng.integers(1, 3, X.shape[0]).astype(np.float64) if weighted else None
    monkeypatch.setattr(fingerprint_module.hashlib, "sha256", _CountingSha)
    _CountingSha.hashed = 0
    fitted = MultinomialLogit().fit(X, y, sample_weight=w).fitted_
    # the fit hashed no row of X: the labels (a byte each) and the weights (in full when
    # not all ones) only
    n = X.shape[0]
    assert _CountingSha.hashed < (9 * n + 100 if weighted else n + 100)
    assert "labels" in vars(fitted.fingerprint)  # hashed at once: no n codes held
    X_at_fit, y_at_fit = X.copy(), y.copy()
    X[:] = 0.0  # the digests are of the data at the fit (copied), not of X now
    y[:] = 1 - y
    fp = fitted.fingerprint
    assert fp is not None
    codes = y_at_fit.astype(np.intp)  # classes 0, 1
    weights = np.ones(X.shape[0]) if w is None else w
    eager = DataFingerprint.of(X_at_fit, np.array([0, 1]), codes, weights)
    assert (fp.features, fp.labels, fp.weights) == (eager.features, eager.labels, eager.weights)
    assert fp == eager and hash(fp) == hash(eager)
    assert _CountingSha.hashed > SAMPLE_BYTES  # hashed when read
    again = pickle.loads(pickle.dumps(fp))
    assert again == fp and "_pending" not in vars(again) and "_pending" not in vars(fp)
    assert replace(fp, labels="f" * 64).labels == "f" * 64


def test_a_deferred_fingerprint_read_by_racing_threads_agrees(big) -> None:
    from concurrent.futures import ThreadPoolExecutor

    n = big.shape[0]
    codes = (big[:, 0] > 0).astype(np.intp)
    eager = DataFingerprint.of(big, np.array([0, 1]), codes, np.ones(n))
    for _ in range(5):
        fp = DataFingerprint.of(big, np.array([0, 1]), codes, np.ones(n), deferred=True)
        assert "_pending" in vars(fp)
        with ThreadPoolExecutor(4) as pool:
            got = list(pool.map(getattr, [fp] * 8, ["features", "labels"] * 4))
        assert got == [eager.features, eager.labels] * 4


def test_an_unknown_attribute_of_a_fingerprint_is_an_attribute_error() -> None:
    """``hasattr`` / ``getattr(..., default)`` work on a fingerprint without its digests."""
    bare = DataFingerprint.__new__(DataFingerprint)
    assert not hasattr(bare, "features") and not hasattr(bare, "n_rows")
    assert getattr(bare, "labels", None) is None


def test_small_or_sparse_x_is_hashed_at_once() -> None:
    X = np.random.default_rng(6).normal(size=(50, 4))
    codes = np.arange(50) % 2
    for data in (X, sp.csr_matrix(X)):
        fp = DataFingerprint.of(data, np.array([0, 1]), codes, np.ones(50), deferred=True)
        assert "_pending" not in vars(fp) and "features" in vars(fp)
