"""Seeds are not silent: a seeds_dir that is missing or holds no seed is a warning
at start-up (`once` and the service), and a seed file that cannot be read is
logged with its path and skipped while the others are used."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import ROOT, write_config
from pipeline.dedupe import check_seeds, load_seeds

SEED_TEXT = "Prisoners held in Sednaya were released on Sunday, their families said."


def _cli_env(env: dict) -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), **env}


def test_a_missing_or_empty_seeds_dir_is_a_warning(tmp_path, caplog):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README.md").write_text("not a seed", "utf-8")
    with caplog.at_level(logging.WARNING, logger="newswatch"):
        assert check_seeds(tmp_path / "nowhere") == 0
        assert check_seeds(tmp_path / "empty") == 0
    missing, empty = [r.getMessage() for r in caplog.records]
    assert "does not exist" in missing and str(tmp_path / "nowhere") in missing
    assert "no seed report" in empty and str(tmp_path / "empty") in empty
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="newswatch"):
        assert check_seeds(ROOT / "seeds") == 1
    assert caplog.records == []


def test_unreadable_seed_files_are_logged_and_skipped(tmp_path, caplog):
    (tmp_path / "good.txt").write_text(SEED_TEXT, "utf-8")
    (tmp_path / "cp1256.txt").write_bytes("سجن صيدنايا".encode("cp1256"))   # not UTF-8
    (tmp_path / "folder.txt").mkdir()                     # named like a seed; even root can't
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "gone.txt")
    with caplog.at_level(logging.WARNING, logger="newswatch"):
        seeds = load_seeds(tmp_path)
    assert [s.name for s in seeds] == ["good.txt"] and seeds[0].text == SEED_TEXT
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for name in ("cp1256.txt", "folder.txt", "dangling.txt"):
        assert str(tmp_path / name) in logged
    assert "not UTF-8" in logged and logged.count("skipped") == 3


def test_once_warns_at_start_up_when_there_are_no_seeds(tmp_path, env):
    cfg = write_config(tmp_path, [{"name": "a", "url": "http://127.0.0.1:9/f"}],
                       seeds_dir=str(tmp_path / "no-seeds"))
    done = subprocess.run([sys.executable, "-m", "pipeline", "once", "--config", str(cfg)],
                          cwd=tmp_path, env=_cli_env(env), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"seeds: the folder {tmp_path / 'no-seeds'} does not exist" in done.stdout


def test_the_service_warns_at_start_up_when_there_are_no_seeds(tmp_path, env):
    (tmp_path / "empty-seeds").mkdir()
    cfg = write_config(tmp_path, [{"name": "a", "url": "http://127.0.0.1:9/f"}],
                       seeds_dir=str(tmp_path / "empty-seeds"), digest_time="23:59")
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "run", "--config", str(cfg)],
                            cwd=tmp_path, env={**_cli_env(env), "PYTHONUNBUFFERED": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watchdog = threading.Timer(120, proc.kill)        # a hung service fails, not hangs, the test
    watchdog.start()
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "service: started" in line:
                break
        assert any(f"no seed report (*.txt) in {tmp_path / 'empty-seeds'}" in ln
                   for ln in lines), "".join(lines)
    finally:
        watchdog.cancel()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)


@pytest.mark.parametrize("name", ["x" * 300, "bad\x00name"])
def test_a_seeds_dir_the_file_system_refuses_is_missing_not_a_crash(tmp_path, name, caplog):
    with caplog.at_level(logging.WARNING, logger="newswatch"):
        assert load_seeds(Path(name)) == [] and check_seeds(Path(name)) == 0
    assert "does not exist" in caplog.text
