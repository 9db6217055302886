"""The ``newswatch`` command: a thin layer that loads the config once, calls the
library, and maps errors to messages and exit codes.

Exit codes: 0 done; 1 a runtime failure (database, digest folder, unhealthy);
2 the config or the command line is invalid; 3 skipped because another cycle
holds the database.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Mapping, Sequence

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_BUSY = 0, 1, 2, 3
log = logging.getLogger("newswatch")


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    parser = build_parser()
    args = parser.parse_args(argv)
    from pipeline.logs import setup_logging

    # logs go to stdout (a container's log), except for commands whose stdout is
    # data for another program (export, feeds): a log line there would corrupt it
    setup_logging(env.get("NEWSWATCH_LOG_FORMAT", "text"),
                  logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
                  stream=sys.stderr if getattr(args, "prints_data", False) else sys.stdout)
    from pipeline.errors import ConfigError, CycleLocked, NewswatchError

    try:
        return args.handler(args, env)
    except ConfigError as exc:
        print(f"newswatch: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except CycleLocked as exc:
        print(f"newswatch: skipped: {exc.reason}", file=sys.stderr)
        return EXIT_BUSY
    except NewswatchError as exc:
        print(f"newswatch: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newswatch", description="Poll news feeds, keep what is new and on topic, "
        "raise keyword alerts and write a daily digest.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Callable, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("--config", type=Path, default=Path("config/watch.yaml"),
                       help="the YAML config file (default: config/watch.yaml)")
        p.add_argument("-v", "--verbose", action="store_true", help="log debug details")
        p.set_defaults(handler=handler)
        return p

    p = command("once", cmd_once, "run one poll cycle and print its summary")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="wait this long for another running cycle instead of skipping")
    command("run", cmd_run, "run the long-lived service (scheduled polls and digests)")
    p = command("digest", cmd_digest, "write the digest of one day (Markdown, HTML, JSON)")
    p.add_argument("--date", type=_parse_date, default=None, metavar="YYYY-MM-DD",
                   help="the digest of that date: items found in the 24 hours up to its "
                   "digest_time (default: the digest still open, which holds the newest items)")
    p.add_argument("--send", action="store_true",
                   help="also send it now to every delivery.digest channel (even those "
                   "that had it)")
    command("export", cmd_export, "print every entry URL seen as JSON lines").set_defaults(
        prints_data=True)
    command("check-config", cmd_check_config, "validate the config file (exit 0 or 2)")
    command("health", cmd_health, "exit 0 when the last cycle finished within 2× the poll "
            "interval")
    command("migrate", cmd_migrate, "bring the database's schema to this version's "
            "(every command also does it when it opens the database)")
    p = command("rematch", cmd_rematch, "judge the items seen (kept and off topic) again "
                "with the current topic, alert and people rules")
    p.add_argument("--since", default="7d", help="how far back (a duration: 30d, 12h; "
                   "off-topic items are kept for history.keep)")
    p = command("test-rules", cmd_test_rules, "show which rules match a text, and why")
    p.add_argument("text", help="the text to test (as title and body)")
    p = command("deliveries", cmd_deliveries, "list the delivery channels and the messages "
                "sent, pending and failing")
    p.add_argument("--status", choices=["sent", "pending", "failed"], default=None)
    p.add_argument("--limit", type=int, default=30, help="messages shown (default 30)")
    p.add_argument("--retry", action="store_true",
                   help="give the messages that ran out of tries a fresh set (sent next cycle)")
    command("notify-test", cmd_notify_test, "send a test message to every configured "
            "delivery channel and report each result")
    p = command("people", cmd_people, "list the watched people, with their reports of the "
                "last 30 days")
    p.add_argument("--days", type=int, default=30, help="how many days back to count")
    p = command("serve", cmd_serve, "serve the read-only reading room (briefings, stories, "
                "search, feed health) over HTTP")
    p.add_argument("--host", default=None, help="address to listen on (default: web.host, "
                   "127.0.0.1); any other than loopback requires web.token")
    p.add_argument("--port", type=int, default=None, help="port (default: web.port, or 8080)")
    from pipeline import feedcommands

    feedcommands.register(command)    # feeds (pipeline/feedlist.py), feeds import, feeds export
    return parser


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _settings(args, env):
    from pipeline.config import load_settings

    return load_settings(args.config, env=env)


def _store(settings):
    import storage

    return storage.open_store(settings.database_url)


def cmd_once(args, env) -> int:
    import storage
    from pipeline.cycle import open_pipeline, run_cycle
    from pipeline.dedupe import check_seeds

    settings = _settings(args, env)
    check_seeds(settings.seeds_dir)
    store = _store(settings)
    with storage.cycle_lock(store, wait=args.wait):
        pipeline = open_pipeline(settings, store)
        try:
            summary = run_cycle(pipeline, progress=_progress_display())
        finally:
            pipeline.close()
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(summary.line())
    return _deliver_after_cycle(settings, store, summary)


def _deliver_after_cycle(settings, store, summary) -> int:
    from pipeline import deliver

    report = deliver.after_cycle(settings, store, summary)
    if settings.delivery.channels:
        print(report.line())
    return EXIT_OK


def _progress_display():
    if not sys.stderr.isatty():
        return None

    def show(s) -> None:
        sys.stderr.write(f"\r  feeds {s.feeds_polled} polled, {s.feeds_failed} failed · "
                         f"{s.articles_fetched} articles · {s.new} new, {s.duplicates} dup, "
                         f"{s.off_topic} off-topic · {s.alerts} alerts   ")
        sys.stderr.flush()
    return show


def cmd_run(args, env) -> int:
    from pipeline.service import run_service

    return run_service(args.config, env=env)


def cmd_digest(args, env) -> int:
    from pipeline import digest

    settings = _settings(args, env)
    store = _store(settings)
    # without --date: the digest the newest items go into (the one still open)
    day = args.date or digest.digest_day_of(datetime.now(timezone.utc), settings.digest_time,
                                            settings.tz)
    for path in digest.write_day(settings, store, day):
        print(path)
    if args.send:
        return _send_digest(settings, store, day)
    return EXIT_OK


def _send_digest(settings, store, day) -> int:
    from pipeline import deliver

    if not settings.delivery.digest:
        print("newswatch: no delivery.digest channel is configured", file=sys.stderr)
        return EXIT_CONFIG
    report = deliver.send_digest(settings, store, day)
    for channel, what in report.sent:
        print(f"sent {what} to {channel}")
    for channel, what, why in report.failed:
        print(f"FAILED {what} to {channel}: {why} (retried after the next cycles)")
    return EXIT_FAILED if report.failed else EXIT_OK


def cmd_export(args, env) -> int:
    from pipeline.maintenance import export_entries

    settings = _settings(args, env)
    export_entries(_store(settings), sys.stdout)
    return EXIT_OK


def cmd_check_config(args, env) -> int:
    settings = _settings(args, env)
    rules = len(settings.alerts) - len(settings.people)
    print(f"{args.config}: ok ({len(settings.feeds)} feeds, {rules} alert rules, "
          f"{len(settings.people)} people watched,"
          f" {_polling(settings)}, digest at "
          f"{settings.digest_time:%H:%M} {settings.timezone})")
    return EXIT_OK


def _polling(settings) -> str:
    net = settings.network
    if not net.poll_adaptive:
        return f"poll every {settings.poll_interval}"
    return (f"poll each feed at its pace, {timedelta(seconds=net.poll_min)} to "
            f"{timedelta(seconds=net.poll_max)}")


def cmd_health(args, env) -> int:
    from pipeline.maintenance import health

    settings = _settings(args, env)
    ok, reason = health(settings, _store(settings))
    print(reason)
    return EXIT_OK if ok else EXIT_FAILED


def cmd_migrate(args, env) -> int:
    import storage

    settings = _settings(args, env)
    store = storage.open_store(settings.database_url, upgrade=False)
    before, after = storage.upgrade_schema(store)
    was = before or "none (a new database, or one from before revisions)"
    print(f"{store.shown_url}: schema {after}" if before == after else
          f"{store.shown_url}: schema upgraded from {was} to {after}")
    return EXIT_OK


def cmd_rematch(args, env) -> int:
    from pipeline.config import parse_duration
    from pipeline.rematch import run_command

    settings = _settings(args, env)
    return run_command(settings, _store(settings), parse_duration(args.since, key="--since"))


def cmd_test_rules(args, env) -> int:
    from pipeline import match

    settings = _settings(args, env)
    fields = {"title": args.text, "summary": "", "text": ""}
    for rule in (settings.topic, *settings.alerts):
        matched, lines = match.explain_match(rule, fields)
        print(f"{'MATCH' if matched else 'no   '} {rule.name}")
        for line in lines:
            print(f"      {line}")
    topic, _ = match.judge(settings.topic, settings.alerts, args.text, "", "")
    if topic is not None and not match.explain_match(settings.topic, fields)[0]:
        print(f"kept: a watched person is named ({topic.hits[0].matched!r})")
    return EXIT_OK


def cmd_people(args, env) -> int:
    from pipeline.maintenance import watchlist_reports

    settings = _settings(args, env)
    rows = watchlist_reports(settings, _store(settings), days=args.days)
    print(f"{len(rows)} people watched; reports found in the last {args.days} days:")
    notes = {p.name: p for p in settings.people}
    width = max((len(name) for name, _, _ in rows), default=6)
    if rows:
        print(f"  {'person':<{width}}  {'reports':>7}  {'latest found':17}  note")
    for name, count, latest in rows:
        when = f"latest {latest:%Y-%m-%d}" if latest else "none yet"
        person = notes[name]
        flag = "" if person.on_topic else " [alert only]"
        print(f"  {name:<{width}}  {count:7}  {when:17}{flag}  {person.note}".rstrip())
    return EXIT_OK


def cmd_deliveries(args, env) -> int:
    from pipeline import deliver

    settings = _settings(args, env)
    store = _store(settings)
    if args.retry:
        print(f"deliveries: {deliver.retry_failed(store)} failed messages will be tried again")
    for line in deliver.listing(settings, store, status=args.status, limit=args.limit):
        print(line)
    return EXIT_OK


def cmd_notify_test(args, env) -> int:
    from pipeline import deliver

    settings = _settings(args, env)
    results = deliver.notify_test(settings)
    if not results:
        print("notify-test: no delivery channel is configured (delivery.digest, "
              "delivery.alerts, or notify on an alert rule)")
        return EXIT_CONFIG
    for channel, roles, error in results:
        print(f"ok     {channel} ({roles})" if error is None
              else f"FAILED {channel} ({roles}): {error}")
    return EXIT_FAILED if any(e is not None for _, _, e in results) else EXIT_OK
def cmd_serve(args, env) -> int:
    from pipeline.web import ReadingRoom, web_config

    settings = _settings(args, env)
    web = web_config(settings, args.host, args.port)
    room = ReadingRoom(lambda: settings, _store(settings), web)
    print(f"newswatch: the reading room is at {room.url}"
          + (" (token required: open it once with ?token=…)" if web.token else ""),
          file=sys.stderr, flush=True)
    room.run()
    return EXIT_OK
