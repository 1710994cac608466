"""How close simulated shopping sessions are to real ones, compared as distributions (`shop-r1 realism`).

- `features`: what one session shows (click categories, searches, purchase, funnel depth, ending);
- `distances`: Jensen-Shannon divergence, Wasserstein-1 distance and the KS statistic on count vectors;
- `metrics`: both files' sessions -> every metric with bootstrap intervals (`compare_sessions`);
- `report`, `plots`: realism.json, report.md and the PNG figures (rendering only).
"""

from shop_r1.realism.metrics import RealismResult, compare_sessions

__all__ = ["RealismResult", "compare_sessions"]
