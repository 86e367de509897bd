"""Config files read strictly (empty, cut, non-UTF-8, sections missing), what a config names outside
itself checked before a run (scenarios, credentials, venues), and SIGHUP keeping the old config."""
from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from daemon.config import ConfigError, check_problems, dropped, environment_problems, load_config

from tests.conftest import BIN, MINIMAL_CONFIG, wait_for

SIM_CONFIG = """[daemon]
state_dir = "state"

[admin]
socket = "run/x.sock"

[sim]
enabled = true
scenario = "default"

[[venues]]
name = "sim-a"
sim = true
symbols = ["BTCUSDT"]
"""

LIVE_CONFIG = """[daemon]
state_dir = "state"

[admin]
socket = "run/x.sock"

[[venues]]
name = "live"
credentials = "acct-one"
symbols = ["BTCUSDT"]
"""


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load_config(path)
    return err.value.problems


def test_empty_cut_and_undecodable_files_are_rejected_with_the_reason(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_bytes(b"")
    assert "the file is empty" in _problems(f)[0]
    f.write_bytes(b"  \n\n")
    assert "the file is empty" in _problems(f)[0]
    f.write_bytes(SIM_CONFIG.encode().replace(b"BTCUSDT", b"BTC\xff\xfeUSDT"))
    problem = _problems(f)[0]
    assert "not UTF-8" in problem and "0xff" in problem
    f.write_text(SIM_CONFIG.rstrip("\n"))
    assert "does not end with a newline" in _problems(f)[0]
    f.write_text(SIM_CONFIG.split("[admin]")[0])             # cut before [admin]
    assert any("missing section [admin]" in p and "$.admin" in p for p in _problems(f))
    f.write_text("# only a comment\n")
    assert {p.split(":")[0] for p in _problems(f)} == {"missing section [daemon]",
                                                       "missing section [admin]"}
    f.write_text(SIM_CONFIG)
    assert load_config(f).venues[0].name == "sim-a"


def test_a_reload_may_not_drop_a_section_the_running_config_has() -> None:
    running = frozenset({"daemon", "admin", "legging", "venues"})
    problems = dropped(running, frozenset({"daemon", "admin"}))
    assert len(problems) == 2
    assert "section [legging] is missing" in problems[0] and "$.legging" in problems[0]
    assert dropped(running, running | {"watchdog"}) == []


def test_environment_problems_name_unknown_scenarios_and_missing_credentials(tmp_path: Path
                                                                            ) -> None:
    f = tmp_path / "c.toml"
    f.write_text(SIM_CONFIG.replace('scenario = "default"', 'scenario = "no-such-scenario"'))
    problems = environment_problems(load_config(f), {})
    assert len(problems) == 1
    assert "unknown scenario 'no-such-scenario'" in problems[0] and "default" in problems[0]
    assert "$.sim.scenario" in problems[0]
    f.write_text(SIM_CONFIG.replace('scenario = "default"', 'config = "/nonexistent/sim.toml"'))
    assert "sim config '/nonexistent/sim.toml' cannot be loaded" in \
        environment_problems(load_config(f), {})[0]

    f.write_text(LIVE_CONFIG)
    cfg = load_config(f)
    problems = environment_problems(cfg, {"BASISD_ACCT_ONE_API_KEY": "key-value-123456"})
    assert len(problems) == 1 and "BASISD_ACCT_ONE_API_SECRET" in problems[0]
    assert "$.venues[0].credentials" in problems[0] and "key-value-123456" not in problems[0]
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "acct-one.api_key").write_text("k" * 12)
    (creds / "acct-one.api_secret").write_text("s" * 12)
    assert environment_problems(cfg, {"CREDENTIALS_DIRECTORY": str(creds)}) == []
    assert check_problems(cfg, {"CREDENTIALS_DIRECTORY": str(creds)}) == []

    f.write_text(MINIMAL_CONFIG)
    assert environment_problems(load_config(f), {}) == []
    assert any("no venues configured" in p and "$.venues" in p
               for p in check_problems(load_config(f), {}))


def _basisd(*args: str, cwd: Path, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items()
            if not k.startswith("BASISD_") and k != "CREDENTIALS_DIRECTORY"}
    return subprocess.run([str(BIN / "basisd"), *args], cwd=cwd, env={**full, **(env or {})},
                          capture_output=True, text=True, timeout=60)


def test_check_config_catches_scenario_credentials_and_no_venues(tmp_path: Path) -> None:
    cases = {
        "scenario.toml": (SIM_CONFIG.replace('"default"', '"nope"'), "unknown scenario 'nope'"),
        "creds.toml": (LIVE_CONFIG, "BASISD_ACCT_ONE_API_KEY"),
        "novenue.toml": (MINIMAL_CONFIG, "no venues configured"),
        "empty.toml": ("", "the file is empty"),
    }
    secret = "very-secret-key-value"
    for name, (text, expected) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        r = _basisd("check-config", str(path), cwd=tmp_path,
                    env={"BASISD_ACCT_ONE_API_SECRET": secret})
        assert r.returncode == 2, (name, r.stdout, r.stderr)
        assert expected in r.stderr and str(path) in r.stderr, (name, r.stderr)
        assert "Traceback" not in r.stderr and secret not in r.stdout + r.stderr
    good = tmp_path / "good.toml"
    good.write_text(SIM_CONFIG)
    r = _basisd("check-config", str(good), cwd=tmp_path)
    assert r.returncode == 0 and "OK (1 venue(s))" in r.stdout, r.stderr


def test_run_refuses_unknown_scenario_and_missing_credentials_in_one_line(tmp_path: Path) -> None:
    for name, text, expected in (
            ("scenario.toml", SIM_CONFIG.replace('"default"', '"nope"'), "unknown scenario 'nope'"),
            ("creds.toml", LIVE_CONFIG, "BASISD_ACCT_ONE_API_KEY")):
        path = tmp_path / name
        path.write_text(text)
        r = _basisd("run", "--config", str(path), cwd=tmp_path)
        out = r.stdout + r.stderr
        assert r.returncode == 2, (name, out)
        lines = [x for x in out.splitlines() if x.startswith("basisd:")]
        assert len(lines) == 1 and expected in lines[0] and "config error" in lines[0], out
        for noise in ("Traceback", "FileNotFoundError", "MissingSecret("):
            assert noise not in out, (name, out)
        assert not (tmp_path / "run" / "x.sock").exists()


def rejections(log: str) -> list[list[str]]:
    """The problems of every `reload_rejected` line, in order."""
    found = []
    for line in log.splitlines():
        if '"reload_rejected"' in line:
            found.append(json.loads(line)["problems"])
    return found


def test_sighup_rejects_empty_cut_and_undecodable_files_and_keeps_the_old_limits(
        daemon_factory) -> None:
    from daemon.ctl import request

    limited = MINIMAL_CONFIG + "\n[legging]\nmax_notional_usd = 5\n"
    d = daemon_factory(limited)
    assert d.ready(), d.output()
    assert wait_for(lambda: request(str(d.socket), "GET", "/v1/positions")[0] == 200, 10)
    body = {"type": "reverse_basis", "symbol": "BTCUSDT", "notional_usd": 10}

    def refused_by_the_limit() -> bool:
        status, answer = request(str(d.socket), "POST", "/v1/positions", body)
        return status == 400 and answer.get("field") == "notional_usd" and "5" in answer["error"]
    assert refused_by_the_limit()
    bad_files = [
        (b"", "the file is empty"),
        (MINIMAL_CONFIG.encode(), "section [legging] is missing"),          # cut: tail lost
        (limited.encode()[:-3], "does not end with a newline"),            # cut mid-line
        (limited.encode().replace(b"drain_timeout_s", b"drain\xe9timeout_s"), "not UTF-8"),
        (b"[daemon]\nstate_dir = 'state'\n", "missing section [admin]"),
    ]
    for n, (data, reason) in enumerate(bad_files, 1):
        d.config.write_bytes(data)
        d.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: len(rejections(d.output())) >= n, 10), d.output()
        assert any(reason in p for p in rejections(d.output())[n - 1]), (reason, d.output())
        status = json.loads(d.ctl("--json", "status").stdout)
        assert status["reloads"] == 0 and d.proc.poll() is None
        assert refused_by_the_limit()              # still the running config's 5 USD cap
    assert "Traceback" not in d.output() and "reload_failed" not in d.output()
    d.config.write_text(limited.replace("= 5\n", "= 7\n"))
    d.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: json.loads(d.ctl("--json", "status").stdout)["reloads"] == 1, 10)
    status, answer = request(str(d.socket), "POST", "/v1/positions", body)
    assert status == 400 and "7" in answer["error"], answer
