"""Config: defaults overlaid by the user's file, validated with errors that
name the file, the key and what is allowed."""

from datetime import time, timedelta
from pathlib import Path

import pytest

import yaml

from conftest import ROOT, write_config
from pipeline import safeyaml
from pipeline.config import (DEFAULTS_FILE, MIN_POLL_ENV, DedupeConfig, ExtractConfig,
                             LimitsConfig, NetworkConfig, load_settings, parse_duration,
                             render_defaults, schema, settings_from_mapping)
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


# --- one schema: defaults, types, ranges and help declared once ----------------

def test_defaults_yaml_is_generated_from_the_schema():
    committed = DEFAULTS_FILE.read_text(encoding="utf-8")
    assert committed == render_defaults(), (
        "pipeline/defaults.yaml differs from the schema in pipeline/config.py; regenerate it: "
        ".venv/bin/python -m pipeline.config > pipeline/defaults.yaml")


def test_defaults_yaml_loads_back_to_the_schema_defaults(tmp_path):
    rules_only = "feeds: [{url: 'http://example.org/f'}]\ntopic: {any: [prison]}\n"
    path = _write(tmp_path, DEFAULTS_FILE.read_text("utf-8") + rules_only)
    loaded, bare = load_settings(path), load_settings(_write(tmp_path, rules_only))
    assert loaded == bare
    assert loaded.network == NetworkConfig() and loaded.dedupe == DedupeConfig()
    assert loaded.extract == ExtractConfig() and loaded.limits == LimitsConfig()
    assert loaded.poll_interval == timedelta(minutes=30) and loaded.timezone == "UTC"


def test_every_key_has_help_and_every_number_a_range():
    for name, spec in _all_keys():
        assert spec.help.strip(), name
        if spec.kind in ("int", "float", "seconds", "duration"):
            assert spec.low is not None and spec.high is not None, name


def test_the_keys_other_helpers_use_are_declared():
    net, limits = NetworkConfig(), LimitsConfig()
    assert (net.max_new_articles_per_feed, net.retry_attempts, net.retry_base) == (200, 4, 600)
    assert (limits.max_title_chars, limits.max_summary_chars,
            limits.max_matches_per_rule) == (1000, 20_000, 50)


HOSTILE = [float("nan"), float("inf"), -float("inf"), 10 ** 400, -(10 ** 400), -1, 0, 0.5,
           1e300, "", " ", "x", "1e400", "9" * 500 + "d", "\r\n", "a\x00b", "ü" * 2000,
           [], [1], {}, {"a": 1}, None, True, False, "30m", "07:00", 420, "UTC"]


def _all_keys():
    for name, spec in schema().items():
        if isinstance(spec, dict):
            yield from ((f"{name}.{sub}", s) for sub, s in spec.items())
        else:
            yield name, spec


@pytest.mark.parametrize("name", [n for n, _ in _all_keys()])
def test_any_value_at_any_key_is_accepted_or_a_config_error(name):
    """Whatever YAML can hand over never escapes as another exception."""
    base = {"feeds": [{"url": "http://example.org/f"}], "topic": {"any": ["prison"]}}
    for value in HOSTILE:
        section, _, sub = name.partition(".")
        raw = {**base, section: {sub: value}} if sub else {**base, name: value}
        try:
            settings_from_mapping(raw, file="f.yaml")
        except ConfigError as exc:
            assert exc.key == name or exc.key.startswith(section + "."), (exc.key, value)
            assert exc.file == "f.yaml" and "\n" not in str(exc)


def test_min_poll_interval_comes_only_from_the_environment(tmp_path):
    path = write_config(tmp_path, [{"name": "a", "url": "http://example.org/f"}],
                        poll_interval="5s")
    with pytest.raises(ConfigError, match="1m to 366d"):
        load_settings(path)
    assert load_settings(path, env={MIN_POLL_ENV: "1s"}).poll_interval == timedelta(seconds=5)
    for bad in ("0.5s", "2m", "soon"):        # never below 1s, and it only lowers the minimum
        with pytest.raises(ConfigError) as err:
            load_settings(path, env={MIN_POLL_ENV: bad})
        assert err.value.key == MIN_POLL_ENV


def test_cross_key_limits(tmp_path):
    for section, values, key in [("network", {"max_connections": 2, "max_per_host": 4},
                                  "network.max_per_host"),
                                 ("network", {"backoff_base": "2d", "backoff_max": "1d"},
                                  "network.backoff_base"),
                                 ("dedupe", {"lsh_keys": 8, "min_shared_keys": 9},
                                  "dedupe.min_shared_keys")]:
        path = write_config(tmp_path, [{"name": "a", "url": "http://example.org/f"}],
                            **{section: values})
        with pytest.raises(ConfigError) as err:
            load_settings(path)
        assert err.value.key == key and "allowed: at most" in err.value.reason


# --- the YAML itself is bounded -------------------------------------------------

def test_the_pure_python_loader_reads_the_same_and_is_bounded_too(tmp_path):
    watch = ROOT / "config" / "watch.yaml"
    assert safeyaml.load_mapping(watch, safeyaml._BoundedPyLoader) == \
        safeyaml.load_mapping(watch)
    deep = _write(tmp_path, "topic: " + "[" * 10_000 + "]" * 10_000 + "\n")
    with pytest.raises(ConfigError, match="nested deeper than 50"):   # at once, no RecursionError
        safeyaml.load_mapping(deep, safeyaml._BoundedPyLoader)
    block = "".join(" " * i + "- \n" for i in range(200))
    with pytest.raises(ConfigError, match="nested deeper than 50"):
        safeyaml.load_mapping(_write(tmp_path, "topic:\n" + block), safeyaml._BoundedPyLoader)


def test_a_real_config_is_far_from_the_bounds():
    doc = yaml.compose((ROOT / "config" / "watch.yaml").read_text("utf-8"), yaml.SafeLoader)
    measured: dict = {}
    values = sum(safeyaml._measure(v, measured, None, "f") for _, v in doc.value)
    depth = 1 + max(d for d, _ in measured.values())
    assert depth * 4 < safeyaml.MAX_DEPTH and values * 20 < safeyaml.MAX_VALUES


def test_a_huge_file_is_refused_before_parsing(tmp_path):
    path = _write(tmp_path, "# " + "x" * safeyaml.MAX_BYTES + "\n")
    with pytest.raises(ConfigError, match="larger than"):
        load_settings(path)
