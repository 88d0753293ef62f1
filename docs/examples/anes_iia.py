"""The worked example of docs/inference.md: IIA and combination tests on the 1996 ANES.

Run from the repository root: ``PYTHONPATH=src python docs/examples/anes_iia.py``.
"""

import pandas as pd

from mnlogit import MultinomialLogit
from mnlogit.datasets import load_anes96

pd.set_option("display.width", 200)
pd.set_option("display.max_colwidth", 90)

d = load_anes96()
d["party"] = pd.cut(
    d["PID"], [-1, 1, 4, 6], labels=["Democrat", "Independent", "Republican"]
).astype(str)
d["college"] = (d["educ"] >= 6).astype(int)
model = MultinomialLogit(formula="party ~ selfLR + age + income + college + logpopul").fit(d)
print(model.summary(iia=d))
print(model.iia_test(d, method="small-hsiao", random_state=1).round(3).to_string())
for seed in range(2, 6):
    table = model.iia_test(d, method="small-hsiao", random_state=seed)
    print(f"Small-Hsiao p-values, seed {seed}:", table["p_value"].round(3).tolist())
print(model.combine_test().round(4).to_string())
print(model.combine_test("lr", X=d).round(4).to_string())
print(model.marginal_effects(d, dummy=True).xs("college", level="term").round(4).to_string())

features = ["logpopul", "selfLR", "age", "educ", "income"]
seven = MultinomialLogit().fit(d[features], d["PID"])
print(seven.iia_test(d[features], d["PID"]).round(3).to_string())
print(seven.iia_test(d[features], d["PID"], method="suest").round(3).to_string())
