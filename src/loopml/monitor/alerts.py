"""Alert rules on monitored figures, recorded in the store and sent through channels.

A rule fires when a figure (``drift_share``, ``latency_p95_ms``, ``recall``...)
crosses its threshold. The :class:`Alerter` records the alert in the store with its
evidence and sends it through every channel: the log, a JSON-lines file, an HTTP
webhook (JSON body). There is no alert storm: while an alert is open, the same rule
stays quiet; when the figure is back within bounds the alert is resolved (and the
resolution sent); and a rule alerts at most once per window.

Examples
--------
>>> from loopml.store import Store
>>> store = Store.in_memory()
>>> alerter = Alerter(store, rules=[AlertRule.parse("latency_p95_ms > 200")], channels=[])
>>> [e.status for e in alerter.evaluate({"latency_p95_ms": 250.0}, name="churn")]
['fired']
>>> [e.status for e in alerter.evaluate({"latency_p95_ms": 260.0}, name="churn")]
['ongoing']
>>> [e.status for e in alerter.evaluate({"latency_p95_ms": 90.0}, name="churn")]
['resolved']
>>> store.close()
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from loopml.exceptions import DataError
from loopml.monitor.quality import OPS

if TYPE_CHECKING:
    from loopml.store import Store
    from loopml.store.records import AlertRecord

__all__ = [
    "AlertEvent",
    "AlertRule",
    "Alerter",
    "Channel",
    "FileChannel",
    "LogChannel",
    "WebhookChannel",
]

logger = logging.getLogger("loopml.alerts")

SEVERITIES = ("info", "warning", "error", "critical")
_LEVELS = {
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
_RULE = re.compile(
    r"^\s*(?:(info|warning|error|critical)\s*:\s*)?"
    r"([A-Za-z_][\w.:\-]*)\s*(>=|<=|==|!=|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class AlertRule:
    """Fire when ``figures[metric] <op> threshold``.

    Parameters
    ----------
    name : str
        The rule's name in the store (alerts are deduplicated by rule name and model).
    metric : str
        Which figure to watch (see ``DriftReport.figures()``, ``QualityReport.figures()``,
        ``OpsReport.figures()``).
    op : {">", ">=", "<", "<=", "==", "!="}
    threshold : float
    severity : {"info", "warning", "error", "critical"}, default "warning"
    window : str, optional
        The window the figure is measured over (pandas frequency such as "1h");
        when ``evaluate`` gets no ``window_start``, the current window is used.
    """

    name: str
    metric: str
    op: str
    threshold: float
    severity: str = "warning"
    window: str | None = None

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise DataError(
                f"Alert rule '{self.name}': op must be one of {' '.join(OPS)}; got {self.op!r}."
            )
        if self.severity not in SEVERITIES:
            raise DataError(
                f"Alert rule '{self.name}': severity must be one of {', '.join(SEVERITIES)}; "
                f"got {self.severity!r}."
            )

    @classmethod
    def parse(
        cls,
        text: str,
        *,
        name: str | None = None,
        severity: str | None = None,
        window: str | None = None,
    ) -> AlertRule:
        """``"latency_p95_ms > 200"`` or ``"critical: error_rate >= 0.05"``."""
        m = _RULE.match(text)
        if m is None:
            raise DataError(
                f"An alert rule must look like 'latency_p95_ms > 200' or "
                f"'critical: drift_share >= 0.5' (metric, one of {' '.join(OPS)}, number); "
                f"got {text!r}."
            )
        sev = severity or (m.group(1) or "warning").lower()
        metric, op, value = m.group(2), m.group(3), float(m.group(4))
        return cls(name or f"{metric} {op} {value:g}", metric, op, value, sev, window)

    def fires(self, value: float) -> bool:
        return OPS[self.op](value, self.threshold)

    def describe(self, value: float) -> str:
        return f"{self.metric} is {value:.4g} ({self.op} {self.threshold:g})"


@dataclass(frozen=True)
class AlertEvent:
    """What one rule did in one evaluation.

    ``status``: ``fired`` (new alert recorded and sent), ``ongoing`` (already open:
    nothing sent), ``suppressed`` (already alerted in this window), ``resolved`` (the
    figure is back within bounds: open alerts resolved, resolution sent), ``ok``, or
    ``no data`` (the figure is missing or not a number).
    """

    rule: AlertRule
    status: str
    value: float | None
    alert: AlertRecord | None = None
    delivered: dict[str, bool] = field(default_factory=dict)


class Channel(Protocol):
    """Somewhere alerts go. ``send`` must not raise; it returns whether it delivered."""

    @property
    def label(self) -> str: ...

    def send(self, payload: Mapping[str, Any]) -> bool: ...


class LogChannel:
    """Alerts as log records of logger ``loopml.alerts`` (level from the severity)."""

    def __init__(self, logger_name: str = "loopml.alerts") -> None:
        self.logger = logging.getLogger(logger_name)

    @property
    def label(self) -> str:
        return "log"

    def send(self, payload: Mapping[str, Any]) -> bool:
        level = (
            logging.INFO
            if payload.get("event") == "resolved"
            else _LEVELS.get(str(payload.get("severity")), logging.WARNING)
        )
        self.logger.log(level, "[%s] %s", payload.get("event"), payload.get("message"))
        return True


class FileChannel:
    """Alerts appended to a file, one JSON object per line."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        return f"file {self.path}"

    def send(self, payload: Mapping[str, Any]) -> bool:
        line = (json.dumps(payload, default=str, sort_keys=True) + "\n").encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock:
                # One write of a whole line to an O_APPEND file: lines never interleave.
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, line)
                finally:
                    os.close(fd)
        except OSError as exc:
            logger.warning("could not write alert to %s: %s", self.path, exc)
            return False
        return True


class WebhookChannel:
    """Alerts POSTed as JSON to an HTTP(S) URL (Slack-style incoming webhooks and the like).

    Failures (unreachable host, timeout, non-2xx status) are logged, never raised;
    ``last_error`` keeps the latest one.
    """

    def __init__(
        self,
        url: str,
        timeout: float = 5.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not url.lower().startswith(("http://", "https://")):
            raise DataError(f"A webhook URL must start with http:// or https://; got {url!r}.")
        if timeout <= 0:
            raise DataError(f"The webhook timeout must be > 0 seconds; got {timeout}.")
        self.url = url
        self.timeout = float(timeout)
        self.headers = dict(headers or {})
        self.last_error: str | None = None

    @property
    def label(self) -> str:
        return f"webhook {self.url}"

    def send(self, payload: Mapping[str, Any]) -> bool:
        from loopml import __version__

        body = json.dumps(payload, default=str).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"loopml/{__version__}",
            **self.headers,
        }
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            status = int(exc.code)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            self.last_error = f"{type(exc).__name__}: {reason}"
            logger.warning("webhook %s failed: %s", self.url, self.last_error)
            return False
        if not 200 <= status < 300:
            self.last_error = f"HTTP {status}"
            logger.warning("webhook %s answered HTTP %d", self.url, status)
            return False
        self.last_error = None
        return True


class Alerter:
    """Evaluate alert rules on figures; record alerts in the store and send them.

    Parameters
    ----------
    store : Store
        Where alerts are recorded (and looked up to avoid repeats).
    rules : list of AlertRule
        The rules :meth:`evaluate` checks.
    channels : list of Channel, optional
        Default: one :class:`LogChannel`.
    """

    def __init__(
        self,
        store: Store,
        rules: Iterable[AlertRule] = (),
        channels: Sequence[Channel] | None = None,
    ) -> None:
        self.store = store
        self.rules = list(rules)
        self.channels: list[Channel] = list(channels) if channels is not None else [LogChannel()]
        names = [r.name for r in self.rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise DataError(f"Alert rule names must be unique; repeated: {', '.join(dupes)}.")

    def evaluate(
        self,
        figures: Mapping[str, float | None],
        *,
        name: str | None = None,
        window_start: datetime | str | None = None,
        evidence: Mapping[str, Any] | None = None,
    ) -> list[AlertEvent]:
        """Check every rule against *figures* (for model *name*, in the window starting
        at *window_start*); returns one :class:`AlertEvent` per rule."""
        return [
            self._evaluate_rule(rule, figures.get(rule.metric), name, window_start, evidence)
            for rule in self.rules
        ]

    def _evaluate_rule(
        self,
        rule: AlertRule,
        raw: float | None,
        name: str | None,
        window_start: datetime | str | None,
        evidence: Mapping[str, Any] | None,
    ) -> AlertEvent:
        value = _number(raw)
        if value is None:
            return AlertEvent(rule, "no data", None)
        window = _window_label(window_start, rule.window)
        open_alerts = self.store.list_alerts(name=name, rule=rule.name, unresolved=True)
        if not rule.fires(value):
            if not open_alerts:
                return AlertEvent(rule, "ok", value)
            resolved = [self.store.resolve_alert(a.id) for a in open_alerts]
            payload = self._payload("resolved", rule, value, name, window, resolved[0])
            payload["message"] = f"Resolved: {rule.name} ({rule.describe(value)})."
            return AlertEvent(rule, "resolved", value, resolved[0], self._send(payload))
        if open_alerts:
            return AlertEvent(rule, "ongoing", value, open_alerts[0])
        recent = self.store.list_alerts(name=name, rule=rule.name, limit=20)
        same_window = [a for a in recent if a.evidence.get("window_start") == window]
        if same_window:
            return AlertEvent(rule, "suppressed", value, same_window[0])
        where = f" for {name}" if name else ""
        message = f"{rule.name}{where}: {rule.describe(value)}."
        record = self.store.record_alert(
            rule.name,
            severity=rule.severity,
            message=message,
            evidence={
                "metric": rule.metric,
                "op": rule.op,
                "threshold": rule.threshold,
                "value": value,
                "window_start": window,
                **dict(evidence or {}),
            },
            name=name,
        )
        payload = self._payload("fired", rule, value, name, window, record)
        return AlertEvent(rule, "fired", value, record, self._send(payload))

    def _payload(
        self,
        event: str,
        rule: AlertRule,
        value: float,
        name: str | None,
        window: str,
        record: AlertRecord,
    ) -> dict[str, Any]:
        return {
            "event": event,
            "alert_id": record.id,
            "rule": rule.name,
            "name": name,
            "metric": rule.metric,
            "op": rule.op,
            "threshold": rule.threshold,
            "value": value,
            "severity": rule.severity,
            "message": record.message,
            "window_start": window,
            "at": (record.resolved_at if event == "resolved" else record.at) or record.at,
            "evidence": record.evidence,
        }

    def _send(self, payload: Mapping[str, Any]) -> dict[str, bool]:
        delivered: dict[str, bool] = {}
        for channel in self.channels:
            try:
                delivered[channel.label] = bool(channel.send(payload))
            except Exception:  # a broken channel must not stop the others
                logger.exception("alert channel %s failed", getattr(channel, "label", channel))
                delivered[getattr(channel, "label", repr(channel))] = False
        return delivered


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return float(value) if isinstance(value, bool) else None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _window_label(window_start: datetime | str | None, window: str | None) -> str:
    if isinstance(window_start, str):
        return window_start
    if window_start is not None:
        ts = window_start if window_start.tzinfo else window_start.replace(tzinfo=UTC)
        return ts.isoformat()
    now = datetime.now(UTC)
    if window:
        import pandas as pd

        try:
            return pd.Timestamp(now).floor(window).isoformat()
        except ValueError:  # calendar windows ("W", "MS") have no fixed length to floor to
            return pd.Timestamp(now).to_period(window).start_time.tz_localize(UTC).isoformat()
    return now.isoformat()
