"""The Olist lakehouse, built once per test run for every module that needs it: the real-data checks
(test_real_data) and the analysts' tests (catalog, notebooks, reading without Spark), which need a
lakehouse with two years of history (default labels need 180 days of hindsight).

The sample goes through `tradelake adapt olist` (in this process: the CLI gets the test session), then
the whole pipeline runs over every day it spans."""
from __future__ import annotations

import datetime as dt

import pytest

from conftest import SHARED_DATA, settings_for
from tradelake.config import Settings

OLIST = SHARED_DATA / "olist_sample"
SKIP = pytest.mark.skipif(not OLIST.is_dir(), reason=f"real data not found at {OLIST} (../shared/data is absent)")
_built: dict[str, Settings] = {}


def olist_lake(spark, tmp_path_factory) -> Settings:
    if "lake" not in _built:
        from tradelake import cli, runner
        from tradelake.adapters.olist import read_olist_landing

        s = settings_for(tmp_path_factory.mktemp("olist"))
        assert cli.main(["adapt", "olist", "--source", str(OLIST), "--landing", s.landing_root, "--env", "test"]) == 0
        landed = read_olist_landing(spark, s.landing_root)
        assert landed["source"] == str(OLIST)
        runner.run_all(spark, s, dt.date.fromisoformat(landed["first"]), dt.date.fromisoformat(landed["last"]))
        _built["lake"] = s
    return _built["lake"]
