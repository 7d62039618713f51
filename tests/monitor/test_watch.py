"""``visitonce watch`` (issue 20) with real parts: a generated city's history in a warehouse
(the batch monitor stage's slot baselines), the spike day's events landing as hourly files, a
loopback HTTP receiver and an SMTP receiver (aiosmtpd) on 127.0.0.1.

The watcher runs in this process with ``once`` (each call processes what has landed, as a
cron or sensor set-up would), on the session's Spark; a crash is injected into a micro-batch
to check the restart on the same checkpoint."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from visitonce import io
from visitonce.config import ConfigError, MonitorConfig, load_config
from visitonce.monitor import live as L
from visitonce.monitor import notify as N

TZ = "Asia/Shanghai"
N_EVENTS = 60_000
DAYS = 28


class Receiver:
    """A loopback webhook: records each POST (time, headers, JSON); ``down`` answers 503."""

    def __init__(self, port: int = 0) -> None:
        self.got: list[dict[str, Any]] = []
        self.down = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                outer.got.append(
                    {"at": time.time(), "key": self.headers["Idempotency-Key"],
                     "doc": json.loads(body)}
                )  # fmt: skip
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_a: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def smtp() -> Iterator[list[Any]]:
    """An SMTP receiver on 127.0.0.1 (aiosmtpd); yields (port, messages)."""
    from aiosmtpd.controller import Controller

    mails: list[Any] = []

    class Handler:
        async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
            mails.append(envelope)
            return "250 OK"

    port = _free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield [port, mails]
    controller.stop()


def _split_hourly(events: pd.DataFrame, day: str, out: Path) -> list[Path]:
    """The events arriving on ``day`` (local), as the files a live export would land: each row
    in the file of the hour its step became known (ended, else started)."""

    def local(col: pd.Series) -> pd.Series:
        return pd.to_datetime(col, utc=True, format="ISO8601").dt.tz_convert(TZ)

    arrived = local(events["arrived_at"].fillna(events["started_at"]))
    known = local(events["ended_at"].fillna(events["started_at"]))
    on_day = arrived.dt.strftime("%Y-%m-%d") == day
    hour = known[on_day].dt.strftime("%Y%m%d-%H")
    out.mkdir(parents=True)
    files = []
    for h in sorted(hour.unique()):
        path = out / f"events-{h}.csv"
        events[on_day][hour == h].to_csv(path, index=False)
        files.append(path)
    return files


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory, spark: Any) -> dict[str, Any]:
    """A generated month: the warehouse of every day but the spike day (batch ingest and the
    monitor stage, which stores the slot baselines), and the spike day as hourly files."""
    import os

    from tests.conftest import TEST_KEY
    from visitonce.generate import generate
    from visitonce.pipeline import make_request, run_pipeline

    os.environ["VISITONCE_PSEUDONYM_KEY"] = TEST_KEY
    root = tmp_path_factory.mktemp("watch")
    truth = generate(root / "city", n_events=N_EVENTS, days=DAYS, fmt="csv", dirty=False)
    spike = truth["queue_spike"]
    events = pd.concat(
        [pd.read_csv(f, dtype=str) for f in sorted((root / "city" / "events").glob("*.csv"))]
    )
    arrived = pd.to_datetime(
        events["arrived_at"].fillna(events["started_at"]), utc=True, format="ISO8601"
    ).dt.tz_convert(TZ)
    (root / "history").mkdir()
    events[arrived.dt.strftime("%Y-%m-%d") != spike["date"]].to_csv(
        root / "history" / "events.csv", index=False
    )
    hourly = _split_hourly(events, spike["date"], root / "hourly")
    wh = root / "wh"
    req = make_request(
        events=str(root / "history"), out=str(wh), catalog=str(root / "city" / "catalog.csv"),
        roster=str(root / "city" / "roster.csv"), as_of="2026-12-01",
    )  # fmt: skip
    manifest = run_pipeline(spark, req, stages=["monitor"])
    assert not manifest.get("failed"), manifest.get("failed")
    return {"root": root, "wh": wh, "truth": truth, "spike": spike, "hourly": hourly,
            "history": root / "history" / "events.csv"}  # fmt: skip


def _day_files(city: dict) -> tuple[list[Path], list[Path]]:
    """The spike day's files: (the morning before the spike, landed in one go; the spike's
    first hour and the next three, landed one by one)."""
    spike = city["spike"]
    first = min(spike["hours"])
    day = spike["date"].replace("-", "")
    today = [f for f in city["hourly"] if f.stem.split("-")[1] == day]
    before = [f for f in today if int(f.stem[-2:]) < first]
    return before, [f for f in today if int(f.stem[-2:]) >= first][:4]


def _land(files: list[Path], landing: Path) -> None:
    """Land files as an exporter should: written beside, then moved in (atomic)."""
    landing.mkdir(exist_ok=True)
    for f in files:
        tmp = landing.parent / f".{f.name}.part"
        shutil.copy(f, tmp)
        tmp.rename(landing / f.name)


def _config(path: Path, text: str) -> str:
    path.write_text(text, "utf-8")
    return str(path)


def test_batch_stage_stores_slot_baselines_matching_a_hand_count(city: dict, spark: Any) -> None:
    """monitor_slots: the 60-minute arrivals baseline of the spike centre's busiest counter
    series at 10:00 on weekdays is the median of that hour's arrivals over the history's
    weekdays, counted here with pandas from the history file (days without one count 0)."""
    slots = spark.read.parquet(str(city["wh"] / "monitor_slots")).toPandas()
    assert set(slots["window_minutes"]) == set(MonitorConfig().live_window_minutes)
    ev = pd.read_csv(city["history"], dtype=str)
    at = pd.to_datetime(
        ev["arrived_at"].fillna(ev["started_at"]), utc=True, format="ISO8601"
    ).dt.tz_convert(TZ)
    desk = ev["physical_visit"].eq("true") & ev["center"].eq(city["spike"]["center"])
    desk &= ev["channel"].eq("counter")
    d = ev[desk].assign(date=at[desk].dt.date, hour=at[desk].dt.hour)
    dept = d["department"].value_counts().index[0]
    weekdays = sorted({x for x in pd.to_datetime(at.dt.date.unique()) if x.weekday() < 5})
    per_day = d[(d["department"] == dept) & (d["hour"] == 10)].groupby("date").size()
    counts = [per_day.get(x.date(), 0) for x in weekdays]
    row = slots[
        (slots["window_minutes"] == 60) & (slots["center"] == city["spike"]["center"])
        & (slots["channel"] == "counter") & (slots["department"] == dept)
        & (slots["metric"] == "arrivals") & (slots["daytype"] == 0) & (slots["slot"] == 600)
    ]  # fmt: skip
    assert len(row) == 1
    assert row["expected"].iloc[0] == pytest.approx(float(np.median(counts)))
    assert row["n_history"].iloc[0] == len(weekdays)
    # every unit's threshold is the calibrated one, never under the floor
    assert (slots["threshold"].dropna() >= MonitorConfig().z_threshold).all()


def test_spike_reaches_the_official_before_two_more_hourly_files(
    city: dict, spark: Any, smtp: list, tmp_path: Path
) -> None:
    """The planted queue spike (3.5x counter arrivals at one centre from 14:00) reaches the
    webhook and the centre's e-mail contact before two more hourly files have landed after
    the spike's first hour; the rest of the day raises few alerts elsewhere."""
    port, mails = smtp
    receiver = Receiver()
    spike = city["spike"]
    config = _config(
        tmp_path / "c.yaml",
        f"monitor:\n  smtp_host: 127.0.0.1\n  smtp_port: {port}\n  contacts:\n"
        f"    - {{center: {spike['center']}, emails: [director@{spike['center'].lower()}.gov]}}\n",
    )
    wh = tmp_path / "wh"
    shutil.copytree(city["wh"], wh)
    landing = tmp_path / "landing"
    req = L.make_watch_request(
        events=str(_mkdir(landing)), warehouse=str(wh), config_file=config,
        webhook=receiver.url, once=True,
    )  # fmt: skip
    before, after = _day_files(city)
    _land(before, landing)  # the morning, in one go
    L.start(spark, req)
    landed_at_alert = None
    for i, f in enumerate(after):
        _land([f], landing)
        L.start(spark, req)
        hit = [g for g in receiver.got if g["doc"]["center"] == spike["center"]]
        if hit and landed_at_alert is None:
            landed_at_alert = i
    receiver.close()
    assert landed_at_alert is not None, "the spike was never notified"
    # file 0 is the spike's first hour: its alert must come with it, or one or two files later
    assert landed_at_alert <= 2, f"notified only after {landed_at_alert} more hourly files"
    doc = next(g for g in receiver.got if g["doc"]["center"] == spike["center"])
    assert list(doc["doc"])[0] == "text" and spike["center"] in doc["doc"]["text"]
    assert doc["doc"]["proposals"], "an alert comes with proposed remedies"
    assert doc["key"] == f"{doc['doc']['alert_id']}.{doc['doc']['version']}"
    # the centre's contact got the e-mail too, and only for its own centre
    assert mails and all(m.rcpt_tos == [f"director@{spike['center'].lower()}.gov"] for m in mails)
    # the log says sent for every delivery, and alerts_live holds the incident
    log = spark.read.parquet(str(wh / "alerts_live_deliveries")).toPandas()
    assert (log["status"] == "sent").all() and len(log) == len(receiver.got) + len(mails)
    alerts = spark.read.parquet(str(wh / "alerts_live")).toPandas()
    assert doc["doc"]["alert_id"] in set(alerts["alert_id"])
    city["sent_keys"] = {g["key"] for g in receiver.got}
    # the watcher keeps the state of its last two micro-batches only
    state = {p.name for p in (wh / "watch_checkpoint" / "recent").iterdir()}
    assert len(state) == 2 and all(n.startswith("batch=") for n in state), state
    # a restart with nothing new sends nothing again
    sent = len(receiver.got)
    L.start(spark, req)
    assert len(receiver.got) == sent
    elsewhere = {g["doc"]["alert_id"] for g in receiver.got} - set(
        alerts[alerts["center"] == spike["center"]]["alert_id"]
    )
    print(f"false alarms on the spike day's afternoon: {len(elsewhere)}")
    assert len(elsewhere) <= 1


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def test_a_crash_mid_batch_then_a_restart_misses_nothing_and_sends_nothing_twice(
    city: dict, spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Crash 1: after the batch logged its deliveries, before sending them. Crash 2: after
    sending, before the stream committed the batch (it is replayed on restart). Every alert
    an uninterrupted watcher sends arrives exactly once."""
    before, after = _day_files(city)

    def run(name: str, crashes: list[str]) -> list[dict]:
        receiver = Receiver()
        wh = tmp_path / name / "wh"
        shutil.copytree(city["wh"], wh)
        landing = _mkdir(tmp_path / name / "landing")
        req = L.make_watch_request(
            events=str(landing), warehouse=str(wh), webhook=receiver.url, once=True
        )
        real = L.Watcher._deliver_pending

        def flaky(self: L.Watcher, out: L.BatchResult) -> None:
            log = self._read(L.DELIVERIES_TABLE)
            pending = not log.empty and (log["status"] == L.FAILED).any()
            what = crashes.pop(0) if pending and crashes else None
            if what == "before_send":
                raise RuntimeError("killed before sending")
            real(self, out)
            if what == "after_send":
                raise RuntimeError("killed after sending")

        monkeypatch.setattr(L.Watcher, "_deliver_pending", flaky)
        for batch in [before, *[[f] for f in after]]:
            _land(batch, landing)
            for _attempt in range(3):  # an injected crash ends the query: restart on the
                try:  # same checkpoint
                    L.start(spark, req)
                    break
                except Exception:  # noqa: BLE001, S112
                    continue
        monkeypatch.setattr(L.Watcher, "_deliver_pending", real)
        receiver.close()
        return receiver.got

    # the uninterrupted run: the spike test's (same files, same batches), else run here
    clean = city.get("sent_keys") or {g["key"] for g in run("clean", [])}
    assert clean, "the uninterrupted watcher sent nothing: nothing to compare"
    # the first round with deliveries to make crashes before sending, the next one after
    crashes = ["before_send", "after_send"]
    crashed = run("crashed", crashes)
    assert not crashes, "a crash was not injected: fewer than two rounds had deliveries"
    keys = [g["key"] for g in crashed]
    assert len(keys) == len(set(keys)), "an alert was sent twice"
    assert set(keys) == clean, "an alert was missed or invented"


def test_a_recipient_that_is_down_never_stops_the_stream(
    city: dict, spark: Any, tmp_path: Path
) -> None:
    """A webhook that answers 503 gets its delivery logged as failed (attempts with backoff),
    the next files are still processed, and the delivery succeeds on a later round once the
    receiver is back."""
    receiver = Receiver()
    receiver.down = True
    config = _config(
        tmp_path / "c.yaml", "monitor:\n  delivery_attempts: 2\n  delivery_backoff_seconds: 0.01\n"
    )
    wh = tmp_path / "wh"
    shutil.copytree(city["wh"], wh)
    landing = _mkdir(tmp_path / "landing")
    req = L.make_watch_request(
        events=str(landing), warehouse=str(wh), config_file=config, webhook=receiver.url,
        once=True,
    )  # fmt: skip
    before, after = _day_files(city)
    upto, rest = before + after[:-1], after[-1:]
    _land(upto, landing)
    w = L.start(spark, req)
    assert sum(r.failed for r in w.results) >= 1 and not receiver.got
    log = spark.read.parquet(str(wh / "alerts_live_deliveries")).toPandas()
    assert (log["status"] == "failed").all() and (log["attempts"] >= 2).all()
    assert log["last_error"].str.contains("503").all()
    receiver.down = False
    _land(rest, landing)
    w = L.start(spark, req)
    assert w.results and w.results[-1].files == len(rest)  # the stream went on
    receiver.close()
    log = spark.read.parquet(str(wh / "alerts_live_deliveries")).toPandas()
    assert (log["status"] == "sent").all()
    assert sorted(g["key"] for g in receiver.got) == sorted(
        f"{a}.{v}" for a, v in zip(log["alert_id"], log["version"], strict=True)
    )


# --- no Spark ---------------------------------------------------------------------------------


def test_recipients_match_centre_channel_department_and_the_catch_all(tmp_path: Path) -> None:
    config = load_config(
        _config(
            tmp_path / "c.yaml",
            "monitor:\n  contacts:\n"
            "    - {center: C02, webhooks: ['http://a/1'], emails: [c02@gov]}\n"
            "    - {channel: online, webhooks: ['http://a/2']}\n"
            "    - {department: tax, center: C01, emails: [tax-c01@gov]}\n"
            "    - {emails: [duty@gov]}\n",
        )
    ).monitor
    alert = {"center": "C02", "channel": "counter", "department": "civil", "departments": ["tax"]}
    got = [r.key for r in N.recipients(alert, config.contacts, catch_all="http://all")]
    assert got == ["webhook:http://a/1", "email:c02@gov", "email:duty@gov", "webhook:http://all"]
    alert = {"center": "C01", "channel": "counter", "department": "civil", "departments": ["tax"]}
    got = [r.key for r in N.recipients(alert, config.contacts)]
    assert got == ["email:tax-c01@gov", "email:duty@gov"]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("monitor:\n  contacts: {center: C01}\n", "must be a list"),
        ("monitor:\n  contacts:\n    - {center: C01}\n", "no webhooks and no emails"),
        ("monitor:\n  contacts:\n    - {centre: C01, emails: [a@b]}\n", "keys among"),
        ("monitor:\n  live_window_minutes: [0]\n", "live_window_minutes"),
    ],
)
def test_wrong_contacts_are_one_line_errors(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_config(_config(tmp_path / "c.yaml", text))


def test_delivery_retries_with_backoff_then_succeeds() -> None:
    """Two 503s then a 200: three attempts, backoff 0.5 s then 1 s (exponential)."""
    receiver = Receiver()
    answers = [True, True, False]

    def flip() -> None:
        receiver.down = answers.pop(0) if answers else False

    flip()
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        flip()

    ok, attempts, error = N.deliver(
        N.Recipient(N.WEBHOOK, receiver.url), {"alert_id": "a1", "version": 0, "text": "t"},
        config=MonitorConfig(), sleep=sleep,
    )  # fmt: skip
    receiver.close()
    assert (ok, attempts, error) == (True, 3, None)
    assert slept == [0.5, 1.0]
    assert [g["key"] for g in receiver.got] == ["a1.0"]
    # a closed port: no exception, the error is reported
    ok, attempts, error = N.deliver(
        N.Recipient(N.WEBHOOK, f"http://127.0.0.1:{_free_port()}/x"), {"alert_id": "a2"},
        config=MonitorConfig(delivery_attempts=2), sleep=lambda _s: None,
    )  # fmt: skip
    assert (ok, attempts) == (False, 2) and error


def test_watch_cli_wrong_arguments_are_one_line(
    tmp_path: Path, key_env: bytes, capsys: pytest.CaptureFixture
) -> None:
    from visitonce.cli import main

    wh = _mkdir(tmp_path / "wh")
    for argv, needle in [
        (["watch", "--events", str(tmp_path / "nope"), "--warehouse", str(wh)], "--events"),
        (["watch", "--events", str(wh), "--warehouse", str(wh), "--webhook", "ftp://x"],
         "--webhook"),
        (["watch", "--events", str(wh), "--warehouse", str(wh), "--trigger-seconds", "0"],
         "--trigger-seconds"),
    ]:  # fmt: skip
        assert main(argv) == 2, argv
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], lines


def test_no_slot_baselines_is_a_one_line_error(spark: Any, tmp_path: Path, key_env: bytes) -> None:
    req = L.make_watch_request(events=str(tmp_path), warehouse=str(tmp_path), once=True)
    with pytest.raises(io.InputError, match="run `visitonce run`"):
        L.Watcher(spark, req)
