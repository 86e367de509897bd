from __future__ import annotations

import subprocess

import pytest

from daemon.config import Config, ConfigError, load_config, parse_config
from connectors.secrets import MissingSecret, Secret, env_name, load_secret
from tests.conftest import BIN


def test_embedded_default_is_valid_and_points_at_the_sim() -> None:
    cfg = load_config(None)
    assert isinstance(cfg, Config)
    assert cfg.sim.enabled
    assert [(v.name, v.kind) for v in cfg.venues] == [
        ("sim-a", "binance"), ("sim-b", "binance"), ("sim-bybit", "bybit"), ("sim-okx", "okx")]
    assert all(v.sim for v in cfg.venues)
    assert cfg.strategy.venues == ["sim-a", "sim-b"]
    assert cfg.admin.socket == "run/basisd.sock"


def test_unknown_key_is_rejected_with_its_path() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config("[admin]\nsockett = 'x'\n")
    assert any("sockett" in p and "$.admin" in p for p in err.value.problems)


def test_every_bad_key_is_reported_not_only_the_first() -> None:
    text = """
[daemon]
drain_timeout_s = -1
[admin]
max_body_bytes = 10
[[venues]]
name = "ok"
credentials = "main"
symbols = ["BTCUSDT"]
[[venues]]
name = "Bad Name"
symbols = ["BTCUSDT"]
"""
    with pytest.raises(ConfigError) as err:
        parse_config(text)
    joined = "\n".join(err.value.problems)
    assert "$.daemon.drain_timeout_s" in joined
    assert "$.admin.max_body_bytes" in joined
    assert "$.venues[1].name" in joined
    assert len(err.value.problems) == 3


def test_semantic_errors_name_the_key() -> None:
    text = """
[[venues]]
name = "a"
symbols = ["BTCUSDT", "BTCUSDT"]
[[venues]]
name = "a"
sim = true
symbols = ["ETHUSDT"]
"""
    with pytest.raises(ConfigError) as err:
        parse_config(text)
    joined = "\n".join(err.value.problems)
    assert "$.venues[0].symbols" in joined
    assert "$.venues[0].credentials" in joined
    assert "$.venues[1].name" in joined
    assert "$.venues[1].sim" in joined


def test_config_structs_are_frozen() -> None:
    cfg = load_config(None)
    with pytest.raises(AttributeError):
        cfg.admin.socket = "x"  # type: ignore[misc]


def test_invalid_toml_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config("[admin\n")
    assert "invalid TOML" in err.value.problems[0]


def test_check_config_cli_exits_2_and_names_the_key(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[admin]\nsocket = 'run/x.sock'\nbogus = 1\n")
    r = subprocess.run([str(BIN / "basisd"), "check-config", str(bad)], capture_output=True, text=True)
    assert r.returncode == 2
    assert "bogus" in r.stderr and "$.admin" in r.stderr
    good = tmp_path / "good.toml"
    good.write_text("[daemon]\n[admin]\nsocket = 'run/x.sock'\n[sim]\nenabled = true\n"
                    "[[venues]]\nname = 'sim-a'\nsim = true\nsymbols = ['BTCUSDT']\n")
    r = subprocess.run([str(BIN / "basisd"), "check-config", str(good)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_secret_from_env_and_credentials_directory(tmp_path) -> None:
    assert env_name("binance-main", "api_key") == "BASISD_BINANCE_MAIN_API_KEY"
    s = load_secret("binance-main", "api_key", {"BASISD_BINANCE_MAIN_API_KEY": "abcdefgh"})
    assert s.reveal() == "abcdefgh"
    assert repr(s) == "***" and str(s) == "***" and f"{s}" == "***"
    (tmp_path / "binance-main.api_secret").write_text("s3cr3t-value\n")
    s2 = load_secret("binance-main", "api_secret", {"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert s2.reveal() == "s3cr3t-value"
    with pytest.raises(MissingSecret) as err:
        load_secret("other", "api_key", {})
    assert "BASISD_OTHER_API_KEY" in str(err.value)
    assert isinstance(s, Secret)


def test_shipped_example_configs_are_valid() -> None:
    from tests.conftest import ROOT

    cfg = load_config(ROOT / "deploy" / "basisd.example.toml")
    assert not cfg.sim.enabled and cfg.venues[0].credentials == "binance-main"
    assert not cfg.strategy.enabled          # auto mode stays off unless a live config asks for it
    assert load_config(None).strategy.enabled


def test_metrics_port_binds_loopback_only() -> None:
    assert parse_config("[daemon]\nmetrics_port = 9464\n").daemon.metrics_host == "127.0.0.1"
    for host in ("::1", "127.0.0.2", "localhost"):
        assert parse_config(f"[daemon]\nmetrics_port = 9464\nmetrics_host = '{host}'\n")
    for host in ("0.0.0.0", "10.0.0.1", "example.com"):
        with pytest.raises(ConfigError) as exc:
            parse_config(f"[daemon]\nmetrics_port = 9464\nmetrics_host = '{host}'\n")
        assert any("loopback" in p and "$.daemon.metrics_host" in p for p in exc.value.problems)
