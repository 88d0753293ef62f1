"""mnlogit: multinomial logistic regression.

Public names:

- :class:`MultinomialLogit`, the scikit-learn compatible estimator;
- :mod:`mnlogit.exceptions`, the named exceptions and warnings;
- :func:`load`, which reads a model file written by ``MultinomialLogit.save``;
- :mod:`mnlogit.datasets`, the bundled real datasets.
"""

from mnlogit import datasets, exceptions
from mnlogit.estimator import MultinomialLogit
from mnlogit.io import load

__version__ = "0.1.0"

__all__ = ["MultinomialLogit", "__version__", "datasets", "exceptions", "load"]
