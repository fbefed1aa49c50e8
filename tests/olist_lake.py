"""The Olist lakehouse, built once per test run (the session fixture `olist_lake` in conftest.py) for every
test that needs it: the real-data checks (test_real_data) and the analysts' tests (catalog, notebooks,
reading without Spark, training set), which need a lakehouse with two years of history (default labels
need 180 days of hindsight).

The sample goes through `tradelake adapt olist` (in this process: the CLI gets the test session), then
the whole pipeline runs over every day it spans."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from conftest import SHARED_DATA, settings_for

from tradelake.config import Settings

OLIST = SHARED_DATA / "olist_sample"


def build(spark, root: Path) -> Settings:
    from tradelake import cli, runner
    from tradelake.adapters.olist import read_olist_landing

    s = settings_for(root)
    assert cli.main(["adapt", "olist", "--source", str(OLIST), "--landing", s.landing_root, "--env", "test"]) == 0
    landed = read_olist_landing(spark, s.landing_root)
    assert landed["source"] == str(OLIST)
    runner.run_all(spark, s, dt.date.fromisoformat(landed["first"]), dt.date.fromisoformat(landed["last"]))
    return s
