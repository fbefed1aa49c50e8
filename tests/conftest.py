"""One Spark session (with Delta) per test process; each test gets its own lakehouse folder; the costly
lakehouses are built once per run and shared by every test that can read them.

The suite runs on pytest-xdist workers (`make test`: two, `--dist loadgroup`). A session-scoped fixture
exists once per worker, so every test that uses a shared lakehouse must run on the worker that built it:
`pytest_collection_modifyitems` below puts its file in that lakehouse's xdist group, found from the
fixtures the tests use (nothing to keep by hand). Every other file is a group of its own, so that its
module-scoped fixtures are built once too. The groups are queued longest first (by the last run's times, kept in
pytest's cache), so that the two workers finish together (run with `--no-loadscope-reorder`, which keeps this
order)."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

from tradelake.config import Settings, load_settings

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# CI (.ci/run) sets this: there, a missing ../shared is a failure, not a skip.
REQUIRE_SHARED = "TRADELAKE_REQUIRE_SHARED"

# fixture -> the xdist group of every test that uses it, costliest first (the order work starts in).
SHARED_LAKEHOUSES = {
    "orchestration_landing": "orchestration",  # Airflow's 14 spark-submits, maintenance, the standalone cluster
    "olist_lake": "olist",                # ~780 days of real data through the whole pipeline
    "generated_lake": "generated",        # 420 generated days through the whole pipeline
}


def settings_for(root: Path, *overrides: str) -> Settings:
    """Test settings with the lakehouse and landing zone under root."""
    return load_settings(
        "test",
        overrides=[f"paths.lakehouse={root}/lakehouse", f"paths.landing={root}/landing", *overrides],
    )


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """A file goes whole into the group of the first shared lakehouse one of its tests uses (its module
    fixtures are then built once), else into a group of its own. Order: the longest groups first (below);
    inside one, the tests that use its lakehouse first and the others last - xdist hands a worker its next
    group when two tests of the current one are left, so those two should be quick."""
    shared: dict = {}
    for item in items:
        group = next((g for f, g in SHARED_LAKEHOUSES.items() if f in item.fixturenames), None)
        if group is not None:
            shared.setdefault(item.path, group)
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(shared.get(item.path, item.path.name)))
    estimate = _group_seconds(config, items)
    first_seen: dict = {}
    for item in items:
        first_seen.setdefault(_group(item), len(first_seen))
    items.sort(key=lambda item: (-estimate[_group(item)], first_seen[_group(item)],
                                 not any(f in item.fixturenames for f in SHARED_LAKEHOUSES)))


# How long each group took in the last whole run with the same -m (pytest's cache, .pytest_cache/): the groups
# are queued longest first, so that the two workers finish together. Without a record (a fresh clone, as CI):
# the shared lakehouses in SHARED_LAKEHOUSES' order, then the files that build something of their own once
# (a module-scoped fixture), then the rest.
GROUP_SECONDS = "tradelake/group_seconds"


def _group_seconds(config, items) -> dict:
    cache = getattr(config, "cache", None)  # (absent with -p no:cacheprovider)
    recorded = cache.get(f"{GROUP_SECONDS}/{config.option.markexpr or 'all'}", {}) if cache else {}
    rank = {g: i for i, g in enumerate(SHARED_LAKEHOUSES.values())}
    estimate: dict = {}
    for item in items:
        g = _group(item)
        module_built = any(d.scope == "module" for defs in item._fixtureinfo.name2fixturedefs.values() for d in defs)
        guess = 10_000.0 - rank[g] if g in rank else (60.0 if module_built else 1.0)
        estimate[g] = max(estimate.get(g, 0.0), float(recorded.get(g, guess)))
    return estimate


_ran: dict = {}


def pytest_runtest_logreport(report):
    """(On xdist's controller, where every worker's reports arrive: node ids end in @group.)"""
    if "@" in report.nodeid:
        group = report.nodeid.rsplit("@", 1)[1]
        _ran[group] = _ran.get(group, 0.0) + report.duration


def pytest_sessionfinish(session):
    config = session.config
    whole = config.args_source == pytest.Config.ArgsSource.TESTPATHS and not config.option.keyword
    if _ran and whole and getattr(config, "cache", None) and not hasattr(config, "workerinput"):
        key = f"{GROUP_SECONDS}/{config.option.markexpr or 'all'}"
        config.cache.set(key, {**config.cache.get(key, {}), **{g: round(s, 1) for g, s in _ran.items()}})


def pytest_collection_finish(session):
    """On an xdist worker with --dist loadgroup, xdist must have put each group into its tests' node ids (how
    its scheduler sees groups); pytest 9.2 silently broke that (pytest-dev/pytest-xdist#1386), which would
    build every shared lakehouse once per worker. Stop instead."""
    if getattr(session.config.option, "loadgroup", False) and any("@" not in item.nodeid for item in session.items):
        raise pytest.UsageError("pytest-xdist did not apply the xdist_group marks (see pyproject.toml: pytest<9.2)")


def _group(item) -> str | None:
    mark = item.get_closest_marker("xdist_group")
    return mark.args[0] if mark and mark.args else None


@pytest.hookimpl(tryfirst=True)  # before any fixture is set up
def pytest_runtest_setup(item):
    if item.get_closest_marker("real_data") and not SHARED_DATA.is_dir():
        message = f"real data not found at {SHARED_DATA} (../shared/data is absent)"
        if os.environ.get(REQUIRE_SHARED):
            pytest.fail(f"{message}; {REQUIRE_SHARED} is set (CI): the real-data tests must run")
        pytest.skip(message)


# The tests' own session evaluates expressions interpreted, without generating Java for them (Spark's setting for
# its own tests): on rows by the dozen, generating and compiling a projection per task costs more than it saves
# (the gold features tests 134 s -> 113 s, a 10-day pipeline 214 s -> 173 s). With real volume it is the other way
# round: the Olist lakehouse is built with code generation (`code_generation` below), as are the jobs the tests
# spark-submit to the standalone cluster and in test_jobs_and_guards.
INTERPRETED = {"spark.sql.codegen.factoryMode": "NO_CODEGEN"}


@contextlib.contextmanager
def code_generation(spark):
    """Spark's default (generate code, interpret only what fails to compile) for a build with real volume: the
    Olist lakehouse takes 397 s so, 585 s interpreted."""
    key = "spark.sql.codegen.factoryMode"
    before = spark.conf.get(key)
    spark.conf.set(key, "FALLBACK")
    try:
        yield
    finally:
        spark.conf.set(key, before)


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from tradelake.spark import build_session

    session = build_session(settings_for(tmp_path_factory.mktemp("session")), INTERPRETED)
    yield session
    session.stop()


@pytest.fixture
def lake(tmp_path) -> Settings:
    return settings_for(tmp_path)


# -------------------------------------------------------------------------------------------------
# The shared lakehouses (each built at its first use, once per run)
# -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def olist_lake(spark, tmp_path_factory) -> Settings:
    """The Olist sample through its adapter and the whole pipeline (tests/olist_lake.py)."""
    from olist_lake import build

    with code_generation(spark):
        return build(spark, tmp_path_factory.mktemp("olist"))


@pytest.fixture(scope="session")
def generated_lake(spark, tmp_path_factory):
    """420 generated days through the whole pipeline, in two halves (tests/generated_lake.py)."""
    from generated_lake import build

    return build(spark, tmp_path_factory.mktemp("generated"))


@pytest.fixture(scope="session")
def orchestration_landing(spark, tmp_path_factory) -> Path:
    """The tiny generated landing zone the spark-submitted runs read (tests/orchestration_support.py)."""
    import orchestration_support as osup

    return osup.tiny_landing(spark, tmp_path_factory)
