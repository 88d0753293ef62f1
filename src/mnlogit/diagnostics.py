# TEMPORARY re-export for the parallel refactor; removed at merge
"""Old home of the input checks, now :mod:`mnlogit.identification.validation` and
:mod:`mnlogit.identification.scales`.

``resolve_reference`` stays here only until ``Parameterization`` owns it (issue 12,
deliverable 4, done in another branch); it is not part of the identification package.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from mnlogit.exceptions import InvalidInputError
from mnlogit.identification.scales import column_maxabs, column_scales
from mnlogit.identification.validation import (
    check_class_sizes,
    check_feature_values,
    check_labels_present,
    check_positive_number,
    check_weights,
    encode_labels,
)

__all__ = [
    "check_class_sizes",
    "check_feature_values",
    "check_labels_present",
    "check_positive_number",
    "check_weights",
    "column_maxabs",
    "column_scales",
    "encode_labels",
    "resolve_reference",
]


def resolve_reference(reference: Any, classes: NDArray[Any], penalized: bool) -> int | None:
    """Index of the reference class in ``classes``, or ``None`` for the symmetric form.

    ``"auto"``: the first class for unpenalized fits, the symmetric form for penalized
    ones with three or more classes. With two classes a penalized fit also uses the
    first class: the ridge penalty on the single log-odds vector does not depend on
    which class is the reference (switching only flips its sign), and it is then the
    penalty of ordinary binary ridge logistic regression (scikit-learn's).
    ``"first"`` / ``"last"``: by sorted order. Any other value must be one of the
    classes. The keywords are checked before the labels: a class literally named
    ``"first"``, ``"last"`` or ``"auto"`` is chosen by its sorted position instead.
    """
    if isinstance(reference, str) and reference in ("auto", "first", "last"):
        if reference == "auto":
            return None if penalized and classes.size > 2 else 0
        return 0 if reference == "first" else int(classes.size - 1)
    if reference is None:
        return None
    matches = np.flatnonzero(classes == reference)
    if matches.size != 1:
        shown = ", ".join(repr(c) for c in classes[:10].tolist())
        raise InvalidInputError(
            f"reference={reference!r} is not one of the classes ({shown}); pass a class "
            "label, 'first', 'last', 'auto' or None (symmetric form)"
        )
    return int(matches[0])
