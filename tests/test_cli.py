"""The command line: every command has --help, errors map to messages and exit
codes, and the commands the acceptance checks use work end to end."""

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

import storage
from conftest import ROOT, write_config
from newsweb import article_pages, rss
from pipeline.cli import build_parser, main

COMMANDS = ["once", "run", "digest", "export", "check-config", "health", "rematch",
            "test-rules", "deliveries", "notify-test", "people", "serve", "feeds",
            "migrate"]


def newswatch(*args, env, cwd):
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True,
                          text=True, env={**env, "PATH": "/usr/bin:/bin"}, cwd=cwd, timeout=120)


def test_parser_knows_every_command():
    choices = build_parser()._subparsers._group_actions[0].choices
    assert sorted(choices) == sorted(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"], env={})
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "--config" in out and command in out


def test_invalid_config_exits_2_naming_file_and_key(tmp_path, env):
    cfg = write_config(tmp_path, [{"name": "a", "url": "http://127.0.0.1:9/feed"}],
                       poll_interval="often")
    done = newswatch("once", "--config", str(cfg), env=env, cwd=tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert str(cfg) in line and "'poll_interval'" in line
    assert newswatch("check-config", "--config", str(cfg), env=env, cwd=tmp_path).returncode == 2


def test_check_config_accepts_the_default_config(tmp_path, env):
    done = newswatch("check-config", "--config", str(ROOT / "config" / "watch.yaml"),
                     env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "ok" in done.stdout


def test_once_export_digest_health_rematch(tmp_path, env, web):
    page = next(iter(v for k, v in article_pages().items() if k.startswith("a1fca19b884e")))
    web.add("/a/1", page)
    web.add("/feed.xml", rss("F", [{"title": "Taliban prisoners flown to Qatar",
                                    "link": web.url("/a/1")}]),
            content_type="application/rss+xml")
    cfg = write_config(tmp_path, [{"name": "Local", "url": web.url("/feed.xml")},
                                  {"name": "Dead", "url": "http://127.0.0.1:9/none.xml"}])
    once = newswatch("once", "--config", str(cfg), env=env, cwd=tmp_path)
    assert once.returncode == 0, once.stderr
    summary = once.stdout.strip().splitlines()[-1]
    assert summary.startswith("cycle: feeds 2 polled, 1 failed") and "1 new" in summary

    exported = newswatch("export", "--config", str(cfg), env=env, cwd=tmp_path)
    (row,) = [json.loads(l) for l in exported.stdout.splitlines()]
    assert {"url", "canonical_url", "title", "source", "status", "duplicate_of", "alerts",
            "published", "fetched_at"} <= set(row)
    assert row["status"] == "new" and row["source"] == "Local"

    day = datetime.now(timezone.utc).date().isoformat()
    dig = newswatch("digest", "--config", str(cfg), "--date", day, env=env, cwd=tmp_path)
    assert dig.returncode == 0, dig.stderr
    out = tmp_path / "output" / "digests"
    assert {p.name for p in out.iterdir()} >= {f"{day}.md", f"{day}.html", f"{day}.json",
                                               "latest.md", "latest.html", "latest.json"}

    health = newswatch("health", "--config", str(cfg), env=env, cwd=tmp_path)
    assert health.returncode == 0 and health.stdout.startswith("healthy")

    # a keyword added after the fact: rematch gives yesterday's news the new alert
    cfg = write_config(tmp_path, [{"name": "Local", "url": web.url("/feed.xml")}],
                       alerts=[{"name": "Qatar", "any": ["Qatar"]}])
    re_ = newswatch("rematch", "--config", str(cfg), "--since", "1d", env=env, cwd=tmp_path)
    assert re_.returncode == 0 and "1 alerts added" in re_.stdout
    rows = newswatch("export", "--config", str(cfg), env=env, cwd=tmp_path).stdout
    assert json.loads(rows)["alerts"] == ["Qatar"]


def test_health_flips_when_cycles_stop(tmp_path, env):
    cfg = write_config(tmp_path, [{"name": "a", "url": "http://127.0.0.1:9/f"}],
                       poll_interval="1m")
    assert newswatch("health", "--config", str(cfg), env=env, cwd=tmp_path).returncode == 1
    store = storage.open_store(env["DATABASE_URL"])
    now = datetime.now(timezone.utc)
    storage.record_cycle(store, now - timedelta(minutes=5), now - timedelta(minutes=3), "x")
    stale = newswatch("health", "--config", str(cfg), env=env, cwd=tmp_path)
    assert stale.returncode == 1 and "unhealthy" in stale.stdout
    storage.record_cycle(store, now - timedelta(seconds=20), now - timedelta(seconds=10), "x")
    assert newswatch("health", "--config", str(cfg), env=env, cwd=tmp_path).returncode == 0


def test_test_rules_explains(tmp_path, env):
    cfg = write_config(tmp_path, [{"name": "a", "url": "http://127.0.0.1:9/f"}])
    done = newswatch("test-rules", "--config", str(cfg), "Prisoners freed from Saydnaya",
                     env=env, cwd=tmp_path)
    assert done.returncode == 0
    assert "MATCH Sednaya" in done.stdout and "MATCH topic" in done.stdout


def test_python_dash_m_and_console_script_agree(tmp_path, env):
    exe = ROOT / ".venv" / "bin" / "newswatch"
    if not exe.exists():
        pytest.skip("console script not installed in .venv")
    a = subprocess.run([str(exe), "--help"], capture_output=True, text=True)
    b = newswatch("--help", env=env, cwd=tmp_path)
    assert a.returncode == b.returncode == 0 and a.stdout == b.stdout
