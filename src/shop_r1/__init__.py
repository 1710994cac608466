"""shop-r1: train language models to simulate online shoppers (the Shop-R1 method, arXiv 2507.17842)."""

__version__ = "0.1.0"
