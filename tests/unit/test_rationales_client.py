import random
from datetime import UTC, datetime

import pytest

from shop_r1.errors import ShopR1Error
from shop_r1.rationales.client import (
    ChatClient,
    GenerationSettings,
    RetryPolicy,
    backoff_delay,
    chat_completions_url,
    retry_after_seconds,
)


def test_backoff_doubles_within_equal_jitter_bounds_and_is_capped():
    policy = RetryPolicy(backoff=0.5, backoff_max=4.0)
    rng = random.Random(0)
    ceilings = {1: 0.5, 2: 1.0, 3: 2.0, 4: 4.0, 5: 4.0, 9: 4.0}
    for retry, ceiling in ceilings.items():
        delays = [backoff_delay(retry, policy, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), retry
        assert max(delays) - min(delays) > ceiling / 4  # jittered, not a constant
    assert backoff_delay(1, RetryPolicy(backoff=0.0, backoff_max=0.0), rng) == 0.0


def test_backoff_mean_grows_until_the_cap():
    policy = RetryPolicy(backoff=1.0, backoff_max=8.0)
    rng = random.Random(1)
    means = [sum(backoff_delay(r, policy, rng) for _ in range(400)) / 400 for r in range(1, 7)]
    assert means[0] < means[1] < means[2] < means[3]
    assert means[3] == pytest.approx(means[5], rel=0.1)  # both at the cap: 8 * 3/4 on average
    assert means[5] == pytest.approx(6.0, rel=0.1)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"max_attempts": 0}, "max_attempts"),
    ({"backoff": 5.0, "backoff_max": 1.0}, "backoff"),
    ({"backoff": -1.0}, "backoff"),
], ids=["no-attempts", "cap-below-base", "negative"])
def test_retry_policy_rejects_nonsense(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RetryPolicy(**kwargs)


@pytest.mark.parametrize(("value", "seconds"), [
    ("3", 3.0), (" 0.5 ", 0.5), ("-2", 0.0), (None, None), ("soon", None),
    ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0), ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
], ids=["seconds", "fraction", "negative", "absent", "garbage", "http-date", "date-in-past"])
def test_retry_after(value, seconds):
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert retry_after_seconds(value, now=now) == seconds


@pytest.mark.parametrize(("base", "url"), [
    ("http://localhost:8000/v1", "http://localhost:8000/v1/chat/completions"),
    ("http://localhost:8000/v1/", "http://localhost:8000/v1/chat/completions"),
    ("http://localhost:8000", "http://localhost:8000/v1/chat/completions"),
    ("http://localhost:8000/", "http://localhost:8000/v1/chat/completions"),
    ("https://api.example.com/openai/v1beta", "https://api.example.com/openai/v1beta/chat/completions"),
    ("https://host/proxy", "https://host/proxy/chat/completions"),
], ids=["v1", "v1-slash", "no-path", "root-slash", "other-root", "non-v1-path"])
def test_base_url_rule(base, url):
    assert chat_completions_url(base) == url


@pytest.mark.parametrize("base", ["localhost:8000/v1", "ftp://host/v1", "", "http:///v1"])
def test_bad_base_urls_are_user_errors(base):
    with pytest.raises(ShopR1Error, match="--base-url"):
        chat_completions_url(base)


def test_generation_fields_leave_out_unset_settings():
    assert GenerationSettings().request_fields() == {"temperature": 0.7}
    assert GenerationSettings(0.0, 256, 0.9).request_fields() == {"temperature": 0.0, "max_tokens": 256, "top_p": 0.9}


def test_client_never_shows_its_key():
    client = ChatClient("http://localhost:1/v1", "m", api_key="sk-very-secret")
    assert "sk-very-secret" not in repr(client)
    assert client.redact("echo: Bearer sk-very-secret!") == "echo: Bearer ***!"
