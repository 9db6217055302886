"""Bad edits of a live config: every edit that parses as YAML (or nearly) but is
invalid is one ConfigError naming file, key and what is allowed; `check-config`
exits 2 with one line and no traceback; the running service's reload keeps
the last good Settings."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

import storage
from conftest import ROOT
from pipeline import service as service_mod
from pipeline.config import load_settings
from pipeline.cycle import open_pipeline
from pipeline.errors import ConfigError

GOOD = """\
feeds:
  - {name: wire, url: "http://127.0.0.1:9/feed.xml"}
topic: {any: [prison*, Sednaya]}
alerts:
  - {name: Sednaya, any: [Sednaya]}
variants: {Place: [Damascus]}
network: {allow_private_addresses: true}
seeds_dir: seeds
poll_interval: 30m
"""


def _laughs() -> str:
    """The billion laughs: nine levels of ten aliases each, 10^9 values expanded."""
    lines = ['  L0: &L0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        lines.append(f"  L{i}: &L{i} [" + ", ".join([f"*L{i - 1}"] * 10) + "]")
    return "variants:\n" + "\n".join(lines) + "\n"


# (what the edit is, the text that replaces or extends GOOD, key named, words in the reason)
BAD_EDITS = [
    ("NaN", "network: {deadline: .nan}", "network.deadline", "finite"),
    (".inf", "network: {read_timeout: .inf}", "network.read_timeout", "finite"),
    ("1e400 as a float", "dedupe: {containment: 1.0e+400}", "dedupe.containment", "finite"),
    ("1e400 as text", "dedupe: {story_window_hours: 1e400}", "dedupe.story_window_hours",
     "finite number"),
    ("a 400-digit integer", "network: {max_bytes: " + "9" * 400 + "}", "network.max_bytes",
     "1024 to 1073741824"),
    ("a duration that overflows timedelta", 'poll_interval: "99999999999d"', "poll_interval",
     "1m to 366d"),
    ("a duration of 400 digits", "network: {backoff_max: " + "9" * 400 + "s}",
     "network.backoff_max", "finite"),
    ("poll_interval 10s", "poll_interval: 10s", "poll_interval", "1m to 366d"),
    ("containment 0", "dedupe: {containment: 0}", "dedupe.containment",
     "more than 0, at most 1"),
    ("containment 1.5", "dedupe: {containment: 1.5}", "dedupe.containment",
     "more than 0, at most 1"),
    ("workers 10000", "extract: {workers: 10000}", "extract.workers", "0 to 64"),
    ("a negative deadline", "network: {deadline: -5}", "network.deadline", "more than 0s"),
    ("a zero timeout", "network: {connect_timeout: 0}", "network.connect_timeout",
     "more than 0s"),
    ("max_bytes 0", "network: {max_bytes: 0}", "network.max_bytes", "1024 to"),
    ("shingle_size 0", "dedupe: {shingle_size: 0}", "dedupe.shingle_size", "1 to 50"),
    ("sketch_size 0", "dedupe: {sketch_size: 0}", "dedupe.sketch_size", "1 to 4096"),
    ("lsh_keys above sketch_size", "dedupe: {sketch_size: 16, lsh_keys: 32}",
     "dedupe.lsh_keys", "dedupe.sketch_size"),
    ("retry_base 30s", "network: {retry_base: 30s}", "network.retry_base", "1m to 366d"),
    ("max_title_chars 10", "limits: {max_title_chars: 10}", "limits.max_title_chars",
     "50 to"),
    ("a User-Agent with CR/LF", 'network: {user_agent: "Newswatch\\r\\nX: y"}',
     "network.user_agent", "one line of printable ASCII"),
    ("a User-Agent that is a number", "network: {user_agent: 42}", "network.user_agent",
     "printable ASCII"),
    ("a feed URL with CR/LF", 'feeds: [{name: a, url: "http://a.example/f\\r\\nX: y"}]',
     "feeds[0].url", "http"),
    ("a NUL in seeds_dir", 'seeds_dir: "se\\0eds"', "seeds_dir", "control characters"),
    ("a list for a number", "network: {max_bytes: [1, 2]}", "network.max_bytes",
     "whole number"),
    ("a quoted 'yes' for a bool", "extract: {favor_precision: 'yes'}",
     "extract.favor_precision", "true or false"),
    ("a bool for a number", "dedupe: {shingle_size: true}", "dedupe.shingle_size",
     "whole number"),
    ("a number for a time zone", "timezone: 5", "timezone", "IANA"),
    ("a list for a time", "digest_time: [7]", "digest_time", "HH:MM"),
    ("a number for a section", "network: 5", "network", "mapping"),
    ("an empty poll_interval", "poll_interval:", "poll_interval", "duration"),
    ("nesting 10,000 deep", "variants: {Deep: " + "[" * 10_000 + "]" * 10_000 + "}", None,
     "nest"),
    ("nesting 60 deep", "variants: {Deep: " + "[" * 60 + "]" * 60 + "}", "variants",
     "nested deeper than 50 levels"),
    ("an alias bomb", None, "variants", "more than 100,000 values"),
    ("an alias that contains itself", "variants: {A: &a [x, *a]}", "variants", "contains it"),
]


def _edited(text: str | None, case: str) -> str:
    if case == "an alias bomb":
        return GOOD.replace("variants: {Place: [Damascus]}\n", _laughs())
    key = text.split(":", 1)[0]
    kept = [line for line in GOOD.splitlines(keepends=True)
            if not line.startswith(f"{key}:") and not (key == "feeds" and line.startswith("  -"))]
    return "".join(kept) + text + "\n"


@pytest.fixture
def good(tmp_path) -> Path:
    path = tmp_path / "watch.yaml"
    path.write_text(GOOD, encoding="utf-8")
    (tmp_path / "seeds").mkdir()
    return path


def _bad_env(tmp_path: Path) -> dict[str, str]:
    """No NEWSWATCH_MIN_POLL_INTERVAL: poll_interval's real minimum applies."""
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'newswatch.db'}",
            "NEWSWATCH_OUTPUT_DIR": str(tmp_path / "output")}


def test_the_good_config_is_good(good):
    load_settings(good)


@pytest.mark.parametrize("case,text,key,words", BAD_EDITS, ids=[c[0] for c in BAD_EDITS])
def test_a_bad_edit_is_a_config_error_naming_file_key_and_range(good, case, text, key, words):
    good.write_text(_edited(text, case), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(good)
    assert err.value.file == str(good) and words in err.value.reason
    assert err.value.key == key
    # one line, short enough to read in a log (the file and key come before it)
    assert "\n" not in str(err.value) and len(err.value.reason) < 400


@pytest.mark.parametrize("case,text,key,words", BAD_EDITS, ids=[c[0] for c in BAD_EDITS])
def test_check_config_exits_2_with_one_line(good, tmp_path, case, text, key, words):
    good.write_text(_edited(text, case), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "pipeline", "check-config", "--config",
                           str(good)], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **_bad_env(tmp_path)},
                          timeout=60)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(good) in lines[0] and words in lines[0]
    assert key is None or repr(key) in lines[0]


def test_a_file_that_is_not_utf8_is_refused(good):
    good.write_bytes(GOOD.encode("utf-8") + b"timezone: \xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_settings(good)


def test_the_reload_keeps_the_last_good_settings_on_every_bad_edit(good, tmp_path, caplog):
    env = _bad_env(tmp_path)
    watcher = service_mod.ConfigWatcher(good, env)
    settings = load_settings(good, env=env)
    pipeline = open_pipeline(settings, storage.open_store(settings.database_url))
    svc = service_mod.Service(watcher, settings, pipeline)
    try:
        mtime = good.stat().st_mtime_ns
        edits = [_edited(text, case).encode("utf-8") for case, text, _, _ in BAD_EDITS]
        for n, body in enumerate([*edits, GOOD.encode() + b"timezone: \xff\n"], 1):
            good.write_bytes(body)
            os.utime(good, ns=(mtime + n * 10**9, mtime + n * 10**9))   # a distinct stamp
            with caplog.at_level(logging.ERROR, logger="newswatch"):
                svc.apply_config_edits()
            assert svc.settings is settings, body[:200]
        rejected = [r for r in caplog.records if "invalid edit ignored" in r.getMessage()]
        assert len(rejected) == len(BAD_EDITS) + 1
        assert not [r for r in caplog.records if r.exc_info]       # no loader crashed
        # and a good edit after all that is applied
        good.write_text(GOOD.replace("poll_interval: 30m", "poll_interval: 5m"), "utf-8")
        os.utime(good, ns=(mtime + 10**12, mtime + 10**12))
        svc.apply_config_edits()
        assert svc.settings.poll_interval.total_seconds() == 300
    finally:
        pipeline.close()
        svc.store.close()


def test_a_loader_bug_keeps_the_last_good_config_too(good, tmp_path, monkeypatch, caplog):
    watcher = service_mod.ConfigWatcher(good, _bad_env(tmp_path))
    good.write_text(GOOD.replace("30m", "45m"), "utf-8")
    os.utime(good, ns=(10**18, 10**18))

    def broken(*args, **kw):
        raise TypeError("a bug in the loader")

    monkeypatch.setattr(service_mod, "load_settings", broken)
    with caplog.at_level(logging.ERROR, logger="newswatch"):
        assert watcher.changed_settings() is None
        assert watcher.changed_settings() is None          # logged once, not every cycle
    assert caplog.text.count("could not load the edit") == 1
