"""The digest email as a mail client shows it: the HTML part that reached the
SMTP server, opened in headless Chromium with every request caught by a trap
proxy. Nothing loads; a control page with one remote image proves the trap
catches what a page asks for. `.ci/run` installs Chromium and sets
NEWSWATCH_REQUIRE_CHROMIUM=1 so that CI fails rather than skips here; the
screenshot of a real day is bench/email_screenshot.py's."""

from __future__ import annotations

import importlib.util
import os
import struct
import sys
from datetime import timedelta

import pytest
from conftest import ROOT
from receivers import SMTPReceiver
from test_deliver import DAY, DIGEST_TIME, fill, settings_for

import storage
from pipeline import deliver, digest


def _bench():
    sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location("email_screenshot",
                                                  ROOT / "bench" / "email_screenshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _png_size(path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_the_email_renders_in_chromium_and_loads_nothing(tmp_path, env):
    bench = _bench()
    if not bench.chromium():
        if os.environ.get("NEWSWATCH_REQUIRE_CHROMIUM"):
            pytest.fail("chromium is not installed")
        pytest.skip("chromium is not installed")
    smtp = SMTPReceiver()
    store = storage.open_store(env["DATABASE_URL"])
    try:
        settings = settings_for(tmp_path, env, {"digest": [smtp.url()]})
        fill(store)
        digest.write_day(settings, store, DAY, now=DIGEST_TIME)
        deliver.after_digest(settings, store, DAY, now=DIGEST_TIME + timedelta(minutes=1))
        page = tmp_path / "email.html"
        page.write_text(smtp.wait_for(1)[0].get_body(("html",)).get_content(), "utf-8")
    finally:
        store.close()
        smtp.stop()
    assert bench.render(page, tmp_path / "email.png", height=1200) == []
    assert _png_size(tmp_path / "email.png") == (820, 1200)
    control = tmp_path / "control.html"
    control.write_text('<p>x</p><img src="http://remote.example/pixel.png">', "utf-8")
    assert bench.render(control, tmp_path / "control.png", height=200) == [
        "http://remote.example/pixel.png"]
