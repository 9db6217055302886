"""Delivery hooked up: the service sends a cycle's alerts right after the cycle
and the digest once it is written; the command line's ``once``, ``digest
--send``, ``deliveries`` and ``notify-test``; and the outbox under SIGKILL
at random moments (bench/deliver_bench.py's run, here with 5 kills)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from datetime import datetime, timezone

from conftest import ROOT, write_config
from newsweb import page_around, rss
from deliver_support import hooks, smtp  # noqa: F401  (the receivers as fixtures)

import storage
from pipeline import service as service_mod
from pipeline.config import load_settings
from pipeline.cycle import open_pipeline

SEDNAYA_REPORT = [
    "Former detainees of Sednaya prison described to investigators on Monday how they were "
    "held for years in underground cells north of Damascus.",
    "Relatives of people held in Syrian prisons said they still had no word of their sons and "
    "asked the new authorities to open every file the prison administration kept.",
    "Lawyers who document enforced disappearance said the lists found so far were incomplete "
    "and urged families to register their missing relatives with the commission.",
]


def publish(web) -> str:
    title = "Sednaya survivors describe the underground cells"
    web.add("/a/1", page_around(title, SEDNAYA_REPORT))
    return web.add("/feed.xml", rss("wire", [{"title": title, "link": web.url("/a/1")}]),
                   content_type="application/rss+xml")


def test_the_service_delivers_after_each_cycle_and_after_the_digest(web, env, tmp_path,
                                                                    smtp, hooks):
    config = write_config(tmp_path, [{"name": "wire", "url": publish(web)}],
                          poll_interval="1h", digest_time="00:00",
                          delivery={"alerts": [hooks.url()], "digest": [smtp.url()]})
    settings = load_settings(config, env=env)
    pipeline = open_pipeline(settings, storage.open_store(settings.database_url))
    svc = service_mod.Service(service_mod.ConfigWatcher(config, env), settings, pipeline)
    try:
        svc.poll()       # a cycle, its alert; then the day's digest is due (00:00 has passed)
        (alert,) = hooks.wait_for(1)
        assert alert.title == ("Newswatch alert (Sednaya): Sednaya survivors describe the "
                               "underground cells")
        (mail,) = smtp.wait_for(1)
        today = datetime.now(settings.tz).date().isoformat()
        assert mail["Subject"].startswith(f"Newswatch digest {today}:")
        assert (settings.output_dir / "feeds" / "all.atom").exists()
        svc.poll()       # nothing new: nothing sent again
        assert len(hooks.hooks) == 1 and len(smtp.messages) == 1
    finally:
        pipeline.close()
        pipeline.store.close()


def newswatch(*args, env, cwd):
    return subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True,
                          text=True, env={**env, "PATH": "/usr/bin:/bin"}, cwd=cwd, timeout=120)


def test_the_commands_send_list_and_test_channels(web, env, tmp_path, smtp, hooks):
    token = "tok-5a4b3c2d1e"
    env = {**env, "HOOK_TOKEN": token}
    config = write_config(tmp_path, [{"name": "wire", "url": publish(web)}],
                          delivery={"alerts": [hooks.url("/${HOOK_TOKEN}")],
                                    "digest": [smtp.url()]})
    once = newswatch("once", "--config", str(config), env=env, cwd=tmp_path)
    assert once.returncode == 0, once.stderr
    assert once.stdout.splitlines()[-1] == "deliver: 1 message sent, 0 failed"
    assert hooks.wait_for(1)[0].path == f"/{token}"

    day = datetime.now(timezone.utc).date().isoformat()
    for attempt in (1, 2):          # --send sends again, even to a channel that had it
        sent = newswatch("digest", "--config", str(config), "--date", day, "--send", env=env,
                         cwd=tmp_path)
        assert sent.returncode == 0, sent.stderr
        assert f"sent digest {day} to mailto://127.0.0.1:{smtp.port}/***" in sent.stdout
        assert len(smtp.wait_for(attempt)) == attempt

    listed = newswatch("deliveries", "--config", str(config), env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0] == "outbox: 2 sent, 0 pending, 0 failed"
    assert any(l.startswith("sent ") and "alert: Sednaya survivors" in l for l in lines)
    assert any(l.startswith("sent ") and f"digest {day}" in l for l in lines)

    dead = write_config(tmp_path, [{"name": "wire", "url": publish(web)}],
                        delivery={"alerts": [hooks.url("/${HOOK_TOKEN}"),
                                             "json://127.0.0.1:9/nobody-listens"]})
    tried = newswatch("notify-test", "--config", str(dead), env=env, cwd=tmp_path)
    assert tried.returncode == 1
    ok, failed = tried.stdout.splitlines()
    assert ok.startswith("ok     json://127.0.0.1:") and "(all alerts)" in ok
    assert failed.startswith("FAILED json://127.0.0.1:9/***") and "onnection" in failed
    assert hooks.wait_for(2)[1].title == "Newswatch test message"
    everything = once.stdout + once.stderr + sent.stdout + listed.stdout + tried.stdout
    assert token not in everything and "nobody-listens" not in everything


def _bench():
    spec = importlib.util.spec_from_file_location("deliver_bench",
                                                  ROOT / "bench" / "deliver_bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sigkill_at_random_moments_loses_nothing_and_repeats_at_most_the_one_in_flight(
        tmp_path):
    # the kill points and delays come from a fixed seed; where in the sending each
    # kill lands still varies with the machine's timing, and the outcome must not
    run = _bench().sigkill_run(tmp_path, kills=5, messages=20, seed=14)
    assert run["kills"] == 5 and run["restarts"] == 5
    assert run["lost"] == []
    assert run["extra"] <= run["kills"]
    assert set(run["duplicates"]) <= set(run["in_flight"]), run
    assert run["resent_after"] == 0 and run["integrity"] == "ok"
