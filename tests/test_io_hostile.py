"""Hostile model files (issue 16, case 10): every failure is a ``ModelFileError``.

Sizes and ``.npy`` headers are checked against ``model.json`` before a member is
decompressed or parsed, so a small file cannot make ``load`` allocate gigabytes; arrays
must be C-order float64 of the manifest's shapes; ``"arrays"`` must be an object naming
only the known members; class labels must be distinct and of their declared type
(their order is the fit's: sorted, or a categorical response's category order); deeply
nested JSON is refused. Checksums are recomputed in each forged file so
that the check under test, not the checksum, is what refuses it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mnlogit
from helpers import make_data
from mnlogit import MultinomialLogit
from mnlogit.io import ModelFileError


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    X, y, _ = make_data(n=60, p=2, K=3, seed=0)
    path = tmp_path_factory.mktemp("hostile") / "good.mnlogit"
    MultinomialLogit().fit(X, y).save(path)
    return path


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def forge(
    tmp_path: Path,
    source: Path,
    *,
    meta: dict | None = None,
    arrays: dict[str, bytes] | None = None,
    raw_json: bytes | None = None,
    rehash: bool = True,
) -> Path:
    """A copy of ``source`` with replaced members, checksums recomputed."""
    parts = members(source)
    manifest = json.loads(parts["model.json"])
    if meta is not None:
        manifest.update(meta)
    for name, blob in (arrays or {}).items():
        parts[name] = blob
    if rehash and isinstance(manifest.get("arrays"), dict):
        manifest["arrays"] = {
            n: hashlib.sha256(parts[n]).hexdigest() if n in parts else d
            for n, d in manifest["arrays"].items()
        }
    parts["model.json"] = raw_json if raw_json is not None else json.dumps(manifest).encode()
    out = tmp_path / "forged.mnlogit"
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, blob in parts.items():
            zf.writestr(name, blob)
    return out


def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def test_a_small_file_with_a_huge_member_is_refused_before_decompression(
    model_file, tmp_path
) -> None:
    """64 MiB of zeros compress to ~64 KiB; the declared size does not match the
    manifest's (3, 2) coefficients, so nothing is decompressed."""
    path = forge(tmp_path, model_file, arrays={"coef.npy": bytes(64 * 2**20)})
    assert path.stat().st_size < 2**20
    tracemalloc.start()
    with pytest.raises(ModelFileError, match=r"coef\.npy has .* bytes"):
        mnlogit.load(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 * 2**20


def test_a_header_claiming_1e15_elements(model_file, tmp_path) -> None:
    buf = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**15, 1)}
    np.lib.format.write_array_header_1_0(buf, header)
    buf.write(bytes(48))  # the size of the manifest's (3, 2) array
    with pytest.raises(ModelFileError, match=r"shape \(1000000000000000, 1\)"):
        mnlogit.load(forge(tmp_path, model_file, arrays={"coef.npy": buf.getvalue()}))
    # a manifest that claims a huge model is refused by size, not by allocation
    huge = forge(tmp_path, model_file, meta={"n_features": 10**15})
    with pytest.raises(ModelFileError, match="MAX_ARRAY_BYTES"):
        mnlogit.load(huge)


@pytest.mark.parametrize(
    "array",
    [
        np.array([["a", "b"], ["c", "d"], ["e", "f"]]),
        np.zeros((3, 2), dtype=np.complex128),
        np.zeros((3, 2), dtype="datetime64[s]"),
        np.zeros((3, 2), dtype=np.int64),
        np.zeros((3, 2), dtype=">f8"),
        np.asfortranarray(np.zeros((3, 2))),
        np.zeros((2, 3)),
    ],
    ids=["str", "complex", "datetime", "int", "big-endian", "fortran", "shape"],
)
def test_arrays_other_than_c_order_float64_of_the_manifest_shape(
    model_file, tmp_path, array
) -> None:
    with pytest.raises(ModelFileError):
        mnlogit.load(forge(tmp_path, model_file, arrays={"coef.npy": npy(array)}))


def test_an_npz_member(model_file, tmp_path) -> None:
    buf = io.BytesIO()
    np.savez(buf, coef=np.zeros((3, 2)))
    with pytest.raises(ModelFileError):
        mnlogit.load(forge(tmp_path, model_file, arrays={"coef.npy": buf.getvalue()}))
    parts = members(model_file)
    manifest = json.loads(parts["model.json"])
    manifest["arrays"]["extra.npz"] = hashlib.sha256(buf.getvalue()).hexdigest()
    path = forge(tmp_path, model_file, arrays={"extra.npz": buf.getvalue()}, meta=manifest)
    with pytest.raises(ModelFileError, match="unexpected array member"):
        mnlogit.load(path)


@pytest.mark.parametrize("arrays", [["coef.npy"], "coef.npy", 3, {"coef.npy": 5}, None])
def test_arrays_record_that_is_not_a_mapping_of_checksums(model_file, tmp_path, arrays) -> None:
    path = forge(tmp_path, model_file, meta={"arrays": arrays}, rehash=False)
    with pytest.raises(ModelFileError):
        mnlogit.load(path)


@pytest.mark.parametrize(
    "classes",
    [
        {"type": "int", "values": [0, 0, 2]},
        {"type": "int", "values": [0, 1]},
        {"type": "str", "values": ["a", 1, "c"]},
        {"type": "int", "values": [0, True, 2]},
        {"type": "float", "values": [0.0, "x", 2.0]},
        {"type": "complex", "values": [0, 1, 2]},
        {"type": "int", "values": [0]},
        {"values": [0, 1, 2]},
        [0, 1, 2],
    ],
    ids=["duplicate", "truncated", "mixed", "bool-in-int", "float-str", "type",
         "one", "no-type", "list"],
)  # fmt: skip
def test_bad_class_labels(model_file, tmp_path, classes) -> None:
    with pytest.raises(ModelFileError):
        mnlogit.load(forge(tmp_path, model_file, meta={"classes": classes}))


def test_class_labels_in_category_order_load_in_that_order(model_file, tmp_path) -> None:
    """A fit on a categorical response stores its classes in category order (issue 17);
    a file's order is the model's, not a disorder to refuse."""
    before = mnlogit.load(model_file)
    labels = before.classes_.tolist()
    path = forge(tmp_path, model_file, meta={"classes": {"type": "int", "values": labels[::-1]}})
    after = mnlogit.load(path)
    assert after.classes_.tolist() == labels[::-1]
    np.testing.assert_array_equal(after.coef_, before.coef_)  # rows as stored


def test_nested_json(model_file, tmp_path) -> None:
    deep = b'{"format": "mnlogit-model", "format_version": 1, "x": ' + b"[" * 100_000
    deep += b"]" * 100_000 + b"}"
    with pytest.raises(ModelFileError):
        mnlogit.load(forge(tmp_path, model_file, raw_json=deep))
    manifest = json.loads(members(model_file)["model.json"])
    text = json.dumps(manifest)[:-1] + ', "convergence_x": ' + '{"a": ' * 50_000 + "0"
    text += "}" * 50_000 + "}"
    with pytest.raises(ModelFileError):
        mnlogit.load(forge(tmp_path, model_file, raw_json=text.encode()))


def test_every_third_single_byte_flip_raises_only_model_file_errors(model_file, tmp_path) -> None:
    """Flipping one byte either leaves a loadable model (a flip inside a timestamp) or
    raises ModelFileError: never NotImplementedError, MemoryError or anything else."""
    data = model_file.read_bytes()
    target = tmp_path / "flipped.mnlogit"
    for i in range(0, len(data), 3):
        flipped = bytearray(data)
        flipped[i] ^= 0xFF
        target.write_bytes(bytes(flipped))
        with contextlib.suppress(ModelFileError):
            mnlogit.load(target)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_fuzzed_byte_flips(model_file, tmp_path, data) -> None:
    raw = bytearray(model_file.read_bytes())
    n_flips = data.draw(st.integers(1, 8))
    for _ in range(n_flips):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    target = tmp_path / "fuzz.mnlogit"
    target.write_bytes(bytes(raw))
    try:
        model = mnlogit.load(target)
    except ModelFileError:
        return
    assert model.coef_.dtype == np.float64


def test_old_files_without_a_fingerprint_still_load(model_file, tmp_path) -> None:
    parts = members(model_file)
    manifest = json.loads(parts["model.json"])
    assert manifest["data_fingerprint"]["algorithm"] == "sha256"
    del manifest["data_fingerprint"]
    path = forge(tmp_path, model_file, raw_json=json.dumps(manifest).encode())
    loaded = mnlogit.load(path)
    assert loaded.fitted_.fingerprint is None
    assert np.array_equal(loaded.coef_, mnlogit.load(model_file).coef_)
    bad = forge(tmp_path, model_file, meta={"data_fingerprint": {"algorithm": "md5"}})
    with pytest.raises(ModelFileError):
        mnlogit.load(bad)


def test_atomic_save_keeps_the_usual_file_mode(tmp_path) -> None:
    """A new model file gets 0666 less the umask, as open() would; a replaced one keeps its mode."""
    import os
    import stat

    from mnlogit import MultinomialLogit

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = rng.integers(0, 3, 60)
    model = MultinomialLogit().fit(X, y)
    umask = os.umask(0o022)
    try:
        path = model.save(tmp_path / "m.mnlogit")
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        os.chmod(path, 0o600)
        model.save(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(umask)
