"""The admin socket's guards (issue 12), with real clients on a real unix socket: peer credentials
(a client running as another uid), header and body deadlines, the connection cap under a
1024-fd limit, and JSON for aiohttp's own parser errors."""
from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp import web

from daemon.ops.admin import (AdminServer, ConnectionLimits, Connections, connection_cap,
                              peer_allowed)
from daemon.ops.logs import get_logger

from .test_admin import _echo, _get

NOBODY = 65534  # nobody:nogroup on Debian and Ubuntu


def make_server(path: Path, **kw) -> AdminServer:
    server = AdminServer(str(path), group=kw.pop("group", None), max_body=4096,
                         status=lambda: {"halt": "none"}, log=get_logger("test"),
                         limits=ConnectionLimits(**kw))
    server.add_routes([web.post("/v1/echo", _echo)])
    return server


@contextlib.asynccontextmanager
async def serving(path: Path, **kw) -> AsyncIterator[AdminServer]:
    server = make_server(path, **kw)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def exchange(sock: Path, request: bytes, *, guard_s: float = 20.0) -> tuple[int, dict, bytes]:
    """Send ``request`` and read until the server closes: (status, JSON body, raw head)."""
    reader, writer = await asyncio.open_unix_connection(str(sock))
    try:
        writer.write(request)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), guard_s)  # EOF: the server closed it
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), orjson.loads(body), head


# ------------------------------------------------------------------ pure parts
def test_peer_allowed_matrix() -> None:
    assert peer_allowed(0, 0, own_uid=1000, group_gid=None)              # root
    assert peer_allowed(1000, 1000, own_uid=1000, group_gid=None)        # the daemon's own uid
    assert not peer_allowed(NOBODY, NOBODY, own_uid=1000, group_gid=None)
    assert peer_allowed(NOBODY, 4242, own_uid=1000, group_gid=4242)      # effective gid
    assert peer_allowed(NOBODY, 1, own_uid=1000, group_gid=NOBODY)       # primary group in passwd
    assert not peer_allowed(NOBODY, 1, own_uid=1000, group_gid=4242)
    assert not peer_allowed(987_654, 1, own_uid=1000, group_gid=4242)    # no such user


def test_connection_cap_stays_below_the_fd_limit() -> None:
    assert connection_cap(256, 1024) == 256
    assert connection_cap(10_000, 1024) == 1024 // 2 - 128
    assert connection_cap(256, 65536) == 256
    assert connection_cap(256, 100) == 1


class _Fake:
    def __init__(self, idle: bool, peer_allowed: bool = True) -> None:
        self.idle = idle
        self.peer_allowed = peer_allowed
        self.closed = False

    def force_close(self) -> None:
        self.closed = True


def test_full_registry_evicts_the_oldest_idle_or_refuses() -> None:
    conns = Connections(2, get_logger("test"))
    busy, idle, new, newer = _Fake(False), _Fake(True), _Fake(True), _Fake(True)
    assert conns.admit(busy) and conns.admit(idle)               # type: ignore[arg-type]
    assert conns.admit(new) and idle.closed and not busy.closed  # type: ignore[arg-type]
    new.idle = False
    assert not conns.admit(newer) and len(conns) == 2            # type: ignore[arg-type]
    assert conns.counts["idle_evicted"] == 1 and conns.counts["full_refused"] == 1


def test_a_refused_peer_goes_first_and_never_pushes_anyone_out() -> None:
    conns = Connections(2, get_logger("test"))
    operator, stranger = _Fake(True), _Fake(True, peer_allowed=False)
    assert conns.admit(operator) and conns.admit(stranger)       # type: ignore[arg-type]
    assert not conns.admit(_Fake(True, peer_allowed=False))      # type: ignore[arg-type]
    assert not operator.closed and not stranger.closed
    assert conns.admit(_Fake(True))                              # type: ignore[arg-type]
    assert stranger.closed and not operator.closed               # the stranger, though newer


# ------------------------------------------------------------------ real sockets
async def test_parser_errors_answer_json(short_dir: Path) -> None:
    sock = short_dir / "p.sock"
    async with serving(sock):
        for bad in (b"\x16\x03\x01\x02\x00garbage\r\n\r\n",
                    b"GET /v1/health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
                    b"POST /v1/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"):
            status, body, head = await exchange(sock, bad)
            assert status == 400 and body["status"] == 400 and body["error"]
            assert b"application/json" in head
        async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(sock))) as s:
            assert await _get(s, "/v1/health") == (200, {"ok": True})


async def test_announced_huge_body_is_refused_and_closed(short_dir: Path) -> None:
    sock = short_dir / "h.sock"
    async with serving(sock):
        for path in (b"/v1/echo", b"/v1/status"):  # a handler that reads the body, one that does not
            status, body, head = await exchange(
                sock, b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n{" % path)
            assert status == 413 and "larger than 4096" in body["error"]
            assert b"Connection: close" in head


async def test_body_that_never_arrives_times_out(short_dir: Path) -> None:
    sock = short_dir / "b.sock"
    async with serving(sock, body_timeout_s=0.3):
        status, body, _ = await exchange(
            sock, b"POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\":")
        assert status == 408 and "body not received" in body["error"]


async def test_headers_that_never_complete_time_out(short_dir: Path) -> None:
    sock = short_dir / "t.sock"
    async with serving(sock, header_timeout_s=0.3) as server:
        status, body, _ = await exchange(sock, b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
        assert status == 408 and "headers not received" in body["error"]
        assert server.connections is not None and server.connections.counts["header_timeouts"] == 1
        status, body, _ = await exchange(sock, b"")  # connects and says nothing at all
        assert status == 408


_HOLD_CONNECTIONS = """
import resource, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
held = []
for _ in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    held.append(s)
print(len(held), flush=True)
sys.stdin.read()
"""


async def test_idle_connections_beyond_the_cap_cannot_lock_operators_out(short_dir: Path) -> None:
    """1100 idle connections against a daemon whose fd limit is systemd's default 1024."""
    sock = short_dir / "c.sock"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    server = make_server(sock, max_connections=100_000)  # the fd limit is what binds
    try:
        await server.start()
        conns = server.connections
        assert conns is not None and conns.cap == connection_cap(100_000, 1024) < 1024
        hog = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _HOLD_CONNECTIONS, str(sock), "1100",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        try:
            assert hog.stdout is not None and hog.stdin is not None
            assert int(await asyncio.wait_for(hog.stdout.readline(), 60)) == 1100
            async with aiohttp.ClientSession(
                    connector=aiohttp.UnixConnector(path=str(sock))) as s:
                assert await asyncio.wait_for(_get(s, "/v1/health"), 20) == (200, {"ok": True})
                assert (await _get(s, "/v1/status"))[0] == 200
            assert len(conns) <= conns.cap
            assert conns.counts["idle_evicted"] >= 1100 - conns.cap
        finally:
            hog.stdin.close()
            await hog.wait()
    finally:
        await server.stop()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


_CLIENT = """
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(b"GET /v1/status HTTP/1.1\\r\\nHost: basisd\\r\\nConnection: close\\r\\n\\r\\n")
out = b""
while chunk := s.recv(65536):
    out += chunk
sys.stdout.buffer.write(out)
"""


def _python_anyone_can_run() -> str | None:
    """An interpreter another uid can execute (the test's own may live under /root)."""
    for found in (sys.executable, shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")):
        if found:
            exe = Path(os.path.realpath(found))
            if all(os.stat(p).st_mode & 0o001 for p in (exe, *exe.parents)):
                return str(exe)
    return None


async def _as_nobody(sock: Path) -> tuple[int, dict]:
    python = _python_anyone_can_run()
    if python is None:
        pytest.skip("no python interpreter that another uid may execute")
    proc = await asyncio.create_subprocess_exec(
        python, "-I", "-c", _CLIENT, str(sock), user=NOBODY, group=NOBODY, extra_groups=[],
        cwd="/", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    head, _, body = out.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), orjson.loads(body)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another uid")
async def test_the_admin_socket_refuses_a_connection_from_another_uid(short_dir: Path) -> None:
    run = short_dir / "run"
    sock = run / "u.sock"
    async with serving(sock) as server:
        # Only for this test: let the file mode admit anyone, so the peer check is what refuses.
        for d in (short_dir, run):
            os.chmod(d, 0o755)
        os.chmod(sock, 0o666)
        status, body = await _as_nobody(sock)
        assert status == 403 and f"uid {NOBODY}" in body["error"]
        assert server.connections is not None
        assert server.connections.counts["peer_refused"] == 1
        async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(sock))) as s:
            assert (await _get(s, "/v1/status"))[0] == 200       # root still gets in
    # A member of admin.group gets in (nobody's primary group is nogroup).
    async with serving(sock, group="nogroup"):
        assert os.stat(sock).st_gid == NOBODY
        assert (await _as_nobody(sock))[0] == 200


def test_the_unit_raises_the_fd_limit_above_the_cap() -> None:
    from tests.conftest import ROOT

    unit = (ROOT / "systemd" / "basisd.service").read_text()
    limit = int(unit.split("\nLimitNOFILE=", 1)[1].split()[0])
    assert limit > 1024
    assert connection_cap(ConnectionLimits().max_connections, limit) < limit // 2
