"""Benchmarks: mnlogit against scikit-learn and statsmodels on the same data.

Not part of the test suite. Run with ``python -m benchmarks.run`` (see
``docs/benchmarks.md``).
"""
