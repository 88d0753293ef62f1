"""Statistical inference on fitted models: covariance, tests, effects, intervals.

The estimator's inference methods are :class:`mnlogit.inference.methods.InferenceMixin`
(imported from there: this package's ``__init__`` stays light, so that the fit pipeline
can import :mod:`mnlogit.inference.covariance` without the methods).
"""

from mnlogit.inference.hypotheses import TestResult

__all__ = ["TestResult"]
