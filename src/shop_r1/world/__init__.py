"""The embedded shopping world: a generated catalog, a searchable store that renders raw HTML pages,
and simulated shoppers whose every action comes with its true reason.

Main entry points: `build_catalog`, `Store` (an environment: `reset()` / `step(action)`), and
`synthesize_sessions` (sessions in the native schema, for demos, tests and benchmarks).
"""
