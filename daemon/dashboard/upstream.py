"""The dashboard's only way to the daemon: HTTP requests to the admin API on its unix socket.

Reads and actions alike reach the handlers basisctl reaches (validation, confirmation rules,
the engine gate, `operator_command` logging), so the dashboard has no second implementation
of anything; it forwards the answer's status and JSON body unchanged.
"""
from __future__ import annotations

from typing import Any

import aiohttp
import orjson


class AdminUnavailable(RuntimeError):
    pass


class AdminClient:
    def __init__(self, socket_path: str, timeout_s: float = 30.0) -> None:
        self.socket_path = socket_path
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.UnixConnector(path=self.socket_path), timeout=self._timeout)
        return self._session

    async def request(self, method: str, path: str, *, query: Any = None,
                      body: bytes | None = None) -> tuple[int, bytes]:
        """`path` under the admin API (`/v1/...`); the answer's status and raw body."""
        headers = {"Content-Type": "application/json"} if body is not None else None
        try:
            async with self._open().request(method, f"http://basisd{path}", params=query,
                                            data=body, headers=headers) as resp:
                return resp.status, await resp.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise AdminUnavailable(f"admin socket {self.socket_path}: {exc or type(exc).__name__}"
                                   ) from None

    async def get_json(self, path: str) -> tuple[int, Any]:
        status, raw = await self.request("GET", path)
        try:
            return status, orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            return status, None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
