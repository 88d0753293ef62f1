"""Statistical inference on fitted models: covariance, tests, effects, intervals."""

from mnlogit.inference.hypotheses import TestResult
from mnlogit.inference.methods import InferenceMixin

__all__ = ["InferenceMixin", "TestResult"]
