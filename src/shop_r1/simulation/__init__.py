"""Closed-loop simulation: a model (or the world's own shoppers) visits the embedded store, step by step.

Modules: `config` (run settings, `K=V` store overrides), `shoppers` (who each visit is: ids, personas, the
world's rule-based shopper), `drivers` (what proposes the next action: a model's completions or the world
policy), `endpoint` (an OpenAI-compatible endpoint as a generator), `visit` (one visit's state and how a
proposal advances it, pure), `loop` (many visits advancing together), `output` (append-only, resumable
files and the summary), `outcomes` (funnel per visit), `abtest` (two store variants, paired intervals,
report), `simulator_comparison` (several simulators' effects on one A/B test beside the true one).
See docs/simulation.md.
"""
