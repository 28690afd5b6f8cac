"""Alert rules, deduplication, and delivery to the log, a file and a local webhook."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from loopml.exceptions import DataError
from loopml.monitor import Alerter, AlertRule, FileChannel, LogChannel, WebhookChannel
from loopml.store import Store

W1 = datetime(2024, 6, 1, tzinfo=UTC)
W2 = datetime(2024, 6, 2, tzinfo=UTC)


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store.in_memory()
    yield s
    s.close()


class Hook:
    """A webhook receiver on 127.0.0.1 in a thread; remembers what it was sent."""

    def __init__(self, status: int = 200) -> None:
        received: list[dict[str, Any]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                received.append({"body": body, "type": self.headers["Content-Type"]})
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:  # keep pytest output quiet
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.server.timeout = 5
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()


def test_rule_parsing() -> None:
    rule = AlertRule.parse("critical: latency_p95_ms > 200")
    assert (rule.metric, rule.op, rule.threshold, rule.severity) == (
        "latency_p95_ms",
        ">",
        200.0,
        "critical",
    )
    assert rule.name == "latency_p95_ms > 200" and rule.fires(201) and not rule.fires(200)
    assert AlertRule.parse("drift_score.age >= .2").threshold == 0.2
    with pytest.raises(DataError, match="must look like 'latency_p95_ms > 200'"):
        AlertRule.parse("latency is high")
    with pytest.raises(DataError, match="severity must be one of"):
        AlertRule("r", "x", ">", 1.0, "loud")
    with pytest.raises(DataError, match="op must be one of"):
        AlertRule("r", "x", "=>", 1.0)


def test_one_alert_per_rule_until_it_clears(store: Store) -> None:
    rule = AlertRule.parse("drift_share >= 0.5", name="drift")
    alerter = Alerter(store, [rule], channels=[])

    def status(value: float, window: datetime) -> str:
        (event,) = alerter.evaluate({"drift_share": value}, name="churn", window_start=window)
        return event.status

    assert status(0.6, W1) == "fired"
    assert status(0.7, W1) == "ongoing"
    assert status(0.8, W2) == "ongoing"  # still open in the next window: no storm
    (open_alert,) = store.list_alerts(name="churn", unresolved=True)
    assert open_alert.evidence["value"] == 0.6 and open_alert.evidence["metric"] == "drift_share"
    assert open_alert.evidence["window_start"] == W1.isoformat()
    assert status(0.1, W2) == "resolved"
    assert store.list_alerts(name="churn", unresolved=True) == []
    assert status(0.9, W2) == "fired"  # the first alert recorded in W2
    assert status(0.1, W2) == "resolved"
    assert status(0.9, W2) == "suppressed"  # flapping: at most one alert per window
    assert status(0.9, datetime(2024, 6, 3, tzinfo=UTC)) == "fired"
    assert len(store.list_alerts(name="churn")) == 3
    assert status(0.1, W1) == "resolved" and status(0.2, W1) == "ok"
    (missing,) = alerter.evaluate({}, name="churn")
    assert missing.status == "no data"
    (nan,) = alerter.evaluate({"drift_share": float("nan")}, name="churn")
    assert nan.status == "no data"


def test_alerts_are_per_model(store: Store) -> None:
    alerter = Alerter(store, [AlertRule.parse("error_rate > 0.1")], channels=[])
    assert alerter.evaluate({"error_rate": 0.5}, name="a", window_start=W1)[0].status == "fired"
    assert alerter.evaluate({"error_rate": 0.5}, name="b", window_start=W1)[0].status == "fired"


def test_webhook_delivery_to_a_local_server(store: Store, hook: Hook) -> None:
    alerter = Alerter(
        store, [AlertRule.parse("error: recall < 0.8")], channels=[WebhookChannel(hook.url, 5)]
    )
    (fired,) = alerter.evaluate(
        {"recall": 0.71}, name="churn", window_start=W1, evidence={"window": "2024-06-01"}
    )
    assert fired.delivered == {f"webhook {hook.url}": True}
    (resolved,) = alerter.evaluate({"recall": 0.85}, name="churn", window_start=W1)
    assert resolved.status == "resolved"
    assert [r["body"]["event"] for r in hook.received] == ["fired", "resolved"]
    body = hook.received[0]["body"]
    assert hook.received[0]["type"] == "application/json"
    assert body["rule"] == "recall < 0.8" and body["value"] == 0.71 and body["name"] == "churn"
    assert body["severity"] == "error" and body["alert_id"] == fired.alert.id  # type: ignore[union-attr]
    assert body["evidence"]["window"] == "2024-06-01"
    assert "recall is 0.71" in body["message"]


def test_webhook_failures_are_logged_not_raised(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = WebhookChannel(f"http://127.0.0.1:{port}/hook", timeout=2)
    failing = Hook(status=500)
    try:
        refused = WebhookChannel(failing.url, timeout=2)
        alerter = Alerter(store, [AlertRule.parse("x > 1")], channels=[dead, refused])
        with caplog.at_level(logging.WARNING, logger="loopml.alerts"):
            (event,) = alerter.evaluate({"x": 2.0}, name="m", window_start=W1)
    finally:
        failing.close()
    assert event.status == "fired" and not any(event.delivered.values())
    assert refused.last_error == "HTTP 500" and dead.last_error is not None
    assert "webhook" in caplog.text
    assert len(store.list_alerts()) == 1  # recorded even though no channel delivered
    with pytest.raises(DataError, match="must start with http"):
        WebhookChannel("file:///etc/passwd")


class Broken:
    label = "broken"

    def send(self, payload: Mapping[str, Any]) -> bool:
        raise RuntimeError("boom")


def test_file_and_log_channels_and_a_broken_channel(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "alerts" / "alerts.jsonl"
    channels = [Broken(), FileChannel(path), LogChannel()]
    alerter = Alerter(store, [AlertRule.parse("critical: p > 1", name="p-high")], channels=channels)
    with caplog.at_level(logging.INFO, logger="loopml.alerts"):
        alerter.evaluate({"p": 5.0}, name="m", window_start=W1)
        alerter.evaluate({"p": 0.0}, name="m", window_start=W1)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [x["event"] for x in lines] == ["fired", "resolved"]
    assert lines[0]["rule"] == "p-high" and lines[0]["severity"] == "critical"
    assert any(
        r.levelno == logging.CRITICAL and "[fired]" in r.getMessage() for r in caplog.records
    )
    assert "alert channel broken failed" in caplog.text


def test_rule_names_must_be_unique(store: Store) -> None:
    with pytest.raises(DataError, match="repeated: x > 1"):
        Alerter(store, [AlertRule.parse("x > 1"), AlertRule.parse("x > 1")])
