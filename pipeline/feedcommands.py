"""``newswatch feeds``: the command group of the configured feeds.

``feeds import FILE.opml`` (a dry run unless ``--apply``) and ``feeds export``
are here; the logic is ``pipeline/subscriptions.py``. Bare ``newswatch feeds``
is the feed-health listing of ``pipeline/feedlist.py``.

Exit codes: 0 done (a dry run included); 2 the OPML file or the config is
invalid (nothing written).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Callable

from pipeline import feedlist
from pipeline.errors import OpmlError

EXIT_OK, EXIT_INPUT = 0, 2


def register(command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add the ``feeds`` group to the CLI; ``command`` is cli's own maker (it adds
    ``--config`` and ``-v``)."""
    group = command("feeds", feedlist.cmd_feeds, "list every configured feed with its "
                    "state (ok, failing, moved, gone, probably dead, never polled); import "
                    "or export them as OPML (feeds import --help, feeds export --help)")
    feedlist.add_options(group)
    group.set_defaults(prints_data=True)     # listings, JSON, OPML: the logs go to stderr
    sub = group.add_subparsers(dest="feeds_command", metavar="SUBCOMMAND")
    p = _subcommand(sub, "import", cmd_import, "add the feeds of an OPML file to the config "
                    "file, keeping its comments and order; a dry run that prints what would "
                    "change unless --apply")
    p.add_argument("file", type=Path, help="the OPML file (from another feed reader)")
    p.add_argument("--apply", action="store_true",
                   help="write the config file (atomically; only if it still loads)")
    p = _subcommand(sub, "export", cmd_export, "print the configured feeds as OPML 2.0")
    p.add_argument("--with-secrets", action="store_true",
                   help="keep user:password@ and token-like query values in the URLs "
                   "(default: shown as ***)")


def _subcommand(sub, name: str, handler: Callable, help: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help, description=help)
    # SUPPRESS: given after the subcommand they count; if not, the group's value stays
    p.add_argument("--config", type=Path, default=argparse.SUPPRESS,
                   help="the YAML config file (default: config/watch.yaml)")
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                   help="log debug details")
    p.set_defaults(handler=handler)
    return p


def cmd_import(args, env) -> int:
    from pipeline import subscriptions
    from pipeline.config import load_settings

    settings = load_settings(args.config, env=env)
    shown = str(args.file)
    try:
        data = args.file.read_bytes()
        outlines, problems, seen = subscriptions.read_opml(data, shown)
    except OSError as exc:
        print(f"newswatch: opml: cannot read the file: {exc.strerror} ({shown})",
              file=sys.stderr)
        return EXIT_INPUT
    except OpmlError as exc:
        print(f"newswatch: {exc}", file=sys.stderr)
        return EXIT_INPUT
    plan = subscriptions.plan_import(outlines, problems, seen, settings.feeds)
    print(f"{shown}: {plan.outlines} outlines: {len(plan.added)} feeds to add, "
          f"{len(plan.duplicates)} already configured, {len(plan.problems)} skipped")
    for line in plan.lines():
        print(f"  {line}")
    if not plan.added:
        print("nothing to add; the config file is unchanged")
    elif not args.apply:
        print(f"dry run: nothing written; add --apply to add {len(plan.added)} feeds to "
              f"{args.config}")
    else:
        note = f"imported from {args.file.name} on {date.today().isoformat()}"
        after = subscriptions.apply_import(args.config, plan, note, env)
        print(f"added {len(plan.added)} feeds to {args.config} ({len(after.feeds)} feeds now)")
    return EXIT_OK


def cmd_export(args, env) -> int:
    from pipeline import subscriptions
    from pipeline.config import load_settings

    feeds = load_settings(args.config, env=env).feeds
    text, redacted = subscriptions.export_opml(feeds, with_secrets=args.with_secrets)
    sys.stdout.write(text)
    if redacted:
        print(f"newswatch: {redacted} feed URLs carry secrets, shown as *** "
              "(--with-secrets keeps them)", file=sys.stderr)
    return EXIT_OK
