from __future__ import annotations

import io

import orjson
import structlog

from daemon.ops.logs import configure_logging, get_logger
from connectors.secrets import Secret


def test_json_lines_with_context_and_secrets_redacted() -> None:
    buf = io.StringIO()
    configure_logging("info", json=True, stream=buf)
    secret = Secret("sup3r-s3cret-value-123")
    structlog.contextvars.bind_contextvars(venue="sim-a", symbol="BTCUSDT", position_id="p1")
    try:
        log = get_logger()
        log.info("signed", api_key="AKIA-not-for-logs", secret=secret,
                 url="https://x/api?signature=abc&k=sup3r-s3cret-value-123",
                 nested={"api_secret": "zzz", "ok": 1})
        log.debug("dropped at info level")
    finally:
        structlog.contextvars.clear_contextvars()
    lines = buf.getvalue().strip().splitlines()
    assert len(lines) == 1
    rec = orjson.loads(lines[0])
    assert rec["event"] == "signed"
    assert rec["venue"] == "sim-a" and rec["symbol"] == "BTCUSDT" and rec["position_id"] == "p1"
    assert rec["api_key"] == "***" and rec["secret"] == "***"
    assert rec["nested"] == {"api_secret": "***", "ok": 1}
    assert "sup3r-s3cret-value-123" not in lines[0]
    assert "AKIA-not-for-logs" not in lines[0]


def test_console_renderer_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    buf = Tty()
    configure_logging("info", stream=buf)
    get_logger().info("hello", venue="sim-b")
    out = buf.getvalue()
    assert "hello" in out and "venue=sim-b" in out
    assert not out.lstrip().startswith("{")


def test_stdlib_logging_goes_through_the_same_redaction_and_renderer() -> None:
    import logging

    buf = io.StringIO()
    configure_logging("info", json=True, stream=buf)
    Secret("another-secret-value-42")
    logging.getLogger("basisd.legging").warning("ALERT pair %s key=%s", "p1", "another-secret-value-42")
    rec = orjson.loads(buf.getvalue().strip().splitlines()[-1])
    assert rec["event"] == "ALERT pair p1 key=***"
    assert rec["level"] == "warning" and rec["logger"] == "basisd.legging"
