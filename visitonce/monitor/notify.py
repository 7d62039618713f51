"""Telling the officials in charge: recipients, the alert document, delivery with retries.

Plain Python on the driver (a few alerts an hour): ``urllib`` posts the JSON document to each
webhook, ``smtplib`` sends the e-mail. A delivery is one (alert, version, recipient); the
watcher keeps their log in the warehouse (``alerts_live_deliveries/``) so that a restarted
watcher neither sends one twice nor forgets one that failed.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import smtplib
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from visitonce.config import Contact, MonitorConfig
from visitonce.report.i18n import VOCABULARY

WEBHOOK = "webhook"
EMAIL = "email"


@dataclass(frozen=True)
class Recipient:
    """Where one alert goes: ``kind`` webhook (a URL) or email (an address)."""

    kind: str
    address: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.address}"


def recipients(
    alert: dict[str, Any], contacts: Iterable[Contact], *, catch_all: str | None = None
) -> list[Recipient]:
    """Every recipient of ``alert``: the matching ``monitor.contacts`` rules, and the
    ``--webhook`` catch-all; each once, in a fixed order."""
    found: dict[str, Recipient] = {}
    for rule in contacts:
        if rule.matches(alert):
            for url in rule.webhooks:
                r = Recipient(WEBHOOK, url)
                found.setdefault(r.key, r)
            for address in rule.emails:
                r = Recipient(EMAIL, address)
                found.setdefault(r.key, r)
    if catch_all:
        r = Recipient(WEBHOOK, catch_all)
        found.setdefault(r.key, r)
    return list(found.values())


def _minutes(value: Any) -> str:
    return (
        "?" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.0f}"
    )


def sentence(alert: dict[str, Any]) -> str:
    """The short human sentence that goes first: where, what, how far from usual, when."""
    where = alert.get("center") or f"remote {alert.get('channel')}"
    metric = alert["metric"]
    label = str(VOCABULARY.get(metric, metric)).replace(" (min)", "")
    value, expected = alert.get("value"), alert.get("expected")
    if metric in ("waiting_p50_min", "waiting_p90_min", "processing_p50_min"):
        what = f"{label} {_minutes(value)} min (usually {_minutes(expected)})"
    elif metric == "satisfaction_mean":
        what = f"{label} {value:.1f} (usually {expected:.1f})"
    else:
        what = f"{label} {_minutes(value)} (usually {_minutes(expected)})"
    dept = f", {alert['department']}" if alert.get("department") else ""
    update = f" (update {alert['version']})" if alert.get("version") else ""
    return (
        f"{where} {alert.get('channel') or ''}{dept}: {what} at {alert['window_local']}"
        f"{update}. {len(alert.get('proposals') or [])} proposed remedies."
    ).replace("  ", " ")


def document(alert: dict[str, Any]) -> dict[str, Any]:
    """The JSON document of one alert: the sentence first, then the figures and proposals."""
    keys = (
        "alert_id", "version", "center", "channel", "department", "window_start", "window_end",
        "window_minutes", "window_local", "metric", "value", "expected", "score", "threshold",
        "direction",
        "first_seen", "peak_at", "n_windows", "metrics", "departments", "channels",
        "proposals", "proposal_messages",
    )  # fmt: skip
    doc: dict[str, Any] = {"text": sentence(alert)}
    for k in keys:
        v = alert.get(k)
        if isinstance(v, dt.datetime):
            v = v.replace(tzinfo=dt.timezone.utc).isoformat().replace("+00:00", "Z")
        elif isinstance(v, float) and math.isnan(v):
            v = None
        elif hasattr(v, "tolist"):
            v = v.tolist()
        doc[k] = v
    return doc


class DeliveryError(Exception):
    """One attempt to deliver failed; the message says why (kept in the log)."""


def _post(url: str, body: bytes, *, alert_id: str, timeout: float) -> None:
    req = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            # a receiver can drop a repeat (the id is stable across restarts)
            "Idempotency-Key": alert_id,
            "User-Agent": "visitonce-watch",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - configured URL
            if not 200 <= resp.status < 300:
                raise DeliveryError(f"HTTP {resp.status}")
    except urllib.error.HTTPError as e:
        raise DeliveryError(f"HTTP {e.code}") from e
    except (urllib.error.URLError, OSError) as e:
        raise DeliveryError(str(getattr(e, "reason", e))[:200]) from e


def _mail(address: str, doc: dict[str, Any], *, config: MonitorConfig) -> None:
    if not config.smtp_host:
        raise DeliveryError("no monitor.smtp_host configured for e-mail recipients")
    msg = EmailMessage()
    msg["Subject"] = f"[visitonce] {doc['text']}"[:200]
    msg["From"] = config.smtp_sender
    msg["To"] = address
    msg["Message-ID"] = f"<{doc['alert_id']}.{doc.get('version') or 0}@visitonce>"
    lines = [doc["text"], "", *[f"- {p}" for p in doc.get("proposals") or []], ""]
    msg.set_content("\n".join(lines) + json.dumps(doc, ensure_ascii=False, indent=2))
    try:
        with smtplib.SMTP(
            config.smtp_host, config.smtp_port, timeout=config.delivery_timeout_seconds
        ) as smtp:
            smtp.send_message(msg)
    except (smtplib.SMTPException, OSError) as e:
        raise DeliveryError(f"SMTP: {e}"[:200]) from e


def deliver(
    recipient: Recipient, doc: dict[str, Any], *, config: MonitorConfig, sleep: Any = time.sleep
) -> tuple[bool, int, str | None]:
    """Try ``config.delivery_attempts`` times with exponential backoff; (ok, attempts, last
    error). Never raises: a recipient that is down must not stop the stream."""
    body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    error = None
    for attempt in range(1, config.delivery_attempts + 1):
        try:
            if recipient.kind == WEBHOOK:
                _post(
                    recipient.address,
                    body,
                    alert_id=f"{doc['alert_id']}.{doc.get('version') or 0}",
                    timeout=config.delivery_timeout_seconds,
                )
            else:
                _mail(recipient.address, doc, config=config)
            return True, attempt, None
        except DeliveryError as e:
            error = str(e)
            if attempt < config.delivery_attempts:
                sleep(config.delivery_backoff_seconds * 2 ** (attempt - 1))
    return False, config.delivery_attempts, error
