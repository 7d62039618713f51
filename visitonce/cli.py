"""Command line: ``visitonce generate | run | bundles | watch | demo`` (DESIGN.md §5).

Every failure a user can cause (a wrong argument, a missing file, an unknown mapping, no key)
ends with one line on stderr that says what to do, and a non-zero exit code; set
``VISITONCE_DEBUG=1`` to see the traceback of an unexpected error.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

try:  # typer >= 0.20 vendors its own click; older releases use the click package
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover
    from click import exceptions as click_exceptions

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="visitonce: analytics engine for digitized government service logs.",
)
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

EXIT_USER_ERROR = 2
EXIT_INTERNAL = 1


class UserError(Exception):
    """Raised for problems the user can fix; printed as one line."""


def run_job(name: str, args: Any, run: Any, *, summary: Any = None) -> int:
    """A spark-submit job's main: build the session, ``run(session, args)``, print its result
    (or ``summary(result)``) as one JSON line; a user error is one line on stderr, exit 2."""
    import json

    from pyspark.errors import AnalysisException

    from visitonce.spark import build_session

    try:
        result = run(build_session(app_name=f"visitonce-{name}"), args)
    except _user_errors() as e:
        print(f"{name}: error: {e}", file=sys.stderr)
        return 2
    except AnalysisException as e:
        if e.getCondition() != "PATH_NOT_FOUND":
            raise
        missing = (e.getMessageParameters() or {}).get("path", "a table")
        print(
            f"{name}: error: {missing} does not exist: pass --warehouse the output root of a "
            "visitonce run that wrote the tables this job reads",
            file=sys.stderr,
        )
        return 2
    print(json.dumps(summary(result) if summary else result, default=str))
    return 0


def _user_errors() -> tuple[type[BaseException], ...]:
    from visitonce.config import ConfigError
    from visitonce.io import InputError
    from visitonce.pipeline import ReconciliationError
    from visitonce.pseudonym import MissingKeyError
    from visitonce.spark import ExecutorEnvironmentError

    return (
        UserError,
        ExecutorEnvironmentError,
        ConfigError,
        InputError,
        MissingKeyError,
        ReconciliationError,
        ValueError,
        FileNotFoundError,
        PermissionError,
    )


def _stages_failed() -> type[BaseException]:
    from visitonce.pipeline import StagesFailed

    return StagesFailed


def _generate(
    out_dir: Path, *, events: int, seed: int, days: int, start: str, fmt: str, clean: bool
) -> dict[str, Any]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from visitonce.generate import generate

    try:
        start_date = dt.date.fromisoformat(start)
    except ValueError as e:
        raise UserError(f"--start {start!r} is not an ISO date (e.g. 2026-03-01)") from e
    with Progress(
        TextColumn("generating"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} events"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("generate", total=events)
        truth = generate(
            out_dir,
            n_events=events,
            seed=seed,
            start=start_date,
            days=days,
            fmt=fmt,
            dirty=not clean,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    return truth


@app.command("generate")
def generate_cmd(
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out", help="Folder to write events/, catalog.csv, roster.csv and truth.json into."
        ),
    ],
    events: Annotated[int, typer.Option("--events", help="Number of valid events.")] = 200_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same files).")] = 7,
    days: Annotated[int, typer.Option("--days", help="Days of logs.")] = 31,
    start: Annotated[str, typer.Option("--start", help="First day (ISO date).")] = "2026-03-01",
    fmt: Annotated[str, typer.Option("--format", help="csv, jsonl or parquet.")] = "csv",
    clean: Annotated[bool, typer.Option("--clean", help="No planted dirty rows.")] = False,
) -> None:
    """Generate synthetic service logs of a city, with planted truth in truth.json."""
    truth = _generate(
        out_dir, events=events, seed=seed, days=days, start=start, fmt=fmt, clean=clean
    )
    out.print(
        f"wrote {truth['n_rows_written']:,} rows ({truth['n_events_valid']:,} valid events, "
        f"{truth['n_applications']:,} applications) to {out_dir}/events, with catalog.csv, "
        f"roster.csv and truth.json"
    )


def _run(
    *,
    events: str,
    catalog: str | None,
    roster: str | None,
    out_dir: str,
    config: str | None,
    master: str | None,
    source: str,
    as_of: str | None = None,
    start: str | None = None,
    end: str | None = None,
    stages: str | None = None,
    language: str | None = None,
) -> dict[str, Any]:
    from visitonce.pipeline import make_request, run_pipeline
    from visitonce.spark import build_session
    from visitonce.stages import check_stages

    names = None if stages is None else [x.strip() for x in stages.split(",") if x.strip()]
    check_stages(names)
    req = make_request(
        events=events,
        out=out_dir,
        catalog=catalog,
        roster=roster,
        source=source,
        config_file=config,
        as_of=as_of,
        start=start,
        end=end,
        language=language,
    )
    from visitonce.pipeline import StagesFailed

    with err.status("starting Spark") as status:
        spark = build_session(master=master)
        try:
            manifest = run_pipeline(
                spark,
                req,
                progress=lambda m: status.update(m),
                stages=names,
            )
        except StagesFailed as e:
            # what the other stages computed is written: say where, then fail with one line
            _summary(e.manifest, out_dir)
            raise
    return manifest


def _summary(manifest: dict[str, Any], out_dir: str) -> None:
    out.print(
        f"rows in {manifest['rows_in']:,} = clean {manifest['rows_clean']:,} + quarantined "
        f"{manifest['rows_quarantined']:,} + duplicate {manifest['rows_duplicate']:,}"
    )
    if manifest["rows_out_of_interval"]:
        out.print(
            f"{manifest['rows_out_of_interval']:,} valid rows belong to other data "
            "intervals and were left for their runs"
        )
    landing = manifest.get("landing") or {}
    if landing.get("folders_skipped"):
        out.print(
            f"landing by day: read {landing['folders_read']:,} of "
            f"{landing['folders_read'] + landing['folders_skipped']:,} day folders (the "
            f"interval's, a day before it and {landing['late_arrival_days']} late days after)"
        )
    if manifest["quarantine_reasons"]:
        reasons = ", ".join(f"{k} {v:,}" for k, v in manifest["quarantine_reasons"].items())
        out.print(f"quarantined by reason: {reasons}")
    derived = manifest.get("reference", {}).get("catalog", {})
    if derived.get("derived"):
        out.print(
            f"catalog derived from the events: {derived['rows_clean']:,} items "
            f"({', '.join(derived['unavailable'])} unavailable)"
        )
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in manifest["stages"].items())
    out.print(f"{manifest['applications']:,} applications; stages: {stages}")
    out.print(f"outputs: {out_dir}  (manifest: {out_dir.rstrip('/')}/manifest.json)")


@app.command("run")
def run_cmd(
    events: Annotated[str, typer.Option("--events", help="Events file, folder or glob (URI).")],
    out_dir: Annotated[str, typer.Option("--out", help="Output root (URI).")],
    catalog: Annotated[
        str | None,
        typer.Option(
            "--catalog",
            help="Catalog file (URI). Without it, items and departments are derived from the "
            "events; complexity and time limits are then unavailable.",
        ),
    ] = None,
    roster: Annotated[str | None, typer.Option("--roster", help="Roster file (URI).")] = None,
    config: Annotated[str | None, typer.Option("--config", help="Config YAML file.")] = None,
    master: Annotated[
        str | None, typer.Option("--master", help="Spark master URL (default local[*]).")
    ] = None,
    source: Annotated[
        str,
        typer.Option("--source", help="Source mapping: a built-in name or a mapping YAML path."),
    ] = "canonical",
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="When the data were observed (ISO); later timestamps are quarantined and "
            "open cases judged against it. Default: now.",
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            help="Data interval start (ISO): only events started in [start, end) are this run's.",
        ),
    ] = None,
    end: Annotated[str | None, typer.Option("--end", help="Data interval end (ISO).")] = None,
    stages: Annotated[
        str | None,
        typer.Option(
            "--stages",
            help="Analytic stages after ingest, comma-separated (default: all; applications "
            "always runs).",
        ),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(
            "--lang",
            help="Language of the HTML reports: en or zh-CN (default: the config's "
            "reports.language, else en). Messages here stay English.",
        ),
    ] = None,
) -> None:
    """Run the pipeline: ingest, then the analytic stages."""
    manifest = _run(
        events=events,
        catalog=catalog,
        roster=roster,
        out_dir=out_dir,
        config=config,
        master=master,
        source=source,
        as_of=as_of,
        start=start,
        end=end,
        stages=stages,
        language=language,
    )
    _summary(manifest, out_dir)


@app.command("bundles")
def bundles_cmd(
    warehouse: Annotated[
        str, typer.Option("--warehouse", help="Warehouse root with applications/ (URI).")
    ],
    out_dir: Annotated[
        str | None, typer.Option("--out", help="Where to write (default: the warehouse).")
    ] = None,
    config: Annotated[str | None, typer.Option("--config", help="Config YAML file.")] = None,
    min_count: Annotated[
        int | None, typer.Option("--min-count", help="Minimum baskets per bundle.")
    ] = None,
    window_days: Annotated[
        int | None, typer.Option("--window-days", help="Citizen basket window (days).")
    ] = None,
    segment: Annotated[
        list[str] | None, typer.Option("--segment", help="Segment column (repeatable).")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--start", help="First local date mined (inclusive).")
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            "--end", help="End of the period (exclusive; alone: bundles.lookback_days before it)."
        ),
    ] = None,
    master: Annotated[str | None, typer.Option("--master", help="Spark master URL.")] = None,
) -> None:
    """Re-mine "one service" bundles of an existing warehouse with other parameters."""
    from visitonce.bundles.stage import bundles_config, run_bundles
    from visitonce.config import load_config
    from visitonce.context import parse_local_date
    from visitonce.spark import build_session

    bundles = bundles_config(config, min_count=min_count, window_days=window_days, segments=segment)
    loaded = load_config(config)
    tz = loaded.ingest.time_zone
    first = parse_local_date(start, flag="--start", time_zone=tz)
    stop = parse_local_date(end, flag="--end", time_zone=tz)
    with err.status("starting Spark") as status:
        spark = build_session(master=master)
        result = run_bundles(
            spark, warehouse=warehouse, out=out_dir, config=bundles, say=status.update,
            start=first, end=stop, target_file_mb=loaded.output.target_file_mb,
        )  # fmt: skip
    scopes = ", ".join(f"{k} {v}" for k, v in sorted(result.get("by_scope", {}).items()))
    out.print(
        f"{result['bundles']:,} bundles ({scopes or 'none'}); changes: {result.get('changes')}"
    )
    out.print(f"outputs: {(out_dir or warehouse).rstrip('/')}/bundles")


@app.command("watch")
def watch_cmd(
    events: Annotated[str, typer.Option("--events", help="Folder where event files land (URI).")],
    warehouse: Annotated[
        str, typer.Option("--warehouse", help="Warehouse of a run with monitor_slots/ (URI).")
    ],
    source: Annotated[
        str,
        typer.Option("--source", help="Source mapping: a built-in name or a mapping YAML path."),
    ] = "canonical",
    config: Annotated[str | None, typer.Option("--config", help="Config YAML file.")] = None,
    webhook: Annotated[
        str | None, typer.Option("--webhook", help="Catch-all recipient: a URL for JSON POSTs.")
    ] = None,
    trigger_seconds: Annotated[
        float, typer.Option("--trigger-seconds", help="Seconds between looks at --events.")
    ] = 30.0,
    checkpoint: Annotated[
        str | None,
        typer.Option("--checkpoint", help="Checkpoint (default <warehouse>/watch_checkpoint)."),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Process what has landed, deliver, and exit.")
    ] = False,
    master: Annotated[str | None, typer.Option("--master", help="Spark master URL.")] = None,
) -> None:
    """Watch files as they land: live windows, alerts within minutes, recipients told."""
    from visitonce.monitor.live import make_watch_request, start
    from visitonce.spark import build_session

    req = make_watch_request(
        events=events, warehouse=warehouse, source=source, config_file=config, webhook=webhook,
        trigger_seconds=trigger_seconds, checkpoint=checkpoint, once=once,
    )  # fmt: skip
    spark = build_session(master=master, app_name="visitonce-watch")
    watcher = start(spark, req, say=lambda m: err.print(f"watch: {m}"))
    sent = sum(r.sent for r in watcher.results)
    raised = sum(r.alerts_new for r in watcher.results)
    out.print(
        f"{len(watcher.results)} batch(es), {raised} new alert(s), {sent} notification(s) sent; "
        f"alerts: {req.warehouse.rstrip('/')}/alerts_live"
    )


@app.command("demo")
def demo_cmd(
    out_dir: Annotated[Path, typer.Option("--out", help="Demo folder.")] = Path("demo-out"),
    events: Annotated[int, typer.Option("--events", help="Events to generate.")] = 100_000,
    master: Annotated[str | None, typer.Option("--master", help="Spark master URL.")] = None,
    language: Annotated[
        str | None,
        typer.Option(
            "--lang",
            help="Language of the HTML reports: en or zh-CN (default: en). Messages here "
            "stay English.",
        ),
    ] = None,
) -> None:
    """Generate a synthetic city and run the whole pipeline on it."""
    from visitonce.context import check_language
    from visitonce.pseudonym import KEY_ENV

    check_language(language)  # before generating anything

    landing, warehouse = out_dir / "landing", out_dir / "warehouse"
    truth = _generate(
        landing, events=events, seed=7, days=31, start="2026-03-01", fmt="csv", clean=False
    )
    out.print(f"generated {truth['n_rows_written']:,} rows into {landing.resolve()}")
    if not os.environ.get(KEY_ENV):
        os.environ[KEY_ENV] = secrets.token_hex(32)
        err.print(
            f"demo: using a throwaway pseudonymization key (set {KEY_ENV} to keep "
            "pseudonyms stable across runs)"
        )
    manifest = _run(
        events=str(landing / "events"),
        catalog=str(landing / "catalog.csv"),
        roster=str(landing / "roster.csv"),
        out_dir=str(warehouse.resolve()),
        config=None,
        master=master,
        source="canonical",
        as_of=truth["period_end"],
        language=language,
    )
    _summary(manifest, str(warehouse.resolve()))
    out.print(f"planted truth: {landing.resolve() / 'truth.json'}")
    reports = warehouse.resolve() / "reports" / "index.html"
    if reports.exists():  # last line: where to point the browser
        out.print(f"report: {reports}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning every error into one line and an exit code."""
    try:
        app(args=argv, prog_name="visitonce", standalone_mode=False)
        return 0
    except typer.Exit as e:
        return int(e.exit_code or 0)
    except typer.Abort:
        err.print("visitonce: aborted")
        return 130
    except click_exceptions.NoArgsIsHelpError as e:
        out.print(e.format_message())
        return 0
    except click_exceptions.UsageError as e:
        path = e.ctx.command_path if e.ctx else "visitonce"
        err.print(f"visitonce: error: {e.format_message()} (see: {path} --help)")
        return EXIT_USER_ERROR
    except _user_errors() as e:
        if os.environ.get("VISITONCE_DEBUG"):
            raise
        err.print(f"visitonce: error: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
        return EXIT_USER_ERROR
    except _stages_failed() as e:
        err.print(f"visitonce: {e}")
        return EXIT_INTERNAL
    except Exception as e:  # noqa: BLE001 - the last line of defence: one line, not a trace
        if os.environ.get("VISITONCE_DEBUG"):
            raise
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        err.print(
            f"visitonce: unexpected error ({type(e).__name__}): {first} "
            "(rerun with VISITONCE_DEBUG=1 for the traceback)"
        )
        return EXIT_INTERNAL


def _entry() -> None:  # pragma: no cover - console script wrapper
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    _entry()
