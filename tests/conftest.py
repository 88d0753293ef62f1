"""Suite-wide settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="session")
def _single_threaded_blas() -> Iterator[None]:
    """One BLAS thread: on a 2-core machine, oversubscribed BLAS threads make small
    factorizations hundreds of times slower and the suite's run time erratic."""
    with threadpool_limits(limits=1):
        yield
