"""The reading room in a real browser: headless Chromium (Debian's package,
driven by Selenium through chromium-driver) over a database filled by one real
cycle from the replay data (tests/readingroom.py).

What a person sees: the briefing, a story, an Arabic search and the feeds
page load without a console error; Arabic titles run right to left; the
highlight sits on the searched word as the text spells it (بصيدنايا for
صيدنايا); a hostile feed title shows as text and runs nothing; and no request
leaves the reading room (the browser's own network log). Screenshots go to the
test's temporary folder.

``.ci/run`` installs chromium and chromium-driver and sets
NEWSWATCH_REQUIRE_BROWSER=1, so CI fails here rather than skipping.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from newsweb import start_newsweb
from readingroom import HOSTILE_TITLE, replay_room

import storage

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARABIC = re.compile("[\u0600-\u06ff]")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-dev-shm-usage", "--window-size=1200,1600", "--lang=en-GB"]


def _browser_or_skip():
    missing = [p for p in (CHROMIUM, DRIVER) if not os.path.exists(p)]
    try:
        from selenium import webdriver  # noqa: F401
    except ImportError:
        missing.append("the selenium package (pip install -e '.[test]')")
    if missing:
        message = ("Chromium is not installed: " + ", ".join(missing) +
                   " (apt-get install chromium chromium-driver; .ci/run does it)")
        if os.environ.get("NEWSWATCH_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    _browser_or_skip()
    web = start_newsweb()
    room = replay_room(tmp_path_factory.mktemp("room"), web)
    yield room
    room.close()
    web.server.shutdown()
    web.server.server_close()


@pytest.fixture(scope="module")
def browser(room, tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_AVOID_STATS", "true")   # Selenium Manager stays silent
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def shots(tmp_path) -> Path:
    return tmp_path


def visit(driver, room, path: str, shot: Path) -> None:
    """Open ``path``, save a screenshot, and check what every page must hold:
    no console message of level SEVERE (a CSP refusal, a failed load, a script
    error would be one) and no request to anywhere but the reading room."""
    driver.get_log("performance")                     # forget the previous page
    driver.get_log("browser")
    driver.get(room.url + path)
    driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 1000
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors
    requested = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requested.append(message["params"]["request"]["url"])
    assert requested, "the network log saw no request at all"
    # what could leave the machine; data:, chrome:// and chrome-untrusted:// (its new-tab
    # page, before the first navigation) are the browser's own UI
    # (the date input's calendar icon, the search box's clear button)
    own = ("data", "chrome", "chrome-untrusted")
    outside = [u for u in requested if urlsplit(u).scheme not in own
               and not u.startswith(room.url + "/")]
    assert outside == [], outside
    assert driver.execute_script("return document.scripts.length") == 0


def direction(driver, element) -> str:
    return driver.execute_script("return getComputedStyle(arguments[0]).direction", element)


def test_briefing_reads_right_to_left_and_runs_nothing(room, browser, shots):
    from selenium.webdriver.common.by import By

    visit(browser, room, "/", shots / "briefing.png")
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Briefing: ")
    titles = {h.text: h for h in browser.find_elements(By.CSS_SELECTOR, "article.report h4")}
    arabic = titles["الإفراج عن مئات المعتقلين بصيدنايا بعد سقوط النظام"]
    assert direction(browser, arabic) == "rtl"
    english = next(h for t, h in titles.items() if not ARABIC.search(t))
    assert direction(browser, english) == "ltr"
    # the hostile title is text on the page: no script ran, no image was made
    hostile = [h for t, h in titles.items() if "<script>" in t]
    assert hostile and hostile[0].text == HOSTILE_TITLE
    assert browser.title.startswith("Briefing") and "pwned" not in browser.title
    assert browser.execute_script("return document.images.length") == 0
    for link in browser.find_elements(By.CSS_SELECTOR, "a.out"):
        assert link.get_attribute("rel") == "noopener noreferrer nofollow"


def test_story_lists_its_reports_in_time_order(room, browser, shots):
    from selenium.webdriver.common.by import By

    stories = {}
    for item in storage.all_items(room.store):
        if item.status == "new" and item.story_key:
            stories.setdefault(item.story_key, []).append(item)
    assert stories, "the replay cycle grouped no story"
    key, followers = max(stories.items(), key=lambda kv: len(kv[1]))
    members = [storage.item_by_url(room.store, key), *followers]
    visit(browser, room, f"/story/{followers[0].id}", shots / "story.png")
    reports = browser.find_elements(By.CSS_SELECTOR, "ol.timeline > li h3")
    in_time_order = sorted(members, key=lambda i: (i.published or i.fetched_at, i.id))
    assert [r.text for r in reports] == [i.title for i in in_time_order]
    assert len(reports) >= 2


def test_arabic_search_marks_the_word_as_written(room, browser, shots):
    from selenium.webdriver.common.by import By

    visit(browser, room, "/search?q=" + quote("صيدنايا"), shots / "search-arabic.png")
    results = browser.find_elements(By.CSS_SELECTOR, "ol.results > li")
    titles = [r.find_element(By.TAG_NAME, "h3") for r in results]
    # every Arabic report is found, the one that writes it بصيدنايا too
    arabic = [t for t in titles if ARABIC.search(t.text)]
    assert len(arabic) == 3
    prefixed = next(t for t in arabic if "بصيدنايا" in t.text)
    assert direction(browser, prefixed) == "rtl"
    assert [m.text for m in prefixed.find_elements(By.TAG_NAME, "mark")] == ["بصيدنايا"]
    # the variant set: English reports of Sednaya are found by the Arabic word
    assert any("Sednaya" in t.text or "Saydnaya" in t.text for t in titles)
    marked = {m.text for r in results for m in r.find_elements(By.TAG_NAME, "mark")}
    assert marked and all(w.strip("'’s").lower() in {"sednaya", "saydnaya", "saidnaya"}
                          or "صيدنايا" in w for w in marked), marked


def test_hamza_spelling_does_not_matter(room, browser, shots):
    from selenium.webdriver.common.by import By

    visit(browser, room, "/search?q=" + quote("أحمد"), shots / "search-hamza.png")
    (result,) = browser.find_elements(By.CSS_SELECTOR, "ol.results > li")
    marks = [m.text for m in result.find_elements(By.TAG_NAME, "mark")]
    assert "أحمد" in marks and "احمد" in marks       # title with hamza, text without


def test_feeds_page_shows_the_dead_feed(room, browser, shots):
    from selenium.webdriver.common.by import By

    visit(browser, room, "/feeds", shots / "feeds.png")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.feeds tbody tr")
    assert len(rows) == len(room.settings.feeds)
    dead = next(r for r in rows if r.text.startswith("Dead feed"))
    assert "404" in dead.text and "fail" in dead.get_attribute("class")
    assert any(r.text.startswith("Hostile <b>feed</b>") for r in rows)
