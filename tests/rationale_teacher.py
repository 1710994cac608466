"""A scripted OpenAI-compatible teacher and a fault-injecting proxy, on real loopback HTTP (stdlib servers).

The teacher answers `/v1/chat/completions` with rationales derived from the request alone: it finds the
session id in the page URLs (`https://shop.example/<session id>/p<i>`) and the actions in the prompt,
and answers `expected_rationale(session_id, step_number, action_type)` for each. It counts calls per
session (and per step in step mode), records Authorization headers and adds up the `usage` it reports.

The proxy sits in front of it and, request by request, plays a fault from its schedule (a 500, a 429 with
Retry-After, a body that is not JSON, an unusable reply, a hang past the client's timeout, a dropped
connection) before forwarding normally once the schedule is used up.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from shop_r1.schema import Session
from tests.conftest import make_session

SESSION_IN_URL = re.compile(r"https://shop\.example/([A-Za-z0-9_-]+)/p\d+")
ACTION_LINE = re.compile(r"^Action: (\{.*\})$", re.M)
STEP_TO_EXPLAIN = re.compile(r"The step to explain, step (\d+)")


def expected_rationale(session_id: str, number: int, action_type: str) -> str:
    return f"I do step {number} of {session_id} ({action_type})."


def teacher_session(session_id: str, n_steps: int = 3, keep: tuple[int, ...] = (), html_size: int = 20) -> Session:
    """A session whose URLs carry its id; only the steps in `keep` retain their rationale (`reason <i>`)."""
    base = make_session(session_id, n_steps=n_steps, html_size=html_size)
    steps = tuple(dataclasses.replace(step, url=f"https://shop.example/{session_id}/p{i}",
                                      rationale=step.rationale if i in keep else None)
                  for i, step in enumerate(base.steps))
    return dataclasses.replace(base, steps=steps)


def expected_steps(session: Session, overwrite: bool = False) -> list[str]:
    """What every step's rationale must be after synthesis."""
    return [step.rationale if step.rationale and not overwrite
            else expected_rationale(session.session_id, i + 1, step.action.type.value)
            for i, step in enumerate(session.steps)]


def _completion(content: str, model: str, usage: dict[str, int] | None) -> bytes:
    body = {"id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]}
    if usage is not None:
        body["usage"] = usage
    return json.dumps(body).encode()


class _Server:
    """A ThreadingHTTPServer on a free 127.0.0.1 port, run in a daemon thread while in `with`."""

    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    owner.handle(self, raw)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.lock = threading.Lock()

    @property
    def root(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        return f"{self.root}/v1"

    def __enter__(self):  # type: ignore[no-untyped-def]
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @staticmethod
    def reply(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(body)

    def handle(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        raise NotImplementedError


def session_id_of(body: dict) -> str:
    """The id in the page URLs; sessions without URLs (OPeRA's action table) all count as "unknown"."""
    match = SESSION_IN_URL.search(body["messages"][-1]["content"])
    return match.group(1) if match else "unknown"


class Teacher(_Server):
    """The scripted teacher. `delay` slows every answer; sessions in `bad_for` always get one rationale
    too few; with `required_key`, any other Authorization is refused with 401 (echoing the header)."""

    def __init__(self, delay: float = 0.0, required_key: str | None = None) -> None:
        super().__init__()
        self.delay = delay
        self.required_key = required_key
        self.bad_for: set[str] = set()
        self.calls: Counter[str] = Counter()
        self.step_calls: Counter[tuple[str, int]] = Counter()
        self.auth_headers: list[str | None] = []
        self.usage = Counter()

    def handle(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        if urlsplit(handler.path).path != "/v1/chat/completions":
            self.reply(handler, 404, json.dumps({"error": {"message": f"no route {handler.path}"}}).encode())
            return
        body = json.loads(raw)
        auth = handler.headers.get("Authorization")
        with self.lock:
            self.auth_headers.append(auth)
        if self.required_key is not None and auth != f"Bearer {self.required_key}":
            message = {"error": {"message": f"Incorrect API key provided: {auth}"}}
            self.reply(handler, 401, json.dumps(message).encode())
            return
        time.sleep(self.delay)
        text = body["messages"][-1]["content"]
        session_id = session_id_of(body)
        actions = [json.loads(line) for line in ACTION_LINE.findall(text)]
        step = STEP_TO_EXPLAIN.search(text)
        if step:
            number = int(step.group(1))
            answer = {"rationale": expected_rationale(session_id, number, actions[-1]["type"])}
        else:
            rationales = [expected_rationale(session_id, number, action["type"])
                          for number, action in enumerate(actions, start=1)]
            answer = {"rationales": rationales[:-1] if session_id in self.bad_for else rationales}
        content = json.dumps(answer)
        if session_id and session_id[-1] in "13579":  # some answers in a fence with prose, as real models do
            content = f"Here is the JSON you asked for:\n```json\n{content}\n```\nLet me know if you need more."
        usage = {"prompt_tokens": len(text) // 4, "completion_tokens": len(content) // 4}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        with self.lock:
            self.calls[session_id] += 1
            if step:
                self.step_calls[(session_id, int(step.group(1)))] += 1
            self.usage.update(usage)
        self.reply(handler, 200, _completion(content, body["model"], usage))


FAULTS = ("500", "503-echo-auth", "429", "bad-body", "bad-reply", "wrong-count", "timeout", "drop")


class FaultProxy(_Server):
    """Plays `schedule` (names from `FAULTS`), one per request in arrival order, then forwards to `upstream`.

    `log` records `(time, session id, fault or "forward")` per request. `hang` is how long a "timeout"
    keeps the client waiting (set it above the client's timeout); `retry_after` is the 429's header.
    """

    def __init__(self, upstream: str, schedule: list[str], hang: float = 1.0, retry_after: int = 1) -> None:
        super().__init__()
        unknown = set(schedule) - set(FAULTS)
        assert not unknown, unknown
        self.upstream = urlsplit(upstream)
        self.schedule = list(schedule)
        self.hang = hang
        self.retry_after = retry_after
        self.log: list[tuple[float, str, str]] = []

    def handle(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        body = json.loads(raw)
        with self.lock:
            fault = self.schedule.pop(0) if self.schedule else "forward"
            self.log.append((time.monotonic(), session_id_of(body), fault))
        error = json.dumps({"error": {"message": "injected fault"}}).encode()
        if fault == "500":
            self.reply(handler, 500, error)
        elif fault == "503-echo-auth":
            echoed = {"error": {"message": f"overloaded; you sent {handler.headers.get('Authorization')}"}}
            self.reply(handler, 503, json.dumps(echoed).encode())
        elif fault == "429":
            self.reply(handler, 429, error, headers={"Retry-After": str(self.retry_after)})
        elif fault == "bad-body":
            self.reply(handler, 200, b"<html>502 Bad Gateway</html>", content_type="text/html")
        elif fault == "bad-reply":
            self.reply(handler, 200, _completion("I'm sorry, I can't help with that.", body["model"], None))
        elif fault == "wrong-count":
            self.reply(handler, 200, _completion('{"rationales": ["Only one."]}', body["model"], None))
        elif fault == "timeout":
            time.sleep(self.hang)
            handler.close_connection = True
        elif fault == "drop":
            handler.close_connection = True  # no status line at all: the client sees a dropped connection
        else:
            self._forward(handler, raw)

    def _forward(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        connection = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=30)
        headers = {key: value for key, value in handler.headers.items() if key.lower() in
                   ("authorization", "content-type")}
        connection.request("POST", handler.path, body=raw, headers=headers)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        self.reply(handler, response.status, data, content_type=response.getheader("Content-Type", "application/json"))


@contextlib.contextmanager
def teacher_behind_proxy(schedule: list[str], **proxy_kwargs: object) -> Iterator[tuple[Teacher, FaultProxy]]:
    with Teacher() as teacher, FaultProxy(teacher.root, schedule, **proxy_kwargs) as proxy:
        yield teacher, proxy
