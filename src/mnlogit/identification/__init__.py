"""Preparation before a fit: are the inputs valid, and are the coefficients identified?

- :mod:`~mnlogit.identification.validation` -- checks of labels, weights, feature values,
  class sizes and positive parameters, with messages that name the column, row or class.
- :mod:`~mnlogit.identification.scales` -- each column's largest absolute value and the
  scales derived from it (shared by the objective's scaling and both checks below).
- :mod:`~mnlogit.identification.design` -- the design ``[1, X]`` as the checks read it.
- :mod:`~mnlogit.identification.collinearity` -- R's ``lm`` rule: which columns of
  ``[1, X]`` are linear combinations of earlier ones (:func:`detect_collinearity`).
- :mod:`~mnlogit.identification.aliasing` -- what ``fit`` does with them: drop them before
  the solver (with a :class:`~mnlogit.exceptions.CollinearityWarning`) and report their
  coefficients as not estimable. Ridge fits keep every column.
- :mod:`~mnlogit.identification.separation` -- does the MLE exist
  (:func:`detect_separation`), and when ``fit`` runs that check: always for small
  unpenalized fits, for larger ones when the fit shows signs of separation (no
  convergence, or a fitted probability below 1e-10); a separated fit warns with
  :class:`~mnlogit.exceptions.SeparationWarning` and inference then refuses.
- :mod:`~mnlogit.identification.cone` -- the cone of directions of recession and the
  linear programs over it, used by the separation check.

Both checks have size limits (``docs/diagnostics.md``): collinearity up to 2000 design
columns; separation up to 200,000 inequalities, i.e. (rows with positive weight) x
(K - 1), checked before any work is done.
"""

from mnlogit.identification.aliasing import (
    MAX_COLLINEARITY_COLUMNS,
    aliased_mask,
    drop_aliased,
    expand_coefficients,
    expand_covariance,
    kept_rows,
)
from mnlogit.identification.collinearity import CollinearityResult, detect_collinearity
from mnlogit.identification.scales import (
    ColumnSums,
    check_column_range,
    column_maxabs,
    column_maxabs_and_gram,
    column_scales,
)
from mnlogit.identification.separation import SeparationResult, detect_separation
from mnlogit.identification.separation_check import (
    RecordedSeparation,
    find_separation,
    separation_suspected,
)
from mnlogit.identification.validation import (
    category_order,
    check_class_sizes,
    check_feature_values,
    check_groups,
    check_labels_present,
    check_positive_number,
    check_sparse_structure,
    check_weights,
    encode_labels,
    encode_labels_and_counts,
    label_codes,
)

__all__ = [
    "MAX_COLLINEARITY_COLUMNS",
    "CollinearityResult",
    "ColumnSums",
    "RecordedSeparation",
    "SeparationResult",
    "aliased_mask",
    "category_order",
    "check_class_sizes",
    "check_column_range",
    "check_feature_values",
    "check_groups",
    "check_labels_present",
    "check_positive_number",
    "check_sparse_structure",
    "check_weights",
    "column_maxabs",
    "column_maxabs_and_gram",
    "column_scales",
    "detect_collinearity",
    "detect_separation",
    "drop_aliased",
    "encode_labels",
    "encode_labels_and_counts",
    "expand_coefficients",
    "expand_covariance",
    "find_separation",
    "kept_rows",
    "label_codes",
    "separation_suspected",
]
