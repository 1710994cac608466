"""A self-contained HTML viewer of shopping sessions: pages as the shopper saw them, step by step."""

from shop_r1.viewer.build import Pane, render_viewer, safe_json

__all__ = ["Pane", "render_viewer", "safe_json"]
