"""Moved, gone and dead feeds: a 301/308 is followed and remembered (the next
polls go to the new URL, the digest and ``newswatch feeds`` say "moved to X"
until the config follows), a 302/307 is followed only, a 410 stops polling, a
run of 404s is shown as probably dead and backs off. Real cycles against a
FaultServer on loopback, with an injected clock; the CLI in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

import storage
from conftest import write_config
from faultserver import FaultServer
from newsweb import rss
from pipeline import digest
from pipeline.config import load_settings
from pipeline.cycle import open_pipeline, run_cycle

T0 = datetime(2030, 3, 1, 8, 0, tzinfo=timezone.utc)
CYCLE = timedelta(minutes=30)
FEED = rss("Desk", []).encode()


@pytest.fixture
def srv():
    with FaultServer() as server:
        server.static("/new.xml", FEED, "application/rss+xml", etag='"v1"')
        yield server


class Watch:
    """A config of one feed ("Desk" at ``url``), its store and pipeline."""

    def __init__(self, tmp_path, env, url: str, **network):
        self.tmp_path, self.env = tmp_path, env
        self.cfg = write_config(tmp_path, [{"name": "Desk", "url": url}],
                                network={"backoff_base": 60, "backoff_max": 600, **network})
        self.settings = load_settings(self.cfg, env=env)
        self.store = storage.open_store(self.settings.database_url)
        self.pipeline = open_pipeline(self.settings, self.store)

    def change_url(self, url: str) -> None:
        """The user edits the config: the same feed at another URL."""
        self.cfg = write_config(self.tmp_path, [{"name": "Desk", "url": url}])
        self.settings = load_settings(self.cfg, env=self.env)
        self.pipeline = self.pipeline.reconfigure(self.settings)

    def cycle(self, now: datetime):
        return run_cycle(self.pipeline, now=now)

    def state(self, url: str):
        return storage.feed_states(self.store)[url]

    def digest_json(self, now: datetime) -> dict:
        paths = digest.write_day(self.settings, self.store, now.date(), now=now)
        return json.loads(next(p for p in paths if p.suffix == ".json").read_text())

    def digest_text(self, now: datetime, suffix: str) -> str:
        paths = digest.write_day(self.settings, self.store, now.date(), now=now)
        return next(p for p in paths if p.suffix == suffix).read_text()

    def close(self):
        self.pipeline.close()
        self.store.close()


@pytest.fixture
def watch(tmp_path, env):
    made = []

    def make(url, **network):
        made.append(Watch(tmp_path, env, url, **network))
        return made[-1]
    yield make
    for w in made:
        w.close()


def newswatch(*args, env, cwd):
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True,
                          text=True, env={**env, "PATH": "/usr/bin:/bin"}, cwd=cwd, timeout=120)


@pytest.mark.parametrize("status", [301, 308])
def test_permanent_redirect_is_remembered_and_followed_next_cycle(srv, watch, status):
    srv.redirect("/old.xml", srv.url("/new.xml"), status=status)
    w = watch(srv.url("/old.xml"))
    assert w.cycle(T0).feeds_failed == 0
    assert (srv.hits["/old.xml"], srv.hits["/new.xml"]) == (1, 1)
    assert w.state(srv.url("/old.xml")).moved_to == srv.url("/new.xml")
    srv.reset_counts()
    for n in range(1, 3):
        assert w.cycle(T0 + n * CYCLE).feeds_failed == 0
    assert srv.hits["/old.xml"] == 0 and srv.hits["/new.xml"] == 2
    (notice,) = w.digest_json(T0 + CYCLE)["feeds_to_update"]
    assert notice["state"] == "moved" and notice["moved_to"] == srv.url("/new.xml")
    assert notice["notice"] == f"moved to {srv.url('/new.xml')}: update your config"
    md = w.digest_text(T0 + CYCLE, ".md")
    assert "Feeds to update (1)" in md and "update your config" in md


@pytest.mark.parametrize("status", [302, 307])
def test_temporary_redirect_is_followed_but_not_remembered(srv, watch, status):
    srv.redirect("/old.xml", srv.url("/new.xml"), status=status)
    w = watch(srv.url("/old.xml"))
    w.cycle(T0)
    w.cycle(T0 + CYCLE)
    assert (srv.hits["/old.xml"], srv.hits["/new.xml"]) == (2, 2)
    state = w.state(srv.url("/old.xml"))
    assert state.moved_to is None and state.last_success_at == T0 + CYCLE
    assert w.digest_json(T0 + CYCLE)["feeds_to_update"] == []


def test_a_temporary_hop_after_a_permanent_one_keeps_the_permanent_target(srv, watch):
    srv.redirect("/old.xml", srv.url("/mid.xml"), status=301)
    srv.redirect("/mid.xml", srv.url("/new.xml"), status=302)
    w = watch(srv.url("/old.xml"))
    w.cycle(T0)
    assert w.state(srv.url("/old.xml")).moved_to == srv.url("/mid.xml")


def test_config_change_clears_the_notice_and_the_state_follows(srv, watch):
    srv.redirect("/old.xml", srv.url("/new.xml"), status=301)
    w = watch(srv.url("/old.xml"))
    w.cycle(T0)
    w.change_url(srv.url("/new.xml"))
    srv.reset_counts()
    w.cycle(T0 + CYCLE)
    assert srv.hits["/new.xml"] == 1 and srv.hits["/old.xml"] == 0
    state = w.state(srv.url("/new.xml"))
    assert state.moved_to is None and state.etag == '"v1"'   # the validators followed
    assert srv.requests[-1].headers.get("if-none-match") == '"v1"'
    assert w.digest_json(T0 + CYCLE)["feeds_to_update"] == []


def test_gone_feed_is_no_longer_polled_and_is_shown_as_gone(srv, watch):
    srv.respond("/gone.xml", 410, b"gone", {"Content-Type": "text/plain"})
    w = watch(srv.url("/gone.xml"))
    assert w.cycle(T0).feeds_failed == 1
    for n in range(1, 4):
        summary = w.cycle(T0 + n * timedelta(days=1))
        assert summary.feeds_polled == 0 and summary.feeds_skipped == 1
    assert srv.hits["/gone.xml"] == 1
    assert w.state(srv.url("/gone.xml")).gone_at == T0
    (notice,) = w.digest_json(T0)["feeds_to_update"]
    assert notice["state"] == "gone" and "410" in notice["notice"]
    w.change_url(srv.url("/new.xml"))          # another URL: polled again
    assert w.cycle(T0 + timedelta(days=5)).feeds_polled == 1
    assert srv.hits["/new.xml"] == 1


def test_repeated_404s_are_probably_dead_after_the_threshold_with_backoff(srv, watch):
    srv.respond("/lost.xml", 404, b"not here", {"Content-Type": "text/plain"})
    w = watch(srv.url("/lost.xml"), dead_after_404s=3, dead_after="30d")
    now, waits = T0, []
    for n in range(1, 5):
        w.cycle(now)
        state = w.state(srv.url("/lost.xml"))
        assert state.not_found_count == n
        assert (state.dead_since is not None) == (n >= 3), n
        if state.next_poll_at:
            waits.append(state.next_poll_at - now)
            assert w.cycle(state.next_poll_at - timedelta(seconds=1)).feeds_skipped == 1
        now = state.next_poll_at or now + CYCLE
    assert srv.hits["/lost.xml"] == 4
    assert waits == sorted(waits) and waits[-1] > waits[0]    # polled less and less
    (notice,) = w.digest_json(now)["feeds_to_update"]
    assert notice["state"] == "probably dead" and "3 404s" not in notice["notice"]
    assert "4 404s in a row" in notice["notice"]


def test_404s_for_longer_than_dead_after_are_probably_dead(srv, watch):
    srv.respond("/lost.xml", 404, b"", {"Content-Type": "text/plain"})
    w = watch(srv.url("/lost.xml"), dead_after_404s=100, dead_after="1d")
    w.cycle(T0)
    w.cycle(T0 + timedelta(hours=2))
    assert w.state(srv.url("/lost.xml")).dead_since is None
    w.cycle(T0 + timedelta(days=1, hours=1))
    assert w.state(srv.url("/lost.xml")).dead_since == T0 + timedelta(days=1, hours=1)


def test_a_success_ends_the_run_of_404s(srv, watch):
    srv.respond("/flaky.xml", 404, b"", {"Content-Type": "text/plain"})
    w = watch(srv.url("/flaky.xml"), dead_after_404s=1)
    w.cycle(T0)
    assert w.state(srv.url("/flaky.xml")).dead_since == T0
    srv.static("/flaky.xml", FEED, "application/rss+xml")
    w.cycle(T0 + timedelta(days=1))
    state = w.state(srv.url("/flaky.xml"))
    assert (state.not_found_count, state.dead_since) == (0, None)


def test_redirect_to_a_private_address_is_refused(srv, watch):
    # the feed's own URL is trusted (written as an address), the hop it gives is not
    srv.redirect("/old.xml", srv.url("/new.xml"), status=301)
    w = watch(srv.url("/old.xml"), allow_private_addresses=False)
    assert w.cycle(T0).feeds_failed == 1
    state = w.state(srv.url("/old.xml"))
    assert state.moved_to is None and "refused" in state.last_error
    assert srv.hits["/new.xml"] == 0


def test_feeds_command_lists_every_feed_with_its_state(tmp_path, env):
    with FaultServer() as srv:
        srv.static("/new.xml", FEED, "application/rss+xml")
        srv.static("/ok.xml", FEED, "application/rss+xml")
        srv.redirect("/old.xml", srv.url("/new.xml"), status=301)
        srv.respond("/gone.xml", 410, b"", {"Content-Type": "text/plain"})
        srv.respond("/down.xml", 503, b"", {"Content-Type": "text/plain"})
        feeds = [{"name": n, "url": srv.url(p)} for n, p in
                 [("Ok", "/ok.xml"), ("Moved", "/old.xml"), ("Gone", "/gone.xml"),
                  ("Down", "/down.xml")]]
        cfg = write_config(tmp_path, feeds)
        settings = load_settings(cfg, env=env)
        store = storage.open_store(settings.database_url)
        pipeline = open_pipeline(settings, store)
        run_cycle(pipeline, now=T0)
        pipeline.close()
        store.close()
        cfg = write_config(tmp_path, feeds + [{"name": "Fresh", "url": srv.url("/x.xml")}])
    out = newswatch("feeds", "--json", "--config", str(cfg), env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert [rows[n]["state"] for n in ("Ok", "Moved", "Gone", "Down", "Fresh")] == [
        "ok", "moved", "gone", "failing", "never polled"]
    assert rows["Moved"]["moved_to"] == srv.url("/new.xml")
    assert rows["Down"]["failing_since"].startswith("2030-03-01T08:00")
    assert "503" in rows["Down"]["last_error"] and rows["Ok"]["last_error"] is None
    assert rows["Ok"]["last_success"].startswith("2030-03-01T08:00")
    assert rows["Ok"]["kept_30_days"] == 0
    text = newswatch("feeds", "--config", str(cfg), env=env, cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert f"moved to {srv.url('/new.xml')}: update your config" in text.stdout
    assert "[failing since 2030-03-01T08:00" in text.stdout and "[gone]" in text.stdout


def test_every_output_of_the_digest_and_the_reading_room_show_the_notice(srv, watch):
    import httpx

    from pipeline.deliver.messages import digest_message
    from pipeline.digest import render_html, render_json, render_markdown
    from pipeline.web import ReadingRoom, web_config

    srv.redirect("/old.xml", srv.url("/new.xml"), status=301)
    w = watch(srv.url("/old.xml"))
    w.cycle(T0)
    model = digest.digest_for(w.settings, w.store, T0.date(), now=T0)
    wanted = f"moved to {srv.url('/new.xml')}: update your config"
    outputs = {"md": render_markdown(model), "html": render_html(model),
               "json": render_json(model),
               **{f"message {form}": digest_message(model, form).body
                  for form in ("email", "html", "text", "markdown")}}   # email and chat
    for name, body in outputs.items():
        assert wanted in body, name
    room = ReadingRoom(lambda: w.settings, w.store, web_config(w.settings, port=0)).start()
    try:
        page = httpx.get(f"http://127.0.0.1:{room.port}/feeds", timeout=10).text
    finally:
        room.stop()
    assert wanted in page


def test_the_rules_are_pure_functions_of_state_time_and_config():
    from pipeline.config import FeedSpec, NetworkConfig
    from pipeline.errors import HTTPStatusError
    from pipeline.feedstate import adopt_moved, after_missing, after_redirect, health
    from pipeline.records import FeedState

    net = NetworkConfig(dead_after_404s=2)
    old, new = "http://old.example/rss", "http://new.example/rss"
    moved = after_redirect(FeedSpec(name="D", url=old), FeedState(url=old), new)
    assert moved.moved_to == new and health(moved) == "never polled"
    adopted = adopt_moved([FeedSpec(name="D", url=new)], {old: moved})
    assert adopted[new].url == new and adopted[new].moved_to is None
    assert adopt_moved([FeedSpec(name="D", url=old)], {old: moved}) == {old: moved}
    lost = HTTPStatusError("404 not found", url=old, status=404)
    once = after_missing(FeedState(url=old, failing_since=T0), T0, lost, net)
    twice = after_missing(once, T0 + CYCLE, lost, net)
    assert (once.dead_since, twice.dead_since) == (None, T0 + CYCLE)
    other = HTTPStatusError("500", url=old, status=500)
    assert after_missing(twice, T0, other, net).not_found_count == 0


def test_a_gone_feed_does_not_wake_the_scheduler(srv, watch):
    from pipeline.feedstate import idle_tick

    srv.respond("/gone.xml", 410, b"", {"Content-Type": "text/plain"})
    w = watch(srv.url("/gone.xml"), poll_adaptive=True)
    w.cycle(T0)
    states = storage.feed_states(w.store)
    assert idle_tick(w.settings, states, None, T0, T0 + timedelta(minutes=6))
