"""The page ships with the package: every static file is package data (pyproject.toml), so a
non-editable install (the container image) serves the same page; uPlot is vendored with its
licence and its version noted."""
from __future__ import annotations

import fnmatch
import re
import tomllib

from daemon.dashboard.server import CSRF_PLACEHOLDER, STATIC
from tests.conftest import ROOT


def test_every_static_file_is_package_data() -> None:
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["daemon"]
    files = [p.relative_to(ROOT / "daemon").as_posix() for p in STATIC.rglob("*") if p.is_file()]
    assert len(files) >= 10
    missing = [f for f in files if not any(fnmatch.fnmatch(f, g) for g in globs)]
    assert missing == [], f"add these to [tool.setuptools.package-data] daemon: {missing}"


def test_page_and_vendored_uplot() -> None:
    page = (STATIC / "index.html").read_text()
    assert page.count(CSRF_PLACEHOLDER) == 1
    for src in re.findall(r'(?:src|href)="/static/([^"]+)"', page):
        assert (STATIC / src).is_file(), src
    uplot = STATIC / "vendor" / "uplot"
    version = (uplot / "VERSION").read_text()
    assert "uPlot 1.6.32" in version and "MIT" in version
    assert "MIT License" in (uplot / "LICENSE").read_text()
    assert "1.6.32" in (uplot / "uPlot.iife.min.js").read_text()[:200]
