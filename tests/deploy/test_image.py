"""The image built and run for real with podman, where it is installed (.ci/run installs it).

Docker Hub cannot be reached here, so `python:3.11-slim` cannot be pulled: the build uses the
Dockerfile's BASE argument with a Debian bookworm image made from Debian's own packages
(deploy/test-base-image.sh: python3 3.11 and its venv module; .ci/run makes it), or the image in
$BASISD_TEST_BASE. Everything else is the Dockerfile as shipped. Flags this sandbox needs and a
normal host does not mind: runc where it is installed (crun refuses this machine's hybrid
cgroups), ulimits at or below the host's (root here lacks CAP_SYS_RESOURCE, so podman's higher
defaults fail), host networking for the build's pip (with the host's CA bundle, for a
TLS-intercepting proxy) and no network at all for the run (the embedded exchange is on loopback).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import wait_for
from tests.deploy.units import ROOT

BASE = "localhost/basisd-test-base:bookworm"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
LIMITS = ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=1024:1024"]


def _podman() -> list[str]:
    tool = shutil.which("podman")
    if tool is None:
        pytest.skip("podman is not installed (Debian package podman; .ci/run installs it) and no "
                    "Docker engine runs here: the image is not built")
    return [tool, *(["--runtime", "runc"] if shutil.which("runc") else [])]


def _base(podman: list[str]) -> str:
    base = os.environ.get("BASISD_TEST_BASE", BASE)
    if subprocess.run([*podman, "image", "exists", base]).returncode != 0:
        pytest.skip(f"no base image {base}: python:3.11-slim is on Docker Hub, unreachable here; "
                    "`bash deploy/test-base-image.sh` makes one from Debian's packages")
    return base


@pytest.fixture(scope="module")
def image() -> Iterator[tuple[list[str], str]]:
    podman = _podman()
    base = _base(podman)
    tag = f"localhost/basisd-test:{uuid.uuid4().hex[:8]}"
    build = [*podman, "build", "--format", "docker", "--network", "host", *LIMITS,
             "--build-arg", f"BASE={base}", "-f", str(ROOT / "deploy" / "Dockerfile"), "-t", tag]
    if os.path.exists(CA_BUNDLE):
        build += ["--build-arg", f"PIP_CERT={CA_BUNDLE}", "-v", f"{CA_BUNDLE}:{CA_BUNDLE}:ro"]
    r = subprocess.run([*build, str(ROOT)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    try:
        yield podman, tag
    finally:
        subprocess.run([*podman, "rmi", "-f", tag], capture_output=True)


def test_image_is_non_root_with_healthcheck_and_no_test_tools(image) -> None:
    podman, tag = image
    info = json.loads(subprocess.run([*podman, "image", "inspect", tag], capture_output=True,
                                     text=True, check=True).stdout)[0]
    assert info["User"] == "10001:10001" and info["Config"]["User"] == "10001:10001"
    assert info["Config"]["Entrypoint"] == ["basisd"]
    assert info["Healthcheck"]["Test"] == ["CMD", "basisctl", "health"]
    probe = ("import importlib.util as u; print([m for m in ('pytest', 'hypothesis', 'ccxt', "
             "'ruff', 'uvloop', 'daemon') if u.find_spec(m)])")
    r = subprocess.run([*podman, "run", "--rm", "--network", "none", *LIMITS, "--entrypoint",
                        "python3", tag, "-c", probe], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "['uvloop', 'daemon']", r.stdout + r.stderr


def test_container_serves_passes_its_healthcheck_and_drains_on_stop(image) -> None:
    podman, tag = image
    name = f"basisd-test-{uuid.uuid4().hex[:8]}"
    r = subprocess.run([*podman, "run", "-d", "--name", name, "--network", "none", "--read-only",
                        "-v", "/run/basisd", "--cap-drop", "ALL",
                        "--security-opt", "no-new-privileges", *LIMITS, tag],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    try:
        def healthy() -> bool:
            return subprocess.run([*podman, "healthcheck", "run", name], capture_output=True,
                                  timeout=60).returncode == 0
        assert wait_for(healthy, timeout=90, interval=1.0), _logs(podman, name)
        status = subprocess.run([*podman, "exec", name, "basisctl", "--json", "status"],
                                capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, status.stderr
        venues = json.loads(status.stdout)["venues"]
        assert set(venues) == {"sim-a", "sim-b"}
        subprocess.run([*podman, "stop", "-t", "40", name], capture_output=True, timeout=120)
        state = json.loads(subprocess.run([*podman, "inspect", name], capture_output=True,
                                          text=True, check=True).stdout)[0]["State"]
        assert state["ExitCode"] == 0, _logs(podman, name)    # SIGTERM: drained, not killed
        assert '"stopped"' in _logs(podman, name)
    finally:
        subprocess.run([*podman, "rm", "-f", "-v", name], capture_output=True, timeout=120)


def _logs(podman: list[str], name: str) -> str:
    r = subprocess.run([*podman, "logs", name], capture_output=True, text=True, timeout=60)
    return (r.stdout + r.stderr)[-3000:]
