"""One Spark session (with Delta) for the whole run; each test gets its own lakehouse folder."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

from tradelake.config import Settings, load_settings  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def settings_for(root: Path, *overrides: str) -> Settings:
    """Test settings with the lakehouse and landing zone under root."""
    return load_settings(
        "test",
        overrides=[f"paths.lakehouse={root}/lakehouse", f"paths.landing={root}/landing", *overrides],
    )


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from tradelake.spark import build_session

    session = build_session(settings_for(tmp_path_factory.mktemp("session")))
    yield session
    session.stop()


@pytest.fixture
def lake(tmp_path) -> Settings:
    return settings_for(tmp_path)
