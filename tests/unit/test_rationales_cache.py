import dataclasses
import hashlib
import json
import os
import subprocess
import sys

import pytest

from shop_r1.rationales.cache import CacheEntry, ReplyCache, cache_key, session_content_hash
from shop_r1.rationales.client import GenerationSettings
from shop_r1.rationales.prompt import RationalePromptConfig
from shop_r1.rationales.synthesize import SynthesisConfig, request_fields
from shop_r1.schema import Action
from tests.conftest import REPO_ROOT, make_session

CONFIG = SynthesisConfig(model="teacher-a")


def _key(session=None, config=CONFIG, step=None):
    return cache_key(request_fields(session or make_session(), config, step))


def test_key_is_the_sha256_of_the_canonical_request_fields():
    fields = request_fields(make_session(), CONFIG)
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert _key() == hashlib.sha256(canonical).hexdigest()
    # Key order does not matter, every value does.
    assert cache_key(dict(reversed(list(fields.items())))) == _key()
    assert cache_key({**fields, "step": 0}) != _key()


@pytest.mark.parametrize("config", [
    SynthesisConfig(model="teacher-b"),
    SynthesisConfig(model="teacher-a", mode="step"),
    SynthesisConfig(model="teacher-a", generation=GenerationSettings(temperature=0.0)),
    SynthesisConfig(model="teacher-a", generation=GenerationSettings(max_tokens=512)),
    SynthesisConfig(model="teacher-a", prompt=RationalePromptConfig(max_prompt_chars=1000)),
    SynthesisConfig(model="teacher-a", prompt=RationalePromptConfig(include_persona=False)),
], ids=["model", "mode", "temperature", "max-tokens", "prompt-budget", "persona"])
def test_key_changes_with_model_mode_and_settings(config):
    assert _key(config=config) != _key()


def test_key_changes_with_step_and_prompt_version(monkeypatch):
    assert _key(step=0) != _key() and _key(step=0) != _key(step=1)
    before = _key()
    monkeypatch.setattr("shop_r1.rationales.synthesize.PROMPT_VERSION", "rationales-v999")
    assert _key() != before


def test_overwrite_does_not_change_the_key():
    # The teacher is asked the same question either way; only the merge differs.
    assert _key(config=SynthesisConfig(model="teacher-a", overwrite=True)) == _key()


def test_key_fields_hold_what_the_request_depends_on():
    config = SynthesisConfig(model="m", prompt=RationalePromptConfig(max_prompt_chars=5000))
    fields = request_fields(make_session(), config, 2)
    assert fields["model"] == "m" and fields["step"] == 2 and fields["mode"] == "session"
    assert fields["prompt"] == {"max_prompt_chars": 5000, "include_persona": True}
    assert fields["generation"] == {"temperature": 0.7}
    from shop_r1.rationales.prompt import PROMPT_VERSION
    assert fields["prompt_version"] == PROMPT_VERSION


def test_key_changes_with_session_content_but_not_with_existing_rationales():
    session = make_session()
    other_action = dataclasses.replace(session.steps[1], action=Action("click", name="search_results.item_9"))
    edited = dataclasses.replace(session, steps=(session.steps[0], other_action, session.steps[2]))
    assert _key(edited) != _key(session)
    assert _key(make_session(html_size=41)) != _key(session)
    assert _key(make_session(persona="Likes socks.")) != _key(session)
    no_rationales = dataclasses.replace(
        session, steps=tuple(dataclasses.replace(s, rationale=None) for s in session.steps))
    assert session_content_hash(no_rationales) == session_content_hash(session)
    assert _key(no_rationales) == _key(session)


def test_key_is_stable_across_processes_and_hash_seeds():
    code = ("from tests.conftest import make_session; from shop_r1.rationales.synthesize import *; "
            "from shop_r1.rationales.cache import cache_key; "
            "print(cache_key(request_fields(make_session(persona={'b': '2', 'a': '1'}), "
            "SynthesisConfig(model='teacher-a'), 1)))")
    keys = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed,
               "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), str(REPO_ROOT)])}
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        keys.add(done.stdout.strip())
    assert keys == {_key(make_session(persona={"a": "1", "b": "2"}), step=1)}


def test_put_then_get_round_trips_and_writes_one_small_file(tmp_path):
    cache = ReplyCache(tmp_path / "c")
    key = _key()
    assert cache.get(key, 3) is None
    path = cache.put(CacheEntry(key=key, session_id="s1", rationales=["a", "b", "c"], attempts=2,
                                usage={"total_tokens": 7}, fields={"model": "m"}))
    assert path.parent.parent == tmp_path / "c" and path.name == f"{key}.json"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind
    entry = cache.get(key, 3)
    assert entry.rationales == ["a", "b", "c"] and entry.attempts == 2 and entry.usage == {"total_tokens": 7}
    assert len(cache) == 1


@pytest.mark.parametrize("content", [
    "{not json",
    json.dumps({"key": "other", "rationales": ["a", "b", "c"]}),
    json.dumps({"key": "KEY", "rationales": ["a", "b"]}),
    json.dumps({"key": "KEY", "rationales": ["a", "", "c"]}),
], ids=["corrupt", "wrong-key", "wrong-count", "empty-rationale"])
def test_bad_cache_files_are_ignored(tmp_path, content):
    cache = ReplyCache(tmp_path)
    key = _key()
    cache.path(key).parent.mkdir(parents=True)
    cache.path(key).write_text(content.replace("KEY", key))
    assert cache.get(key, 3) is None
