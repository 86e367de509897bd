"""Configuration: TOML decoded into frozen msgspec Structs that reject unknown keys.

Every bound is a msgspec constraint, so a bad value is reported with the path of its key. Secrets are
never config values: a venue names a credential, resolved by `connectors.secrets.load_secret`.

A file is read strictly: it must be UTF-8, non-empty, end with a newline (a file cut short, or
still being written, usually does not) and hold every section a run needs (REQUIRED_SECTIONS), so
an empty or truncated file is never mistaken for "all defaults". `environment_problems` checks
what the file names outside itself (scenarios, credentials) before anything starts.
"""
from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from connectors.config import Section, VenueConfig
from connectors.secrets import MissingSecret, env_name, load_secret
from daemon.dashboard.config import DashboardConfig
from daemon.legging.config import LeggingConfig
from daemon.opportunity.config import ScannerConfig, StrategyConfig
from daemon.risk.config import WatchdogConfig


class DaemonConfig(Section, kw_only=True):
    state_dir: str = "state"
    drain_timeout_s: Annotated[float, Meta(gt=0, le=300)] = 10.0
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Also serve /metrics over TCP on this port (0: off; it is always on the admin socket).
    metrics_port: Annotated[int, Meta(ge=0, le=65535)] = 0
    # The TCP /metrics address: loopback only (127.0.0.0/8, ::1 or localhost).
    metrics_host: str = "127.0.0.1"


class AdminConfig(Section, kw_only=True):
    socket: Annotated[str, Meta(min_length=1, max_length=100)] = "run/basisd.sock"
    group: str | None = None
    max_body_bytes: Annotated[int, Meta(ge=1024, le=16 * 1024 * 1024)] = 64 * 1024


class SimConfig(Section, kw_only=True):
    """The embedded exchange started in-process by `basisd run` (the default config enables it)."""

    enabled: bool = False
    seed: Annotated[int, Meta(ge=0)] = 1
    scenario: str = "default"
    speedup: Annotated[float, Meta(ge=1, le=100_000)] = 480.0
    config: str | None = None


class Config(Section, kw_only=True):
    daemon: DaemonConfig = DaemonConfig()
    admin: AdminConfig = AdminConfig()
    sim: SimConfig = SimConfig()
    venues: list[VenueConfig] = []
    legging: LeggingConfig = LeggingConfig()
    watchdog: WatchdogConfig = WatchdogConfig()
    scanner: ScannerConfig = ScannerConfig()
    strategy: StrategyConfig = StrategyConfig()
    dashboard: DashboardConfig = DashboardConfig()


class ConfigError(ValueError):
    """Carries every problem found, each naming the key path (`$.venues[0].symbols`)."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


_SECTIONS: dict[str, type[Struct]] = {
    "daemon": DaemonConfig, "admin": AdminConfig, "sim": SimConfig, "legging": LeggingConfig,
    "watchdog": WatchdogConfig, "scanner": ScannerConfig, "strategy": StrategyConfig,
    "dashboard": DashboardConfig,
}


def _section_errors(raw: dict[str, Any]) -> list[str]:
    """Validate section by section so one run reports every bad key, not only the first."""
    problems: list[str] = []
    for key, value in raw.items():
        if key == "venues":
            if not isinstance(value, list):
                problems.append("Expected `array`, got `table` - at `$.venues`")
                continue
            for i, venue in enumerate(value):
                try:
                    msgspec.convert(venue, VenueConfig)
                except msgspec.ValidationError as exc:
                    problems.append(_rebase(str(exc), f"$.venues[{i}]"))
        elif key in _SECTIONS:
            try:
                msgspec.convert(value, _SECTIONS[key])
            except msgspec.ValidationError as exc:
                problems.append(_rebase(str(exc), f"$.{key}"))
        else:
            problems.append(f"Object contains unknown field `{key}` - at `$`")
    return problems


def _rebase(message: str, prefix: str) -> str:
    if "- at `$" in message:
        return message.replace("- at `$", f"- at `{prefix}", 1)
    return f"{message} - at `{prefix}`"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _semantic_errors(cfg: Config) -> list[str]:
    problems: list[str] = []
    if not is_loopback(cfg.daemon.metrics_host):
        problems.append(f"{cfg.daemon.metrics_host!r} is not a loopback address (127.0.0.0/8, ::1"
                        " or localhost): /metrics is never served beyond this host"
                        " - at `$.daemon.metrics_host`")
    dash = cfg.dashboard
    if dash.enabled and not is_loopback(dash.host) and dash.token is None:
        problems.append(f"dashboard.host {dash.host!r} is not a loopback address: a dashboard"
                        " reachable from other machines needs an access token (set"
                        " dashboard.token to a credential name) - at `$.dashboard.token`")
    seen: set[str] = set()
    for i, venue in enumerate(cfg.venues):
        if venue.name in seen:
            problems.append(f"duplicate venue name {venue.name!r} - at `$.venues[{i}].name`")
        seen.add(venue.name)
        if len(set(venue.symbols)) != len(venue.symbols):
            problems.append(f"duplicate symbol - at `$.venues[{i}].symbols`")
        if venue.sim and not cfg.sim.enabled:
            problems.append(f"venue {venue.name!r} uses the embedded exchange but sim.enabled is false"
                            f" - at `$.venues[{i}].sim`")
        if not venue.sim and venue.credentials is None:
            problems.append(f"venue {venue.name!r} needs `credentials` (a credential name, not a key)"
                            f" - at `$.venues[{i}].credentials`")
    if cfg.venues:
        names = {v.name for v in cfg.venues}
        for key in ("default_spot_venue", "default_perp_venue", "default_long_venue",
                    "default_short_venue"):
            if key in _explicit(cfg, "legging") and getattr(cfg.legging, key) not in names:
                problems.append(f"{getattr(cfg.legging, key)!r} is not a configured venue"
                                f" - at `$.legging.{key}`")
    return problems


def _explicit(cfg: Config, section: str) -> set[str]:
    """Keys of `section` that differ from their defaults (set in the file)."""
    current, default = getattr(cfg, section), type(getattr(cfg, section))()
    return {f for f in current.__struct_fields__ if getattr(current, f) != getattr(default, f)}


# Sections a config file must hold: without them an empty or cut file would run on defaults
# (another state dir: a journal that knows no pairs; another socket).
REQUIRED_SECTIONS = ("daemon", "admin")


def parse_config(text: str, source: str = "<config>") -> Config:
    return _parse(text, source)[0]


def _parse(text: str, source: str, required: tuple[str, ...] = ()) -> tuple[Config, frozenset[str]]:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"invalid TOML: {exc}"]) from None
    problems = [f"missing section [{name}]: a run needs it (an empty or cut file must not run on"
                f" defaults) - at `$.{name}`" for name in required if name not in raw]
    problems += _section_errors(raw)
    if problems:
        raise ConfigError(source, problems)
    try:
        cfg = msgspec.convert(raw, Config)
    except msgspec.ValidationError as exc:  # pragma: no cover - sections already validated
        raise ConfigError(source, [str(exc)]) from None
    problems = _semantic_errors(cfg)
    if problems:
        raise ConfigError(source, problems)
    return cfg, frozenset(raw)


def load_config(path: str | Path | None) -> Config:
    """`None` -> the embedded default config (runs against the embedded exchange)."""
    return read_config(path)[0]


def read_config(path: str | Path | None) -> tuple[Config, frozenset[str]]:
    """The config and the sections its file holds (a reload must not drop one: `dropped`)."""
    if path is None:
        return _parse(default_config_text(), "<embedded default>", REQUIRED_SECTIONS)
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(str(p), [f"cannot read: {exc.strerror}"]) from None
    return _parse(_text_of(data, str(p)), str(p), REQUIRED_SECTIONS)


def _text_of(data: bytes, source: str) -> str:
    if not data.strip():
        raise ConfigError(source, [f"the file is empty ({len(data)} bytes): refusing to run on "
                                   "defaults"])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(source, [f"not UTF-8 text: byte 0x{data[exc.start]:02x} at offset "
                                   f"{exc.start} (a TOML file must be UTF-8)"]) from None
    if not text.endswith("\n"):
        raise ConfigError(source, ["the file does not end with a newline: cut short, or still "
                                   "being written? Save it whole and try again"])
    return text


def dropped(running: frozenset[str], new: frozenset[str]) -> list[str]:
    """Sections the running config's file held that a reloaded file lacks: a reload would reset
    them to defaults (the usual sign of a cut file), so it is refused."""
    return [f"section [{name}] is missing but the running config has it: a reload would reset it"
            f" to defaults; write it out (or restart to drop it) - at `$.{name}`"
            for name in sorted(running - new)]


def environment_problems(cfg: Config, environ: Mapping[str, str] | None = None) -> list[str]:
    """What the config names outside itself and a run would fail on: the embedded exchange's
    scenarios and config file, every credential (reported by name, never by value)."""
    env = dict(os.environ if environ is None else environ)
    problems: list[str] = []
    if cfg.sim.enabled and any(v.sim for v in cfg.venues):
        problems += _sim_problems(cfg)
    for i, venue in enumerate(cfg.venues):
        if not venue.sim and venue.credentials is not None:
            problem = _credential_problem(venue.credentials, env, venue.kind)
            if problem:
                problems.append(f"venue {venue.name!r}: {problem} - at `$.venues[{i}].credentials`")
    token = cfg.dashboard.token
    if cfg.dashboard.enabled and token is not None:
        try:
            load_secret(token, "token", env)
        except MissingSecret:
            problems.append(f"dashboard token {token!r} not found: set ${env_name(token, 'token')}"
                            f" or put {token}.token in $CREDENTIALS_DIRECTORY - at"
                            " `$.dashboard.token`")
        except (OSError, UnicodeDecodeError):
            problems.append(f"dashboard token {token!r} cannot be read - at `$.dashboard.token`")
    return problems


def _credential_problem(credential: str, env: dict[str, str],
                        kind: str = "binance") -> str | None:
    """What is missing or unreadable of a credential's parts, by name (values never shown)."""
    missing, unreadable = [], []
    parts = ("api_key", "api_secret") + (("api_passphrase",) if kind == "okx" else ())
    for part in parts:
        try:
            load_secret(credential, part, env)
        except MissingSecret:
            missing.append(part)
        except (OSError, UnicodeDecodeError) as exc:
            unreadable.append(f"{part} ({getattr(exc, 'strerror', None) or 'not UTF-8 text'})")
    if not missing and not unreadable:
        return None
    where = env.get("CREDENTIALS_DIRECTORY")
    text = []
    if missing:
        names = " and ".join(f"${env_name(credential, part)}" for part in missing)
        files = " / ".join(f"{credential}.{part}" for part in missing)
        text.append(f"credential {credential!r} has no {', '.join(missing)}: set {names}, or put "
                    f"{files} in " + (where or "$CREDENTIALS_DIRECTORY"))
    if unreadable:
        text.append(f"credential {credential!r}: cannot read {', '.join(unreadable)}")
    return "; ".join(text)


def check_problems(cfg: Config, environ: Mapping[str, str] | None = None) -> list[str]:
    """`basisd check-config`: environment_problems, and a config with nothing to trade."""
    problems = environment_problems(cfg, environ)
    if not cfg.venues:
        problems.append("no venues configured: the daemon would trade nothing (add a [[venues]] "
                        "table) - at `$.venues`")
    return problems


def _sim_problems(cfg: Config) -> list[str]:
    from connectors.sim.config import load_sim_config

    if cfg.sim.config:
        try:
            sim = load_sim_config(cfg.sim.config)
        except (OSError, ValueError, msgspec.ValidationError) as exc:
            why = getattr(exc, "strerror", None) or str(exc)
            return [f"sim config {cfg.sim.config!r} cannot be loaded: {why} - at `$.sim.config`"]
        return [p for i, v in enumerate(sim.venues)
                if (p := _scenario_problem(v.scenario, f"{cfg.sim.config}: venues[{i}].scenario"))]
    problem = _scenario_problem(cfg.sim.scenario, "$.sim.scenario")
    return [problem] if problem else []


def _scenario_problem(name: str, where: str) -> str | None:
    """None when the embedded exchange can load scenario `name` ("" = none)."""
    from connectors.sim.engine.scenario import SCENARIO_DIR, load_scenario

    if not name:
        return None
    try:
        load_scenario(name)
    except FileNotFoundError:
        known = ", ".join(sorted(p.stem for p in SCENARIO_DIR.glob("*.toml")))
        return f"unknown scenario {name!r}: not a file and not one of {known} - at `{where}`"
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        return f"scenario {name!r} cannot be loaded: {why} - at `{where}`"
    return None


def default_config_text() -> str:
    return resources.files("daemon").joinpath("default.toml").read_text()
