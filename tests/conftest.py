"""Shared fixtures: a local news web, a fresh database and output folder per test,
and a small config writer."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))   # tests/ helpers: newsweb, faultserver

from newsweb import start_newsweb  # noqa: E402


@pytest.fixture
def web():
    web = start_newsweb()
    yield web
    web.close()


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """A fresh SQLite file and output folder for this test only; polls as often as
    every second (the service tests watch several cycles)."""
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'newswatch.db'}",
            "NEWSWATCH_OUTPUT_DIR": str(tmp_path / "output"),
            "NEWSWATCH_MIN_POLL_INTERVAL": "1s"}


TEST_TOPIC = {"any": ["prison*", "Syria*", "Sednaya", "detain*", "Taliban"]}
TEST_ALERTS = [
    {"name": "Sednaya", "any": ["Sednaya", "Saydnaya", "Saidnaya", "صيدنايا"]},
    {"name": "Prisoners released", "any": ["prisoners freed", "released", "freed"]},
    {"name": "Torture", "any": ["tortur*"]},
]


def write_config(folder: Path, feeds: list[dict], **overrides) -> Path:
    """A config for tests: local servers allowed, short deadlines, one worker."""
    doc = {
        "feeds": feeds,
        "topic": TEST_TOPIC,
        "alerts": TEST_ALERTS,
        "network": {"allow_private_addresses": True, "deadline": 10, "connect_timeout": 2,
                    "read_timeout": 5, "backoff_base": 60,
                    # the tests written for a fixed interval; tests of adaptive polling turn it on
                    "poll_adaptive": False},
        "extract": {"workers": 1},
        "seeds_dir": str(ROOT / "seeds"),
        "poll_interval": "30m",
        "timezone": "UTC",
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(doc.get(key), dict):
            doc[key] = {**doc[key], **value}
        else:
            doc[key] = value
    path = folder / "watch.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path
