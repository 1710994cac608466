"""Evaluation: predict once (`predict.py` -> predictions.jsonl), score many times (`runs.py` over the
pure metrics of `metrics.py`), render (`report.py`).

Paper (arXiv 2507.17842, section 5): exact action accuracy, action-type accuracy and macro-F1, and a
per-type breakdown; here also bootstrap confidence intervals, the parse failure rate and, where the
gold rationale or reason is known, the quality of the predicted rationale.

Only `predict` and `generation` import torch or transformers, and only inside functions, so
`import shop_r1.evaluation.metrics` stays light.
"""
