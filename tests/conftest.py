"""Suite-wide settings."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings
from threadpoolctl import threadpool_limits

# CI runs the property tests and fuzzers on a fixed sequence of examples (a run that
# lands must be reproducible); local runs keep exploring new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(autouse=True, scope="session")
def _single_threaded_blas() -> Iterator[None]:
    """One BLAS thread: on a 2-core machine, oversubscribed BLAS threads make small
    factorizations hundreds of times slower and the suite's run time erratic."""
    with threadpool_limits(limits=1):
        yield
