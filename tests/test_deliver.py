"""Delivery with real parts: the digest and the alerts through Apprise to a real
SMTP server (aiosmtpd, ``mailto://…?mode=insecure``) and to a real webhook
receiver (``json://``, ``form://``), the durable outbox's retries and
failures, secrets kept out of everything shown or stored, and the Atom feeds
parsed back with feedparser."""

from __future__ import annotations

import logging
import re
import sqlite3
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import pytest
from conftest import TEST_ALERTS, write_config
from receivers import SMTPReceiver, WebhookReceiver

import storage
from pipeline import deliver, digest
from pipeline.config import load_settings
from pipeline.deliver import channels, options
from pipeline.deliver.atom import feed_paths, rule_slug
from pipeline.errors import ConfigError
from pipeline.maintenance import health
from pipeline.records import (Article, FeedEntry, FeedState, ItemOutcome, RuleMatch,
                              TermHit)
from pipeline.redact import redact_channel

FOUND = datetime(2024, 12, 9, 6, 0, tzinfo=timezone.utc)     # the items were found then
AFTER_CYCLE = FOUND + timedelta(minutes=1)
DIGEST_TIME = datetime(2024, 12, 9, 7, 0, tzinfo=timezone.utc)
DAY = DIGEST_TIME.date()
HOUR = timedelta(hours=1)
HOSTILE = '<script>alert(1)</script><img src="http://evil.example/t.gif"> Sednaya [x](javascript:1)'
ARABIC_TITLE = "الإفراج عن معتقلين من سجن صيدنايا"
SECRET = "s3cr3t-p@ss/w:rd"


# --- fixtures ------------------------------------------------------------------

@pytest.fixture
def smtp():
    server = SMTPReceiver()
    yield server
    server.stop()


@pytest.fixture
def hooks():
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


def settings_for(tmp_path: Path, env: dict, delivery: dict | None = None, *,
                 alerts: list | None = None, **extra):
    cfg = write_config(tmp_path, [{"name": "wire", "url": "http://127.0.0.1:9/feed"}],
                       delivery=delivery or {}, alerts=alerts or TEST_ALERTS,
                       digest_time="07:00", **extra)
    return load_settings(cfg, env=env)


def _hit(text: str, word: str, field: str = "text") -> TermHit:
    start = text.index(word)
    return TermHit(word, field, start, start + len(word), word)


def _outcome(link: str, title: str, text: str, *, status: str = "new", rules=(),
             source: str = "Wire", found: datetime = FOUND, **kw) -> ItemOutcome:
    entry = FeedEntry(feed_name=source, feed_url="http://127.0.0.1:9/feed", link=link,
                      title=title, summary="", published=found - timedelta(hours=1))
    return ItemOutcome(entry=entry, canonical_url=link, status=status, fetched_at=found,
                       title=title, article=Article(url=link, title=title, text=text),
                       alerts=list(rules), **kw)


def fill(store: storage.Store, *, extra_alerts: int = 0, found: datetime = FOUND) -> None:
    """A day: two Sednaya alerts (one Arabic, one with a hostile title), an
    item without alert whose link is javascript:, a copy and an off-topic item;
    ``extra_alerts`` more Torture alerts for floods."""
    en = "Families waited outside Sednaya prison as detainees were freed on Sunday morning."
    ar = "تجمعت العائلات أمام سجن صيدنايا بعد الإفراج عن المعتقلين صباح الأحد."
    outcomes = [
        _outcome("https://news.example/sednaya", HOSTILE, en, found=found,
                 rules=[RuleMatch("Sednaya", (_hit(en, "Sednaya"),))]),
        _outcome("https://arabic.example/saydnaya", ARABIC_TITLE, ar, source="بي بي سي عربي",
                 found=found, rules=[RuleMatch("Sednaya", (_hit(ar, "صيدنايا"),))]),
        _outcome("javascript:alert(1)", "Syria prison files opened", "Prison records " * 20,
                 found=found),
        _outcome("https://copy.example/1", "Copy", "x", status="duplicate", found=found,
                 duplicate_of="https://news.example/sednaya"),
        _outcome("https://off.example/1", "Football", "", status="off_topic", found=found),
    ]
    for i in range(extra_alerts):
        text = f"Report {i}: former detainees describe torture in the prison's cells."
        outcomes.append(_outcome(f"https://flood.example/{i}", f"Torture testimony {i}", text,
                                 found=found, rules=[RuleMatch("Torture",
                                                               (_hit(text, "torture"),))]))
    storage.save_feed_batch(store, FeedState(url="http://127.0.0.1:9/feed", name="wire"),
                            outcomes)


@pytest.fixture
def store(env):
    s = storage.open_store(env["DATABASE_URL"])
    yield s
    s.close()


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[tuple[str, str]] = []     # (data, dir of the innermost element)
        self._dirs: list[str] = []
        self._hidden = 0                          # inside <style> or <title>

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        self._hidden += tag in ("style", "title")
        if tag not in ("meta", "br", "img", "link", "input"):
            self._dirs.append(attrs.get("dir") or (self._dirs[-1] if self._dirs else ""))

    def handle_endtag(self, tag):
        self._hidden -= tag in ("style", "title")
        if self._dirs and tag not in ("meta", "br", "img", "link", "input"):
            self._dirs.pop()

    def handle_data(self, data):
        if data.strip() and not self._hidden:
            self.text.append((data, self._dirs[-1] if self._dirs else ""))


def parse_html(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


# --- config and secrets ----------------------------------------------------------

def test_secrets_come_from_the_environment_or_a_file(tmp_path, env):
    secret_file = tmp_path / "tg_token"
    secret_file.write_text("123456:ABC-def\n")
    settings = settings_for(
        tmp_path, {**env, "SMTP_PASSWORD": SECRET, "TG_TOKEN_FILE": str(secret_file),
                   "TG_CHAT": "-1001"},
        {"digest": ["mailtos://user:${SMTP_PASSWORD}@smtp.example.org?to=team@example.org"],
         "alerts": ["ntfys://ntfy.example.org/detainees"], "group_above": 5},
        alerts=[{**TEST_ALERTS[0], "notify": ["tgram://${TG_TOKEN}/${TG_CHAT}"]},
                *TEST_ALERTS[1:]])
    cfg = settings.delivery
    (mail,) = cfg.digest
    # a password in the userinfo is percent-encoded (Apprise decodes it again)
    assert "user:s3cr3t-p%40ss%2Fw%3Ard@smtp.example.org" in mail.url
    (tg,) = dict(cfg.notify)["Sednaya"]
    assert tg.url == "tgram://123456:ABC-def/-1001"
    assert [c.shown.split(" #")[0] for c in cfg.channels] == [
        "mailtos://smtp.example.org/***", "ntfys://ntfy.example.org/***", "tgram://***/***"]
    assert cfg.group_above == 5
    assert [c.id for c in cfg.alert_channels(["Sednaya"])] == [cfg.alerts[0].id, tg.id]
    assert cfg.alert_channels(["Torture"]) == cfg.alerts
    # nothing that prints the settings shows a secret
    assert SECRET not in repr(settings) and "ABC-def" not in repr(settings)
    assert [r.name for r in settings.alerts][0] == "Sednaya"     # notify is not a rule key


def test_a_missing_secret_is_a_config_error_naming_it(tmp_path, env):
    with pytest.raises(ConfigError) as err:
        settings_for(tmp_path, env, {"alerts": ["tgram://${TG_TOKEN}/123"]})
    assert err.value.key == "delivery.alerts[0]"
    assert "${TG_TOKEN} is not set" in str(err.value) and "TG_TOKEN_FILE" in str(err.value)
    with pytest.raises(ConfigError, match="cannot read TG_TOKEN_FILE"):
        settings_for(tmp_path, {**env, "TG_TOKEN_FILE": str(tmp_path / "nope")},
                     {"alerts": ["tgram://${TG_TOKEN}/123"]})


@pytest.mark.parametrize("delivery, key", [
    ({"alerts": ["nosuchservice://host/x"]}, "delivery.alerts[0]"),
    ({"alerts": "not a url"}, "delivery.alerts[0]"),
    ({"digest": [42]}, "delivery.digest[0]"),
    ({"emails": []}, "delivery.emails"),
    ({"group_above": -1}, "delivery.group_above"),
    ({"retry_after": "soon"}, "delivery.retry_after"),
])
def test_bad_delivery_config_names_the_key(tmp_path, env, delivery, key):
    with pytest.raises(ConfigError) as err:
        settings_for(tmp_path, env, delivery)
    assert err.value.key == key


def test_an_unknown_url_is_refused_without_showing_its_secrets(tmp_path, env):
    with pytest.raises(ConfigError) as err:
        settings_for(tmp_path, {**env, "PW": SECRET},
                     {"digest": ["mailto://nobody:${PW}@"]})
    assert "Apprise" in str(err.value)
    assert SECRET not in str(err.value) and "nobody" not in str(err.value)


@pytest.mark.parametrize("url, shown", [
    ("mailtos://user:pw@smtp.example.org:465?to=a@b.org", "mailtos://smtp.example.org:465/***"),
    ("tgram://123456:ABCdef/-1001", "tgram://***/***"),
    ("ntfy://secret-topic", "ntfy://***"),
    ("ntfys://ntfy.sh/secret-topic", "ntfys://ntfy.sh/***"),
    ("signal://localhost:8080/+441234/+449876", "signal://localhost:8080/***"),
    ("discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js", "discord://***/***"),
    ("json://[::1]:8080/hook?token=x", "json://[::1]:8080/***"),
    ("no url at all", "***"),
])
def test_channel_urls_are_shown_by_scheme_and_host_only(url, shown):
    assert redact_channel(url) == shown


def test_apprise_messages_are_scrubbed_of_the_url():
    (channel,) = options._channels(["json://hook-user:${PW}@127.0.0.1:9/tok3n/path"], "k",
                                   {"PW": SECRET}, None)
    said = (f"Could not load URL json://hook-user:{SECRET}@127.0.0.1:9/tok3n/path "
            f"(password s3cr3t-p%40ss%2Fw%3Ard)")
    clean = channels.scrub(said, channel)
    assert SECRET not in clean and "p%40ss" not in clean and "hook-user" not in clean
    assert "tok3n" not in clean and "127.0.0.1" in clean
    (mail,) = options._channels(["mailtos://user:pw@smtp.example.org?to=team@example.org"],
                                "k", {}, None)
    said = channels.scrub("smtp.example.org refused team@example.org", mail)
    assert said == "smtp.example.org refused ***@***"


# --- the digest by email -----------------------------------------------------------

def test_the_digest_arrives_as_a_multipart_email(tmp_path, env, store, smtp):
    settings = settings_for(tmp_path, env, {"digest": [smtp.url()]})
    fill(store)
    digest.write_day(settings, store, DAY, now=DIGEST_TIME)
    report = deliver.after_digest(settings, store, DAY, now=DIGEST_TIME + timedelta(minutes=1))
    assert [what for _, what in report.sent] == ["digest 2024-12-09"]
    (msg,) = smtp.wait_for(1)
    assert msg["Subject"] == "Newswatch digest 2024-12-09: 3 new items, 2 alerts"
    assert msg["To"].addresses[0].addr_spec == "team@example.org"
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for part in (text, html):
        assert ARABIC_TITLE in part and "Syria prison files opened" in part
        assert "https://news.example/sednaya" in part      # a link a text reader can follow
    assert "<script>" not in html and "&lt;script&gt;" in html
    page = parse_html(html)
    assert [d for t, d in page.text if t == ARABIC_TITLE] == ["rtl"]
    assert {d for t, d in page.text if "Syria prison files" in t} == {"ltr"}
    # only http(s) links; javascript: never became one
    hrefs = [a["href"] for tag, a in page.tags if tag == "a"]
    assert hrefs and all(h.startswith(("https://", "http://")) for h in hrefs)
    # a second round sends nothing: the digest went to this channel once
    assert not deliver.after_cycle(settings, store, now=DIGEST_TIME + timedelta(minutes=30)).sent
    assert len(smtp.messages) == 1


def test_the_email_is_the_html_digest_styled_inline_and_loading_nothing(tmp_path, env, store,
                                                                        smtp):
    settings = settings_for(tmp_path, env, {"digest": [smtp.url()]})
    fill(store)
    digest.write_day(settings, store, DAY, now=DIGEST_TIME)
    deliver.after_digest(settings, store, DAY, now=DIGEST_TIME)
    email_html = smtp.wait_for(1)[0].get_body(("html",)).get_content()
    file_html = (settings.output_dir / "digests" / "2024-12-09.html").read_text()
    email_page, file_page = parse_html(email_html), parse_html(file_html)
    # same content: every link and every piece of text of the digest file is in the email
    file_links = {a["href"] for t, a in file_page.tags if t == "a"}
    assert file_links and file_links <= {a["href"] for t, a in email_page.tags if t == "a"}
    email_text = re.sub(r"\s+", " ", " ".join(t for t, _ in email_page.text))
    for chunk, _ in file_page.text:
        chunk = re.sub(r"\s+", " ", chunk).strip(" ·:,()")
        assert chunk in email_text, chunk
    # mail clients drop <style> and must load nothing: inline styles, no remote parts
    names = {t for t, _ in email_page.tags}
    assert not names & {"style", "script", "img", "link", "iframe", "object", "embed", "form"}
    attrs = [a for _, a in email_page.tags]
    assert not any("src" in a or "url(" in a.get("style", "") for a in attrs)
    assert "@import" not in email_html
    assert sum(1 for _, a in email_page.tags if "style" in a) > 20


def test_alerts_by_email_one_message_per_item(tmp_path, env, store, smtp):
    settings = settings_for(tmp_path, env, {"alerts": [smtp.url()]})
    fill(store)
    report = deliver.after_cycle(settings, store, now=AFTER_CYCLE)
    assert len(report.sent) == 2
    subjects = sorted(m["Subject"] for m in smtp.wait_for(2))
    assert subjects[0].startswith("Newswatch alert (Sednaya): <script>")
    assert subjects[1] == f"Newswatch alert (Sednaya): {ARABIC_TITLE}"
    arabic = next(m for m in smtp.messages if ARABIC_TITLE in m["Subject"])
    page = parse_html(arabic.get_body(("html",)).get_content())
    assert ("صيدنايا", "rtl") in page.text                     # the highlighted match
    assert any(t == "بي بي سي عربي" and d == "rtl" for t, d in page.text)


# --- alerts to webhooks, grouping, never twice -------------------------------------

@pytest.mark.parametrize("kind", ["json", "form"])
def test_webhook_alerts_one_per_item_and_never_twice(tmp_path, env, store, hooks, kind):
    settings = settings_for(tmp_path, env, {"alerts": [hooks.url(kind=kind)]})
    fill(store)
    deliver.after_cycle(settings, store, now=AFTER_CYCLE)
    got = hooks.wait_for(2)
    assert {h.kind for h in got} == {kind}
    single = next(h for h in got if ARABIC_TITLE in h.title)
    assert single.title == f"Newswatch alert (Sednaya): {ARABIC_TITLE}"
    assert "بي بي سي عربي" in single.body and "matched: صيدنايا" in single.body
    assert "«صيدنايا»" in single.body and "https://arabic.example/saydnaya" in single.body
    # the next cycles find nothing new for this channel
    for minutes in (30, 60):
        assert not deliver.after_cycle(settings, store,
                                       now=AFTER_CYCLE + timedelta(minutes=minutes)).sent
    assert len(hooks.hooks) == 2


def test_a_flood_of_alerts_is_one_grouped_message(tmp_path, env, store, hooks):
    settings = settings_for(tmp_path, env, {"alerts": [hooks.url()], "group_above": 3})
    fill(store, extra_alerts=60)
    report = deliver.after_cycle(settings, store, now=AFTER_CYCLE)
    assert [what for _, what in report.sent] == ["62 alerts in one message"]
    (hook,) = hooks.wait_for(1)
    assert hook.title == "Newswatch: 62 new alerts (Torture 60, Sednaya 2)"
    assert hook.body.count("\n\n") == 40          # 40 listed, then how many more
    assert hook.body.rstrip().endswith("… and 22 more: see the next digest or the Atom feed.")
    assert storage.delivery_counts(store) == {"sent": 62}


def test_a_rules_own_channels_get_only_that_rule(tmp_path, env, store, hooks):
    alerts = [{**TEST_ALERTS[0], "notify": [hooks.url("/sednaya")]}, *TEST_ALERTS[1:]]
    settings = settings_for(tmp_path, env, {"alerts": [hooks.url("/all")], "group_above": 10},
                            alerts=alerts)
    fill(store, extra_alerts=2)
    deliver.after_cycle(settings, store, now=AFTER_CYCLE)
    got = hooks.wait_for(6)
    assert sorted(h.path for h in got) == ["/all"] * 4 + ["/sednaya"] * 2
    assert all("Sednaya" in h.title for h in got if h.path == "/sednaya")


def test_alerts_of_old_items_are_not_announced(tmp_path, env, store, hooks):
    """An alert added by rematch to last week's item, or an archive present
    when delivery is first set up, is not news any more."""
    settings = settings_for(tmp_path, env, {"alerts": [hooks.url()]})
    fill(store, found=FOUND - timedelta(days=2))
    assert not deliver.after_cycle(settings, store, now=AFTER_CYCLE).sent
    assert hooks.hooks == []


# --- retries, failures, reporting ----------------------------------------------------

def test_a_channel_answering_500_twice_gets_it_on_the_third_try(tmp_path, env, store, hooks):
    hooks.failures = 2
    settings = settings_for(tmp_path, env, {"alerts": [hooks.url()], "group_above": 1,
                                            "retry_after": "1m"})
    fill(store)
    first = deliver.after_cycle(settings, store, now=AFTER_CYCLE)
    assert first.failed and not first.sent
    (row,) = storage.deliveries(store, status="pending", limit=1)
    assert row.attempts == 1 and row.next_attempt_at == AFTER_CYCLE + timedelta(minutes=1)
    # before the backoff has passed nothing is tried
    early = deliver.after_cycle(settings, store, now=AFTER_CYCLE + timedelta(seconds=30))
    assert not early.sent and not early.failed and hooks.refused == 1
    second = deliver.after_cycle(settings, store, now=AFTER_CYCLE + timedelta(minutes=2))
    assert second.failed and hooks.refused == 2
    third = deliver.after_cycle(settings, store, now=AFTER_CYCLE + timedelta(minutes=10))
    assert [what for _, what in third.sent] == ["2 alerts in one message"]
    assert len(hooks.wait_for(1)) == 1
    assert storage.delivery_counts(store) == {"sent": 2}
    (state,) = storage.channel_states(store)
    assert state.consecutive_failures == 0 and state.failing_since is None


def test_a_channel_that_keeps_failing_is_reported_everywhere(tmp_path, env, store, hooks,
                                                             caplog):
    hooks.failures = 10 ** 6
    settings = settings_for(tmp_path, env, {"alerts": [hooks.url()], "max_attempts": 2,
                                            "group_above": 1})
    fill(store)
    storage.record_cycle(store, AFTER_CYCLE, AFTER_CYCLE, "cycle: test")
    caplog.set_level(logging.INFO, logger="newswatch")
    moment = AFTER_CYCLE
    for _ in range(3):
        deliver.after_cycle(settings, store, now=moment)
        moment += timedelta(hours=1)
    assert storage.delivery_counts(store) == {"failed": 2} and hooks.refused == 2
    assert "is failing: 2 failures in a row" in caplog.text
    (state,) = storage.failing_channels(store)
    assert state.channel.startswith("json://127.0.0.1:") and state.consecutive_failures == 2
    ok, said = health(settings, store, now=AFTER_CYCLE + timedelta(minutes=5))
    assert ok and "delivery channels failing: json://127.0.0.1" in said
    d = digest.build_digest(store, DAY, tz=settings.tz, digest_time=settings.digest_time,
                            alert_order=[], feed_urls=[], now=DIGEST_TIME)
    assert d.failing_channels[0]["channel"] == state.channel
    assert "Failing delivery channels (1)" in digest.render(d)["html"]
    lines = deliver.listing(settings, store)
    assert lines[0] == "outbox: 0 sent, 0 pending, 2 failed" and "FAILING since" in lines[1]
    # --retry re-arms them; the receiver comes back and both go out together
    assert deliver.retry_failed(store, now=moment) == 2
    hooks.failures = 0
    assert deliver.after_cycle(settings, store, now=moment).sent
    assert storage.failing_channels(store) == []


def test_a_channel_removed_from_the_config_keeps_its_messages(tmp_path, env, store, hooks):
    """Not reported failing once removed; what it still had to send waits (a
    ``once`` with another config on the same database must not drop it)."""
    hooks.failures = 1
    settings = settings_for(tmp_path, env, {"alerts": [hooks.url()], "group_above": 10})
    fill(store)
    deliver.after_cycle(settings, store, now=AFTER_CYCLE)
    assert storage.delivery_counts(store) == {"pending": 2} and storage.channel_states(store)
    deliver.after_cycle(settings_for(tmp_path, env, {}), store, now=AFTER_CYCLE + HOUR)
    assert storage.channel_states(store) == [] and hooks.refused == 1
    assert storage.delivery_counts(store) == {"pending": 2}
    deliver.after_cycle(settings, store, now=AFTER_CYCLE + 2 * HOUR)      # it is back
    assert storage.delivery_counts(store) == {"sent": 2} and len(hooks.wait_for(2)) == 2


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture
def root_log():
    """What the service's own log handlers (on the root logger) receive at
    debug level (``-v``); pytest's caplog also listens to loggers that do not
    propagate, so it would show more than a user ever sees."""
    handler, root = _Lines(), logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler.lines
    root.removeHandler(handler)
    root.setLevel(old)


def test_secrets_are_never_stored_logged_or_shown(tmp_path, env, store, hooks, root_log):
    hooks.failures = 1
    url = hooks.url().replace("json://", "json://hookuser:${HOOK_PW}@") + "/${HOOK_TOKEN}"
    secrets = {"HOOK_PW": SECRET, "HOOK_TOKEN": "tok-9f8e7d6c5b4a"}
    settings = settings_for(tmp_path, {**env, **secrets}, {"alerts": [url],
                                                           "group_above": 10})
    fill(store)
    deliver.after_cycle(settings, store, now=AFTER_CYCLE)                    # fails once
    deliver.after_cycle(settings, store, now=AFTER_CYCLE + timedelta(hours=1))   # then sent
    assert hooks.wait_for(1)[0].path.endswith("/tok-9f8e7d6c5b4a")
    assert any("deliver: sent 1 alert" in line for line in root_log)
    shown = "\n".join([*root_log, *deliver.listing(settings, store)])
    dump = "\n".join(sqlite3.connect(store.sqlite_path).iterdump())
    for text in (shown, dump):
        for secret in (*secrets.values(), "p%40ss", "hookuser"):
            assert secret not in text


# --- Atom feeds --------------------------------------------------------------------

def test_atom_feeds_are_valid_escaped_and_stable(tmp_path, env, store):
    settings = settings_for(tmp_path, env, alerts=[*TEST_ALERTS, {"name": "معتقلين",
                                                                  "any": ["معتقلين"]}])
    fill(store, extra_alerts=2)
    deliver.after_cycle(settings, store, now=AFTER_CYCLE)
    paths = feed_paths(settings)
    assert [p.name for p in paths.values()] == [
        "all.atom", "sednaya.atom", "prisoners-released.atom", "torture.atom",
        f"{rule_slug('معتقلين')}.atom"]
    first = {p.name: p.read_bytes() for p in paths.values()}
    feed = feedparser.parse(first["all.atom"])
    assert not feed.bozo and feed.version == "atom10"
    titles = [e.title for e in feed.entries]
    assert HOSTILE in titles and ARABIC_TITLE in titles and len(titles) == 5
    hostile = next(e for e in feed.entries if e.title == HOSTILE)
    assert hostile.link == "https://news.example/sednaya" and hostile.updated
    assert [t.term for t in hostile.tags] == ["Sednaya"]
    assert b"<script>" not in first["all.atom"]
    no_link = next(e for e in feed.entries if e.title == "Syria prison files opened")
    assert "javascript" not in str(no_link.get("links"))
    sednaya = feedparser.parse(first["sednaya.atom"])
    assert not sednaya.bozo and len(sednaya.entries) == 2
    empty = feedparser.parse(first["prisoners-released.atom"])
    assert not empty.bozo and empty.entries == [] and empty.feed.updated
    # a second run over the same items: the same ids, the same bytes
    for p in paths.values():
        p.unlink()
    deliver.after_cycle(settings, store, now=AFTER_CYCLE + timedelta(hours=1))
    assert {p.name: p.read_bytes() for p in paths.values()} == first
    ids = [e.id for e in feed.entries]
    assert len(set(ids)) == 5 and all(i.startswith("tag:newswatch,2024:item/") for i in ids)


# --- the form each service takes -------------------------------------------------------

@pytest.mark.parametrize("url, form", [
    ("mailtos://u:p@smtp.example.org?to=a@example.org", "email"),
    ("mailto://u:p@smtp.example.org?to=a@example.org&format=text", "text"),
    ("tgram://123456:ABCdef/-1001", "html"),
    ("ntfys://ntfy.example.org/topic", "text"),
    ("signal://localhost:8080/+12025550123/+12025550188", "text"),
    ("json://127.0.0.1:9/hook", "text"),
    ("json://127.0.0.1:9/hook?format=markdown", "markdown"),
])
def test_each_service_gets_the_form_it_takes(url, form):
    (channel,) = options._channels([url], "k", {}, None)
    assert channels.body_format(channel) == form


def test_markdown_services_get_escaped_markdown(tmp_path, env, store, hooks):
    settings = settings_for(tmp_path, env, {"alerts": [hooks.url() + "?format=markdown"]})
    fill(store)
    deliver.after_cycle(settings, store, now=AFTER_CYCLE)
    hostile = next(h for h in hooks.wait_for(2) if "script" in h.title)
    assert hostile.body.startswith("**[\\<script\\>alert\\(1\\)\\</script\\>")
    assert "](https://news.example/sednaya)**" in hostile.body
    assert "](javascript" not in hostile.body and "<script>" not in hostile.body
