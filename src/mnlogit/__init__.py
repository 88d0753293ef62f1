"""mnlogit: multinomial logistic regression.

Public names:

- :class:`MultinomialLogit`, the scikit-learn compatible estimator;
- :class:`MultinomialLogitCV`, a sparse fit whose penalty strength is chosen by
  cross-validation (:mod:`mnlogit.selection`);
- :mod:`mnlogit.exceptions`, the named exceptions and warnings;
- :func:`load`, which reads a model file written by ``MultinomialLogit.save``;
- :func:`regularization_path` and :class:`RegularizationPath`, lasso-family paths;
- :mod:`mnlogit.datasets`, the bundled real datasets.

``MultinomialLogit``, ``MultinomialLogitCV`` and ``load`` are imported on first use, so
that importing a leaf module (``mnlogit.io``, ``mnlogit.fitted``, ...) does not import the
estimator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mnlogit import datasets, exceptions

if TYPE_CHECKING:
    from mnlogit.estimator import MultinomialLogit, load
    from mnlogit.path import RegularizationPath, regularization_path
    from mnlogit.selection import MultinomialLogitCV

__version__ = "0.1.0"

__all__ = [
    "MultinomialLogit",
    "MultinomialLogitCV",
    "RegularizationPath",
    "__version__",
    "datasets",
    "exceptions",
    "load",
    "regularization_path",
]


def __getattr__(name: str) -> Any:
    if name in ("MultinomialLogit", "load"):
        from mnlogit import estimator

        return getattr(estimator, name)
    if name in ("RegularizationPath", "regularization_path"):
        from mnlogit import path

        return getattr(path, name)
    if name == "MultinomialLogitCV":
        from mnlogit import selection

        return selection.MultinomialLogitCV
    raise AttributeError(f"module 'mnlogit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
