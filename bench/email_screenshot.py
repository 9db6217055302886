"""The digest email of a real day, as a mail client would show it: rendered by
headless Chromium, with every request it makes caught by a trap proxy.

    .venv/bin/python bench/email_screenshot.py [--day 2024-12-09] [--out FILE.png]

The replay's real feed entries (12 feeds, 5-11 December 2024; ../shared/data/replay,
else tests/fixtures/replay) found in the 24 hours before 07:00 London time on
``--day`` go through the pipeline's verdict (``judge_page``: the topic and alert rules
of config/watch.yaml on the entry's title and summary, what the cycle does when a
page is unavailable; no page is fetched, there is no network here), are stored, and
the day's digest is built and sent through Apprise to a local SMTP server
(aiosmtpd). The HTML part of the email that arrives is opened in Chromium and
saved as a PNG (default bench/email-<day>.png). Prints the requests Chromium made on
the email's behalf (none should be: nothing remote loads) and, as a control, a page
with one remote image, which the trap must catch.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

# Chromium's own calls home (updates, time, accounts): caught by the trap too,
# told apart from the page's by host
CHROMIUM_SERVICES = ("google.com", "googleapis.com", "gvt1.com", "gstatic.com",
                     "googleusercontent.com", "chrome.com")
FEED_NAMES = {"feeds.bbci.co.uk": "BBC News", "www.aljazeera.com": "Al Jazeera",
              "japantoday.com": "Japan Today", "rss.nytimes.com": "New York Times",
              "feeds.npr.org": "NPR", "feeds.abcnews.com": "ABC News",
              "feeds.skynews.com": "Sky News", "feeds.nbcnews.com": "NBC News",
              "feeds.elpais.com": "El País English", "feeds.washingtonpost.com":
              "Washington Post", "feeds.a.dj.com": "Wall Street Journal"}


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class _Trap(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def _catch(self) -> None:
        self.server.caught.append(self.path)      # CONNECT host:443 or an absolute URL
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_HEAD = do_CONNECT = _catch


def render(html_file: Path, png: Path, *, width: int = 820, height: int = 2400) -> list[str]:
    """Screenshot ``html_file`` with headless Chromium; returns the requests it
    made for the page (its own calls home left out)."""
    trap = ThreadingHTTPServer(("127.0.0.1", 0), _Trap)
    trap.caught = []
    threading.Thread(target=trap.serve_forever, daemon=True).start()
    try:
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run(
                [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                 # every request, loopback included, goes to the trap, never out
                 f"--proxy-server=http://127.0.0.1:{trap.server_address[1]}",
                 "--proxy-bypass-list=<-loopback>", "--hide-scrollbars",
                 f"--window-size={width},{height}", f"--screenshot={png}",
                 html_file.resolve().as_uri()],
                check=True, capture_output=True, timeout=120)
    finally:
        trap.shutdown()
        trap.server_close()
    return [r for r in trap.caught if not _host(r).endswith(CHROMIUM_SERVICES)]


def _host(request: str) -> str:
    if "://" in request:
        return urlsplit(request).hostname or ""
    return request.rsplit(":", 1)[0]


def replay_day(store, settings, day: date) -> int:
    """Store the replay entries found in the digest window of ``day``, judged
    as the cycle judges an entry without its page; returns how many."""
    import storage
    from pipeline.config import DedupeConfig
    from pipeline.dedupe import canonical_url
    from pipeline.digest import digest_window
    from pipeline.extract import fallback_article
    from pipeline.records import FeedState, ItemOutcome
    from pipeline.verdict import RuleSet, judge_page
    from topic_eval import as_feed_entries, data_dir

    start, end = digest_window(day, settings.digest_time, settings.tz)
    with open(data_dir() / "entries.jsonl", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    rows = [r for r in rows if r.get("published")
            and start <= datetime.fromisoformat(r["published"]) < end]
    entries = as_feed_entries([(r, False, "") for r in rows])
    rules, seen = RuleSet.of(settings.topic, settings.alerts), set()
    by_feed: dict[str, list[ItemOutcome]] = {}
    for row, fe in zip(rows, entries):
        name = FEED_NAMES.get(urlsplit(row["feed_url"]).hostname, row["feed_url"])
        fe = fe.__class__(**{**fe.__dict__, "feed_name": name, "feed_url": row["feed_url"],
                             "published": datetime.fromisoformat(row["published"])})
        canonical = canonical_url(fe.link)
        verdict = judge_page(fallback_article(fe, "replay: no page"), fe.title, fe.summary,
                             rules, DedupeConfig())
        status = "duplicate" if canonical in seen else "new" if verdict.topic else "off_topic"
        seen.add(canonical)
        by_feed.setdefault(fe.feed_url, []).append(ItemOutcome(
            entry=fe, canonical_url=canonical, status=status, fetched_at=fe.published,
            title=verdict.title or fe.title, article=verdict.article,
            alerts=list(verdict.alerts) if status == "new" else []))
    for feed_url, outcomes in by_feed.items():
        storage.save_feed_batch(store, FeedState(url=feed_url), outcomes)
    return len(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", type=date.fromisoformat, default=date(2024, 12, 9))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    out = args.out or ROOT / "bench" / f"email-{args.day}.png"
    if not chromium():
        sys.exit("chromium is not installed (apt-get install -y chromium)")

    import storage
    import yaml
    from pipeline import deliver, digest
    from pipeline.config import load_settings
    from receivers import SMTPReceiver

    smtp = SMTPReceiver()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        doc = yaml.safe_load((ROOT / "config" / "watch.yaml").read_text("utf-8"))
        doc["delivery"] = {"digest": [smtp.url()]}
        (folder / "watch.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
        settings = load_settings(folder / "watch.yaml", env={
            "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite'}",
            "NEWSWATCH_OUTPUT_DIR": str(folder / "output")})
        store = storage.open_store(settings.database_url)
        n = replay_day(store, settings, args.day)
        written_at = digest.digest_window(args.day, settings.digest_time, settings.tz)[1]
        digest.write_day(settings, store, args.day, now=written_at)
        deliver.after_digest(settings, store, args.day, now=written_at + timedelta(minutes=1))
        (mail,) = smtp.wait_for(1)
        page = folder / "email.html"
        html = mail.get_body(("html",)).get_content()
        page.write_text(html, "utf-8")
        caught = render(page, out)
        control = folder / "control.html"
        control.write_text('<p>control</p><img src="http://remote.example/pixel.png">')
        caught_control = render(control, folder / "control.png", height=200)
        store.close()
    smtp.stop()
    print(f"EMAIL  {args.day}: {n} replay entries in the window; subject {mail['Subject']!r}")
    print(f"       HTML part {len(html.encode()) / 1024:.1f} KB (Gmail clips above 102 KB), "
          f"whole message {len(mail.as_bytes()) / 1024:.1f} KB")
    print(f"       parts: {[p.get_content_type() for p in mail.iter_parts()]}; "
          f"screenshot {out} ({out.stat().st_size} bytes)")
    print(f"       requests for the email: {len(caught)} {caught}; for the control page "
          f"(one remote image): {len(caught_control)} {caught_control}")


if __name__ == "__main__":
    main()
