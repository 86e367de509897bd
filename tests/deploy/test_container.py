"""The container files, checked without a container engine: the Dockerfile's shape (stages,
runtime lock only, non-root user, exec-form entrypoint, HEALTHCHECK), .dockerignore, the compose
file (by docker-compose's own validator where installed) and the example configs (by
`basisd check-config`). test_image.py builds and runs the image where podman can."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.conftest import BIN
from tests.deploy.units import ROOT, SYSTEMD, one

DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
CONFIGS = {"sim": DEPLOY / "basisd.sim.toml", "paper": DEPLOY / "basisd.paper.toml",
           "live": DEPLOY / "basisd.example.toml"}
KEYS = {"BASISD_BINANCE_MAIN_API_KEY": "test-key", "BASISD_BINANCE_MAIN_API_SECRET": "test-secret"}


def instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending = f"{pending} {line}" if pending else line
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        word, _, rest = pending.partition(" ")
        out.append((word.upper(), rest.strip()))
        pending = ""
    return out


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for ins in instructions():
        if ins[0] == "FROM":
            found.append([])
        if found:
            found[-1].append(ins)
    return found


def _exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(x, str) for x in value), args
    return value


def test_dockerfile_is_multi_stage_and_builds_from_the_runtime_lock_only() -> None:
    builder, final = stages()[0], stages()[-1]
    assert len(stages()) == 2
    assert re.fullmatch(r"\$\{BASE\} AS builder", builder[0][1], re.I)
    assert final[0] == ("FROM", "${BASE}")
    copied = [a for i, a in builder if i == "COPY"]
    assert "requirements.lock ./" in copied
    text = DOCKERFILE.read_text()
    assert "requirements-test.lock" not in text and ".[test]" not in text and "make " not in text
    # The final stage takes the venv, not the source tree or a build tool.
    final_copies = [a for i, a in final if i == "COPY"]
    assert any(a.startswith("--from=builder /opt/basisd/venv ") for a in final_copies)
    assert not any(a.split()[-2:-1] in (["."], ["daemon"], ["connectors"]) for a in final_copies)
    assert not any(i == "RUN" and ("pip" in a or "apt-get" in a) for i, a in final)


def test_final_stage_runs_as_a_non_root_user_with_exec_form_entrypoint_and_healthcheck() -> None:
    final = stages()[-1]
    users = [a for i, a in final if i == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    last_user = max(n for n, (i, _) in enumerate(final) if i == "USER")
    assert all(i != "RUN" for i, _ in final[last_user:]), "nothing runs as root after USER"
    assert _exec_form(one_instruction(final, "ENTRYPOINT")) == ["basisd"]
    assert _exec_form(one_instruction(final, "CMD"))[0] == "run"
    health = one_instruction(final, "HEALTHCHECK")
    assert _exec_form(health[health.index("CMD") + 3:].strip()) == ["basisctl", "health"]
    assert one_instruction(final, "STOPSIGNAL") == "SIGTERM"
    env = one_instruction(final, "ENV")
    assert "BASISD_SOCKET=/run/basisd/basisd.sock" in env


def one_instruction(stage: list[tuple[str, str]], name: str) -> str:
    found = [a for i, a in stage if i == name]
    assert len(found) == 1, f"{name} given {len(found)} times"
    return found[0]


def test_dockerignore_keeps_venv_git_state_sockets_keys_and_caches_out() -> None:
    patterns = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")}
    for needed in (".git", ".venv", "run", "state", "**/*.sqlite", "**/*.sqlite-wal",
                   "**/*.sock", "**/__pycache__", ".pytest_cache", ".hypothesis", "deploy/secrets",
                   "tests"):
        assert needed in patterns, needed
    # ...and nothing the Dockerfile copies is ignored (no negations are used, so a plain match).
    sources = [a.split()[-2] for i, a in instructions() if i == "COPY" and "--from=" not in a]
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not any(source == p or source.startswith(p + "/") for p in patterns), source


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_example_configs_pass_check_config(name: str) -> None:
    r = subprocess.run([str(BIN / "basisd"), "check-config", str(CONFIGS[name])],
                       capture_output=True, text=True, timeout=60, env={**os.environ, **KEYS})
    assert r.returncode == 0, r.stdout + r.stderr
    cfg = tomllib.loads(CONFIGS[name].read_text())
    # The paths the image and the unit use: state in the volume / StateDirectory, socket in
    # /run/basisd (the image's $BASISD_SOCKET; the unit passes the same with --socket).
    assert cfg["daemon"]["state_dir"] == "/var/lib/basisd"
    assert cfg["admin"]["socket"] == "/run/basisd/basisd.sock"
    assert "--socket /run/basisd/basisd.sock" in one(SYSTEMD / "basisd.service", "Service", "ExecStart")


def test_sim_paper_and_live_differ_as_documented() -> None:
    sim, paper, live = (tomllib.loads(CONFIGS[n].read_text()) for n in ("sim", "paper", "live"))
    assert sim["sim"]["enabled"] and all(v["sim"] for v in sim["venues"])
    for cfg in (paper, live):
        assert not cfg["sim"]["enabled"]
        assert [v["credentials"] for v in cfg["venues"]] == ["binance-main"]
        assert cfg["venues"] == live["venues"]               # paper watches the live markets
    assert paper["strategy"]["enabled"] is False and paper["legging"]["max_notional_usd"] <= 1
    assert "strategy" not in live                          # auto mode off unless turned on


def test_compose_has_a_sim_and_a_live_profile_with_secrets_and_mounted_configs() -> None:
    text = COMPOSE.read_text()
    assert re.search(r'^  sim:\n(?:    .*\n)*?    profiles: \["sim"\]', text, re.M)
    assert re.search(r'^  live:\n(?:    .*\n)*?    profiles: \["live"\]', text, re.M)
    assert "./basisd.sim.toml:/etc/basisd/basisd.toml:ro" in text
    assert "./${BASISD_CONFIG:-basisd.example.toml}:/etc/basisd/basisd.toml:ro" in text
    assert "CREDENTIALS_DIRECTORY: /run/secrets" in text
    for secret in ("binance-main.api_key", "binance-main.api_secret"):
        assert f"file: ./secrets/{secret}" in text


def test_compose_file_validates_with_docker_compose() -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose is not installed (Debian package docker-compose; .ci/run "
                    "installs it; it validates offline, no engine needed)")
    for profile in ("sim", "live"):
        r = subprocess.run([tool, "-f", str(COMPOSE), "--profile", profile, "config"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert "profiles:" in r.stdout and f"- {profile}" in r.stdout
