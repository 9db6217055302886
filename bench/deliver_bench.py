"""Delivery figures: messages per cycle for a flood of alerts, time from the
end of a cycle to delivery, and the outbox under SIGKILL.

    .venv/bin/python bench/deliver_bench.py [flood] [latency] [sigkill] [--kills 5]

flood    N alerted items found by one cycle, sent to a local webhook receiver:
         messages and seconds with grouping (group_above 3) against one
         message per item (the baseline), for N = 5, 50, 500.
latency  a real poll cycle against a local news web (5 articles that raise
         alerts), then ``deliver.after_cycle`` as the service calls it: the
         seconds from the cycle's end until each message is received, by the
         webhook receiver and by a real SMTP server (aiosmtpd).
sigkill  a process sending 30 alerts (one message each) is SIGKILLed at
         random moments (``--kills`` times, a random 0-30 ms after a
         message reached the receiver) and restarted until nothing is left:
         how many were lost, how many arrived twice, and whether each
         duplicate was the message in flight at a kill.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import storage  # noqa: E402
from pipeline import deliver  # noqa: E402
from pipeline.config import load_settings  # noqa: E402
from pipeline.records import (Article, FeedEntry, FeedState, ItemOutcome, RuleMatch,  # noqa: E402
                              TermHit)
from receivers import SMTPReceiver, WebhookReceiver  # noqa: E402

TOPIC = {"any": ["prison*", "detain*", "tortur*", "Sednaya"]}
ALERTS = [{"name": "Torture", "any": ["tortur*"]}, {"name": "Sednaya", "any": ["Sednaya"]}]


def write_config(folder: Path, delivery: dict, feeds: list[dict] | None = None) -> Path:
    import yaml

    doc = {"feeds": feeds or [{"name": "wire", "url": "http://127.0.0.1:9/feed"}],
           "topic": TOPIC, "alerts": ALERTS, "delivery": delivery, "timezone": "UTC",
           "seeds_dir": str(ROOT / "seeds"), "extract": {"workers": 1},
           "network": {"allow_private_addresses": True, "deadline": 10}}
    path = folder / "watch.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def env_for(folder: Path) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite:///{folder / 'newswatch.db'}",
            "NEWSWATCH_OUTPUT_DIR": str(folder / "output")}


def store_alerts(store: storage.Store, n: int, found: datetime) -> None:
    """``n`` new items that each raised the Torture alert, found at ``found``."""
    outcomes = []
    for i in range(n):
        text = f"Report {i}: former detainees describe torture in the prison's cells."
        start = text.index("torture")
        link = f"https://flood.example/{i}"
        entry = FeedEntry(feed_name="wire", feed_url="http://127.0.0.1:9/feed", link=link,
                          title=f"Torture testimony {i}", published=found)
        outcomes.append(ItemOutcome(
            entry=entry, canonical_url=link, status="new", fetched_at=found,
            title=entry.title, article=Article(url=link, title=entry.title, text=text),
            alerts=[RuleMatch("Torture", (TermHit("tortur*", "text", start, start + 7,
                                                  "torture"),))]))
    storage.save_feed_batch(store, FeedState(url="http://127.0.0.1:9/feed"), outcomes)


# --- flood -------------------------------------------------------------------------

def flood(sizes=(5, 50, 500)) -> None:
    print("FLOOD  alerts found by one cycle -> messages sent to one webhook channel")
    for n in sizes:
        row = []
        for group_above in (3, 10 ** 6):
            with tempfile.TemporaryDirectory() as tmp:
                folder, hooks = Path(tmp), WebhookReceiver()
                settings = load_settings(write_config(folder, {
                    "alerts": [hooks.url()], "group_above": group_above}), env=env_for(folder))
                store = storage.open_store(settings.database_url)
                now = datetime.now(timezone.utc)
                store_alerts(store, n, now)
                started = time.perf_counter()
                report = deliver.after_cycle(settings, store, now=now)
                seconds = time.perf_counter() - started
                assert not report.failed and len(hooks.hooks) == len(report.sent)
                row.append((len(report.sent), seconds))
                store.close()
                hooks.stop()
        (grouped, g_s), (single, s_s) = row
        print(f"       {n:>4} alerts: grouped {grouped} message in {g_s:.2f} s; one per item "
              f"{single} messages in {s_s:.2f} s ({s_s / g_s:.1f}x the time)")


# --- latency -----------------------------------------------------------------------

def latency(articles: int = 5) -> None:
    from newsweb import page_around, rss, start_newsweb

    from pipeline.cycle import open_pipeline, run_cycle

    web, hooks, smtp = start_newsweb(), WebhookReceiver(), SMTPReceiver()
    items = []
    for i in range(articles):
        title = f"Survivors of Sednaya describe torture, report {i}"
        paragraphs = [f"Report {i}. Former detainees of Sednaya prison described years of "
                      "torture in underground cells, where guards beat prisoners daily."] * 6
        web.add(f"/a/{i}", page_around(title, paragraphs))
        items.append({"title": title, "link": web.url(f"/a/{i}")})
    web.add("/feed.xml", rss("wire", items), content_type="application/rss+xml")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        settings = load_settings(write_config(
            folder, {"alerts": [hooks.url(), smtp.url()], "group_above": 10},
            feeds=[{"name": "wire", "url": web.url("/feed.xml")}]), env=env_for(folder))
        store = storage.open_store(settings.database_url)
        pipeline = open_pipeline(settings, store)
        summary = run_cycle(pipeline)
        pipeline.close()
        deliver.after_cycle(settings, store, summary)
        hooks.wait_for(articles)
        smtp.wait_for(articles)
        store.close()
    end = summary.finished_at.timestamp()
    print(f"LATENCY a real cycle ({summary.new} new, {summary.alerts} alerts) then "
          "deliver.after_cycle as the service calls it; one message per alert:")
    for name, receiver in (("webhook (json://)", hooks), ("SMTP (mailto://)", smtp)):
        waits = sorted(t - end for t in receiver.times)
        print(f"       cycle end -> {name} received: first {waits[0]:.3f} s, median "
              f"{statistics.median(waits):.3f} s, last {waits[-1]:.3f} s")
    hooks.stop()
    smtp.stop()
    web.server.shutdown()


# --- sigkill -----------------------------------------------------------------------

CHILD = textwrap.dedent("""
    import sys
    from datetime import datetime, timezone
    sys.path.insert(0, {root!r})
    import storage
    from pipeline import deliver
    from pipeline.config import load_settings
    settings = load_settings({config!r}, env={env!r})
    store = storage.open_store(settings.database_url)
    while True:
        deliver.after_cycle(settings, store, now=datetime.now(timezone.utc))
        if not storage.delivery_counts(store).get("pending"):
            break
""")


def sigkill_run(folder: Path, *, kills: int = 5, messages: int = 30, seed: int = 1) -> dict:
    """Send ``messages`` alerts from a child process that is SIGKILLed ``kills``
    times at random moments and restarted; returns what the receiver got."""
    rng = random.Random(seed)
    hooks = WebhookReceiver()
    config = write_config(folder, {"alerts": [hooks.url()], "group_above": 10 ** 6,
                                   "retry_after": "10ms"})
    env = env_for(folder)
    store = storage.open_store(env["DATABASE_URL"])
    store_alerts(store, messages, datetime.now(timezone.utc) - timedelta(minutes=1))
    # kill after these (1-based) arrivals, spread over the run
    kill_after = sorted(rng.sample(range(2, messages), kills))
    state = {"child": None, "in_flight": [], "kills": 0, "victim": None}
    lock = threading.Lock()

    def on_arrival(hook) -> None:
        with lock:
            count, victim = len(hooks.hooks), state["child"]
            # one kill per process: the next kill waits for the restarted one
            if state["kills"] < kills and count >= kill_after[state["kills"]] \
                    and victim is not state["victim"]:
                state["kills"] += 1
                state["victim"] = victim
                threading.Timer(rng.uniform(0, 0.03), _kill, (victim,)).start()

    hooks.before_reply = on_arrival
    restarts, started = 0, time.perf_counter()
    while True:
        with lock:
            state["child"] = subprocess.Popen(
                [sys.executable, "-c", CHILD.format(root=str(ROOT), config=str(config),
                                                    env=env)], cwd=folder)
        rc = state["child"].wait(timeout=120)
        if rc == 0:
            break
        assert rc == -signal.SIGKILL, f"child exited {rc}"
        # the message in flight at the kill: the last one the killed process got through
        state["in_flight"].append(hooks.hooks[-1].title)
        restarts += 1
    seconds = time.perf_counter() - started
    titles = [h.title for h in hooks.hooks]
    expected = {f"Newswatch alert (Torture): Torture testimony {i}" for i in range(messages)}
    duplicates = sorted({t for t in titles if titles.count(t) > 1})
    # one more round after it all: nothing is sent twice across a restart
    again = deliver.after_cycle(load_settings(config, env=env), store,
                                now=datetime.now(timezone.utc))
    integrity = storage.integrity_check(store)
    store.close()
    hooks.stop()
    return {"kills": state["kills"], "restarts": restarts, "received": len(titles),
            "lost": sorted(expected - set(titles)), "duplicates": duplicates,
            "in_flight": state["in_flight"], "extra": sum(titles.count(t) - 1 for t in duplicates),
            "resent_after": len(again.sent), "integrity": integrity, "seconds": seconds}


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.kill(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def sigkill(kills: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        r = sigkill_run(Path(tmp), kills=kills)
    print(f"SIGKILL {r['kills']} kills at random moments while sending 30 alerts (one message "
          f"each), restarted {r['restarts']} times, {r['seconds']:.1f} s:")
    print(f"       received {r['received']} messages: {len(r['lost'])} lost, "
          f"{len(r['duplicates'])} sent twice ({r['extra']} extra messages), each of them "
          f"{'the one in flight at a kill' if set(r['duplicates']) <= set(r['in_flight']) else 'NOT in flight'}; "
          f"a round after the last restart sent {r['resent_after']}; database {r['integrity']}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", default=["flood", "latency", "sigkill"])
    parser.add_argument("--kills", type=int, default=5)
    args = parser.parse_args(argv)
    for part in args.parts:
        if part == "flood":
            flood()
        elif part == "latency":
            latency()
        elif part == "sigkill":
            sigkill(args.kills)
        else:
            parser.error(f"unknown part {part!r}")


if __name__ == "__main__":
    main()
