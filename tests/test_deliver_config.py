"""Delivery's config and secrets (``${NAME}``, ``NAME_FILE``, redaction), the
Atom feeds parsed back with feedparser, and the form each service gets."""

from __future__ import annotations

from datetime import timedelta

import feedparser
import pytest
from conftest import TEST_ALERTS

from pipeline import deliver
from pipeline.deliver import channels, options
from pipeline.deliver.atom import feed_paths, rule_slug
from pipeline.errors import ConfigError
from pipeline.redact import redact_channel

from deliver_support import *  # noqa: F401,F403  (fixtures and helpers)
from deliver_support import (AFTER_CYCLE, ARABIC_TITLE, HOSTILE, SECRET)


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
