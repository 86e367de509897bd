"""The dashboard's rules, pure (guard.py) and in config: who may read, who may act."""
from __future__ import annotations

import pytest

from daemon.config import ConfigError, environment_problems, load_config, parse_config
from daemon.dashboard.guard import access_ok, accepted_hosts, action_refusal, host_ok
from tests.conftest import MINIMAL_CONFIG, ROOT

HOSTS = accepted_hosts("127.0.0.1", 8470, ["box.lan:8470"])


def test_hosts_name_this_server_only() -> None:
    for ok in ("127.0.0.1:8470", "localhost:8470", "LOCALHOST:8470", "[::1]:8470", "box.lan:8470"):
        assert host_ok(ok, HOSTS), ok
    for bad in (None, "", "127.0.0.1", "127.0.0.1:8471", "evil.example:8470", "box.lan"):
        assert not host_ok(bad, HOSTS), bad
    assert "[::1]:9000" in accepted_hosts("::1", 9000)
    assert "10.0.0.5:80" in accepted_hosts("10.0.0.5", 80) and "10.0.0.5" in accepted_hosts("10.0.0.5", 80)
    assert not any(h.startswith("0.0.0.0") for h in accepted_hosts("0.0.0.0", 8470))


def test_actions_need_csrf_and_same_origin() -> None:
    good = {"csrf": "s3cret-csrf", "accepted": HOSTS}
    assert action_refusal(given_csrf="s3cret-csrf", origin="http://127.0.0.1:8470", **good) is None
    assert action_refusal(given_csrf="s3cret-csrf", origin="http://box.lan:8470", **good) is None
    assert "Origin" in action_refusal(given_csrf="s3cret-csrf", origin=None, **good)
    for origin in ("http://evil.example", "https://127.0.0.1:8470", "null",
                   "http://127.0.0.1:8470.evil.example"):
        assert "cross-origin" in action_refusal(given_csrf="s3cret-csrf", origin=origin, **good)
    for csrf in (None, "", "s3cret-csr", "s3cret-csrf "):
        assert "X-Basisd-CSRF" in action_refusal(given_csrf=csrf, origin="http://localhost:8470",
                                                 **good)


def test_access_token() -> None:
    assert access_ok(None, None, None)
    assert access_ok("tok-123456", "tok-123456", None)
    assert access_ok("tok-123456", None, "Bearer tok-123456")
    assert not access_ok("tok-123456", None, None)
    assert not access_ok("tok-123456", "tok-12345", "Bearer nope")


def test_non_loopback_needs_a_token() -> None:
    text = MINIMAL_CONFIG + '\n[dashboard]\nenabled = true\nhost = "0.0.0.0"\n'
    with pytest.raises(ConfigError) as err:
        parse_config(text)
    assert any("dashboard.token" in p and "not a loopback" in p for p in err.value.problems)
    cfg = parse_config(text + 'token = "dash"\n')
    assert cfg.dashboard.token == "dash"
    problems = environment_problems(cfg, {})
    assert any("$BASISD_DASH_TOKEN" in p for p in problems), problems
    assert environment_problems(cfg, {"BASISD_DASH_TOKEN": "v" * 20}) == []
    # off: no check (a disabled dashboard binds nothing)
    parse_config(MINIMAL_CONFIG + '\n[dashboard]\nenabled = false\nhost = "0.0.0.0"\n')


def test_on_in_the_embedded_default_off_in_the_live_profile() -> None:
    default = load_config(None).dashboard
    assert default.enabled and default.host == "127.0.0.1" and default.token is None
    live = load_config(ROOT / "deploy" / "basisd.example.toml").dashboard
    assert live.enabled is False
