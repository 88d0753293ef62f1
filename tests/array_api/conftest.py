"""Array namespaces the array-API engine is tested on, without a GPU.

``array-api-strict`` (the standard and nothing else; its second device refuses every
conversion to numpy, so a fit there proves that ``X`` is never moved to the host behind
the engine's back) and PyTorch's CPU build (skipped where torch is not installed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

Converter = Callable[[np.ndarray], Any]


def _strict(device: str) -> Converter:
    xs = pytest.importorskip("array_api_strict")

    def convert(a: np.ndarray) -> Any:
        return xs.asarray(a, device=xs.Device(device))

    return convert


def _torch() -> Converter:
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)  # two shared cores

    def convert(a: np.ndarray) -> Any:
        return torch.asarray(a)

    return convert


NAMESPACES = ["strict", "strict-device1", "torch"]


@pytest.fixture(params=NAMESPACES)
def to_device(request: pytest.FixtureRequest) -> Converter:
    """Converts a numpy array to an array of the namespace under test, on its device."""
    if request.param == "torch":
        return _torch()
    return _strict("CPU_DEVICE" if request.param == "strict" else "device1")


@pytest.fixture
def to_strict1() -> Converter:
    """array-api-strict's second device (no conversion to numpy possible)."""
    return _strict("device1")
