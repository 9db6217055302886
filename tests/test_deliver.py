"""Delivery with real parts: the digest and the alerts through Apprise to a real
SMTP server (aiosmtpd, ``mailto://…?mode=insecure``) and to a real webhook
receiver (``json://``, ``form://``), the durable outbox's retries and failures
(config, secrets and the Atom feeds: test_deliver_config.py)."""

from __future__ import annotations

import logging
import re
import sqlite3
from datetime import timedelta

import pytest
from conftest import TEST_ALERTS

import storage
from pipeline import deliver, digest
from pipeline.maintenance import health

from deliver_support import *  # noqa: F401,F403  (fixtures and helpers)
from deliver_support import (AFTER_CYCLE, ARABIC_TITLE, DAY, DIGEST_TIME, FOUND, HOUR,
                             SECRET)


# --- the digest by email -----------------------------------------------------------

def test_the_digest_arrives_as_a_multipart_email(tmp_path, env, store, smtp):
    settings = settings_for(tmp_path, env, {"digest": [smtp.url()]})
    fill(store)
    digest.write_day(settings, store, DAY, now=DIGEST_TIME)
    report = deliver.after_digest(settings, store, DAY, now=DIGEST_TIME + timedelta(minutes=1))
    assert [what for _, what in report.sent] == ["digest 2024-12-09"]
    (msg,) = smtp.wait_for(1)
    assert msg["Subject"] == "Newswatch digest 2024-12-09: 3 new reports in 3 stories, 2 alerts"
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
    # the top headlines, the story's headline and its report: each right-to-left
    shown = [d for t, d in page.text if t == ARABIC_TITLE]
    assert shown and set(shown) == {"rtl"}
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
    d = digest.digest_for(settings, store, DAY, now=DIGEST_TIME)
    assert d.failing_channels[0].channel == state.channel
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


