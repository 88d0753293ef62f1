"""IIA tests on simulated data: a true multinomial logit, and a nested logit that violates IIA.

The simulation of ``tests/inference/test_iia.py::test_rejects_iia_violations_and_not_a_true_mnl``
(eight samples of 1500, class 0 omitted), reported for all three tests. Run from the
repository root: ``PYTHONPATH=src:tests python docs/examples/iia_size_power.py``.
"""

import sys
import warnings

import numpy as np

sys.path.insert(0, "tests/inference")
from test_iia import _nested_data

from mnlogit import MultinomialLogit

warnings.simplefilter("ignore")
for nest_scale in (1.0, 0.3):
    rng = np.random.default_rng(2024)
    p_values: dict[str, list[float]] = {"hausman": [], "suest": [], "small-hsiao": []}
    for rep in range(8):
        X, y = _nested_data(1500, rng, nest_scale)
        model = MultinomialLogit().fit(X, y)
        for method, found in p_values.items():
            table = model.iia_test(X, y, method=method, omit=[0], random_state=rep)
            found.append(float(table.loc[0, "p_value"]))
    kind = "true MNL" if nest_scale == 1.0 else f"nested logit, scale {nest_scale}"
    for method, found in p_values.items():
        arr = np.array(found)
        print(
            f"{kind:<28} {method:<12} rejections at 5%: {int(np.sum(arr < 0.05))}/8, "
            f"no p-value: {int(np.isnan(arr).sum())}, p = {np.round(arr, 3).tolist()}"
        )
