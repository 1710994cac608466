"""`shop-r1 serve`: an HTTP server (FastAPI + uvicorn) that predicts a live shopper's next action.

Modules: `requests` (session so far -> the training prompt, pure), `distribution` (samples -> action
distribution, pure), `schemas` (request/response bodies), `engine` (model, lock, generation),
`limits` (auth, body size, catch-all middlewares), `errors` (error bodies and status codes), `app`
(`create_app`). Nothing is imported here, so `shop_r1.serve.requests` stays free of FastAPI and torch.
See docs/serving.md.
"""
