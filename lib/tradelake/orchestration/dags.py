"""The Airflow DAGs, built from the configuration (conf/*.yaml, section `airflow`; environment TRADELAKE_ENV).
airflow_dags/tradelake_daily.py and airflow_dags/tradelake_maintenance.py are two lines that call these.

tradelake_daily, one run per day D (catchup runs every missed day, in order, one run at a time):

    ingest >> validate_bronze >> silver >> validate_silver >> features >> validate_gold >> publish
        (-> the gold tables' Assets)

tradelake_maintenance, weekly: optimize >> vacuum >> report, and prune_gx.

Every task is a spark-submit of jobs/<job>.py (tradelake.orchestration.submit) on the connection
`airflow.spark_conn_id`. D is `{{ ds }}`: the run's logical date, which for a scheduled or backfilled run is
the start of its data interval (the schedule is a data-interval timetable), never the day it runs.

Parsing a DAG file reads two small YAML files and imports neither pyspark nor the jobs.
"""
from __future__ import annotations

import datetime as dt

from tradelake.config import Settings, load_settings
from tradelake.orchestration import submit
from tradelake.orchestration.submit import GOLD_TABLES

DAILY_DAG_ID = "tradelake_daily"
MAINTENANCE_DAG_ID = "tradelake_maintenance"
DAY = "{{ ds }}"
TAGS = ["tradelake", "lakehouse", "spark"]
MAINTENANCE_TASKS = ("optimize", "vacuum", "report", "prune-gx")


def load(env: str | None = None) -> Settings:
    return load_settings(env)


def gold_asset_uri(settings: Settings, name: str) -> str:
    path = settings.table_path("gold", name)
    return path if "://" in path else f"file://{path}"


def gold_assets(settings: Settings) -> list:
    """The published gold tables as Airflow Assets, named `tradelake.gold.<table>`: an analyst's DAG
    scheduled on `Asset.ref(name="tradelake.gold.supplier_scorecard")` (or the Asset itself) runs after
    each day's publish."""
    from airflow.sdk import Asset

    return [Asset(name=f"tradelake.gold.{name}", uri=gold_asset_uri(settings, name), group="tradelake",
                  extra={"layer": "gold", "table": name, "format": "delta", "snapshot": "one per as_of_date"})
            for name in GOLD_TABLES]


def default_args(settings: Settings) -> dict:
    a = settings.airflow
    return {
        "owner": a.owner,
        "depends_on_past": False,
        "retries": a.retries,
        "retry_delay": dt.timedelta(minutes=a.retry_delay_minutes),
        "retry_exponential_backoff": a.retry_backoff,
        "max_retry_delay": dt.timedelta(minutes=a.max_retry_delay_minutes),
        "execution_timeout": dt.timedelta(minutes=a.task_timeout_minutes),
    }


def _start(settings: Settings) -> dt.datetime:
    d = settings.airflow.start_date
    return dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC)


def _timetable(cron: str):
    # A data-interval timetable: the run for day D starts once D's interval is over, with logical date
    # (and {{ ds }}) D. (A plain cron string would make a trigger timetable in Airflow 3, whose runs are
    # dated the day they run.)
    from airflow.sdk import CronDataIntervalTimetable

    return CronDataIntervalTimetable(cron, timezone="UTC")


def spark_task(settings: Settings, task_id: str, job: str, args: list[str], **kwargs):
    """A task running jobs/<job>.py through spark-submit on the configured connection."""
    from tradelake.orchestration.operators import TradelakeSparkSubmitOperator

    return TradelakeSparkSubmitOperator(
        task_id=task_id,
        submission=submit.submission(settings, job, args, name=f"tradelake-{task_id}-{DAY}"),
        conn_id=settings.airflow.spark_conn_id,
        deploy_mode=settings.airflow.deploy_mode or None,
        spark_binary=submit.spark_submit_binary(settings),
        **kwargs,
    )


DAILY_DOC = """
### tradelake daily pipeline

One run per day D (`{{ ds }}`, the start of the run's data interval): landing -> bronze (every source), bronze
validated, bronze -> silver, silver validated, silver -> staged gold snapshots of D,
staged gold validated, then published to gold. A failed validation fails its task: nothing after it runs and
gold keeps its previous snapshot. Every task is idempotent: a retry (or a cleared task) re-runs it safely.

Order matters for silver and features (a day is processed after the days before it): runs go one at a time
(`max_active_runs=1`) and those tasks wait for their previous day's success (`depends_on_past`).
Backfill a range with `airflow backfill create --dag-id tradelake_daily --from-date D1 --to-date D2`.

Each published gold table is an Asset `tradelake.gold.<table>`. Configuration: conf/*.yaml, section
`airflow` (README "Airflow").
"""


def build_daily_dag(settings: Settings | None = None):
    from airflow.sdk import DAG

    s = settings or load()
    a = s.airflow
    with DAG(
        dag_id=DAILY_DAG_ID,
        description="landing -> bronze -> silver -> gold, validated, for one day",
        doc_md=DAILY_DOC,
        schedule=_timetable(a.schedule),
        start_date=_start(s),
        catchup=a.catchup,
        max_active_runs=1,
        dagrun_timeout=dt.timedelta(hours=a.dagrun_timeout_hours),
        default_args=default_args(s),
        tags=TAGS,
    ) as dag:
        # Every source in one job: a spark-submit costs a JVM and a session (~20 s of a core), more than
        # ingesting a day of one source; a retry redoes only the files not yet ingested.
        ingest = spark_task(s, "ingest", "ingest", ["--date", DAY])
        validate_bronze = spark_task(s, "validate_bronze", "validate", ["--layer", "bronze", "--date", DAY])
        # A day's silver verdicts depend on every earlier day: never before the previous day's succeeded.
        silver = spark_task(s, "silver", "silver", ["--date", DAY], depends_on_past=True)
        validate_silver = spark_task(s, "validate_silver", "validate", ["--layer", "silver", "--date", DAY])
        # The daily step advances the previous day's running totals.
        features = spark_task(s, "features", "features", ["--date", DAY], depends_on_past=True)
        validate_gold = spark_task(s, "validate_gold", "validate", ["--layer", "gold", "--date", DAY])
        publish = spark_task(s, "publish", "publish", ["--date", DAY], outlets=gold_assets(s))
        ingest >> validate_bronze >> silver >> validate_silver >> features >> validate_gold >> publish
    return dag


MAINTENANCE_DOC = """
### tradelake weekly maintenance

- **optimize**: `OPTIMIZE` every table (staging excepted: publish reads its validated version), Z-ordered by
  the columns of `maintenance.zorder_by`, compacting the small files daily runs add.
- **vacuum**: `VACUUM` every table, keeping `maintenance.vacuum_retention_hours` (never below 168 h, Delta's
  safe default: readers and time travel within a week keep working).
- **report**: each table's files and bytes into `ops.table_sizes` (and the log).
- **prune_gx**: Great Expectations validation results (and their Data Docs pages) older than
  `maintenance.gx_results_keep_days` days before `{{ ds }}`; `ops.dq_results` keeps the history.
"""


def build_maintenance_dag(settings: Settings | None = None):
    from airflow.sdk import DAG

    s = settings or load()
    a = s.airflow
    with DAG(
        dag_id=MAINTENANCE_DAG_ID,
        description="weekly OPTIMIZE, VACUUM, table sizes, pruning of validation results",
        doc_md=MAINTENANCE_DOC,
        schedule=_timetable(a.maintenance_schedule),
        start_date=_start(s),
        catchup=False,  # maintenance of the tables as they are now: no point in running missed weeks
        max_active_runs=1,
        dagrun_timeout=dt.timedelta(hours=a.dagrun_timeout_hours),
        default_args=default_args(s),
        tags=[*TAGS, "maintenance"],
    ) as dag:
        tasks = {t: spark_task(s, t.replace("-", "_"), "maintenance", [t, "--date", DAY]) for t in MAINTENANCE_TASKS}
        tasks["optimize"] >> tasks["vacuum"] >> tasks["report"]
    return dag
