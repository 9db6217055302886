"""Config: defaults overlaid by the user's file, validated with errors that
name the file, the key and what is allowed."""

from datetime import time, timedelta
from pathlib import Path

import pytest

from conftest import ROOT, write_config
from pipeline.config import load_settings, parse_duration
from pipeline.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "watch.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_default_config_is_valid_and_real():
    s = load_settings(ROOT / "config" / "watch.yaml")
    assert len(s.feeds) >= 10
    assert all(f.url.startswith(("http://", "https://")) for f in s.feeds)
    assert s.network.allow_private_addresses is False
    assert s.alerts and s.topic.name == "topic"


def test_user_file_overrides_only_what_it_sets(tmp_path):
    path = write_config(tmp_path, [{"name": "a", "url": "http://example.org/feed"}],
                        network={"deadline": 7})
    s = load_settings(path)
    assert s.network.deadline == 7.0
    assert s.network.max_redirects == 5          # from the package defaults
    assert s.dedupe.shingle_size > 0


def test_env_sets_database_and_output(tmp_path):
    path = write_config(tmp_path, [{"name": "a", "url": "http://example.org/feed"}])
    s = load_settings(path, env={"DATABASE_URL": "sqlite:///x.db",
                                 "NEWSWATCH_OUTPUT_DIR": "/tmp/out"})
    assert s.database_url == "sqlite:///x.db" and str(s.output_dir) == "/tmp/out"


@pytest.mark.parametrize("value,seconds", [("30m", 1800), ("45s", 45), ("2h", 7200),
                                           ("1d", 86400), (90, 90), ("1.5s", 1.5)])
def test_durations(value, seconds):
    assert parse_duration(value, key="poll_interval") == timedelta(seconds=seconds)


def test_unquoted_digest_time_is_read_as_a_time(tmp_path):
    # YAML 1.1 turns an unquoted 07:30 into the number 450
    path = write_config(tmp_path, [{"name": "a", "url": "http://example.org/f"}])
    text = path.read_text() + "digest_time: 07:30\n"
    s = load_settings(_write(tmp_path, text))
    assert s.digest_time == time(7, 30)


@pytest.mark.parametrize("extra,key,words", [
    ("poll_interval: soon\n", "poll_interval", "duration"),
    ("digest_time: '25:00'\n", "digest_time", "HH:MM"),
    ("timezone: Mars/Olympus\n", "timezone", "IANA"),
    ("network: {max_bytes: lots}\n", "network.max_bytes", "number"),
    ("network: {allow_private_addresses: maybe}\n", "network.allow_private_addresses", "true or false"),
    ("network: {colour: red}\n", "network.colour", "allowed"),
    ("surprise: 1\n", "surprise", "allowed keys"),
])
def test_invalid_values_name_the_key(tmp_path, extra, key, words):
    path = write_config(tmp_path, [{"name": "a", "url": "http://example.org/f"}])
    bad = _write(tmp_path, path.read_text() + extra)
    with pytest.raises(ConfigError) as err:
        load_settings(bad)
    msg = str(err.value)
    assert str(bad) in msg and repr(key) in msg and words in msg


def test_feed_errors(tmp_path):
    for feeds, key in [([], "feeds"), ([{"name": "x", "url": "ftp://a/b"}], "feeds[0].url"),
                       ([{"name": "x", "url": "http://a/b"}, {"url": "http://a/b"}],
                        "feeds[1].url")]:
        path = write_config(tmp_path, feeds)
        with pytest.raises(ConfigError) as err:
            load_settings(path)
        assert repr(key) in str(err.value)


def test_broken_yaml_says_where(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_settings(_write(tmp_path, "feeds: [\n  - name: a\n  url: :\n"))
    assert "line" in str(err.value) and "watch.yaml" in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.yaml")
