"""Configuration: TOML decoded into frozen msgspec Structs that reject unknown keys.

Every bound is a msgspec constraint, so a bad value is reported with the path of its key. Secrets are
never config values: a venue names a credential, resolved by `connectors.secrets.load_secret`.
"""
from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from connectors.config import Section, VenueConfig
from daemon.legging.config import LeggingConfig
from daemon.opportunity.config import ScannerConfig, StrategyConfig
from daemon.risk.config import WatchdogConfig

class DaemonConfig(Section, kw_only=True):
    state_dir: str = "state"
    drain_timeout_s: Annotated[float, Meta(gt=0, le=300)] = 10.0
    log_level: Literal["debug", "info", "warning", "error"] = "info"


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


class ConfigError(ValueError):
    """Carries every problem found, each naming the key path (`$.venues[0].symbols`)."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


_SECTIONS: dict[str, type[Struct]] = {
    "daemon": DaemonConfig, "admin": AdminConfig, "sim": SimConfig, "legging": LeggingConfig,
    "watchdog": WatchdogConfig, "scanner": ScannerConfig, "strategy": StrategyConfig,
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


def _semantic_errors(cfg: Config) -> list[str]:
    problems: list[str] = []
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


def parse_config(text: str, source: str = "<config>") -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"invalid TOML: {exc}"]) from None
    problems = _section_errors(raw)
    if problems:
        raise ConfigError(source, problems)
    try:
        cfg = msgspec.convert(raw, Config)
    except msgspec.ValidationError as exc:  # pragma: no cover - sections already validated
        raise ConfigError(source, [str(exc)]) from None
    problems = _semantic_errors(cfg)
    if problems:
        raise ConfigError(source, problems)
    return cfg


def load_config(path: str | Path | None) -> Config:
    """`None` -> the embedded default config (runs against the embedded exchange)."""
    if path is None:
        return parse_config(default_config_text(), "<embedded default>")
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(str(p), [f"cannot read: {exc.strerror}"]) from None
    return parse_config(text, str(p))


def default_config_text() -> str:
    return resources.files("daemon").joinpath("default.toml").read_text()
