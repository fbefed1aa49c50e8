"""Airflow DAG `tradelake_daily`: the lakehouse pipeline for one day per run (ingest per source, silver,
features, each validated, then publish). Built by tradelake.orchestration.dags from conf/*.yaml (section
`airflow`); see README "Airflow"."""
import sys
from pathlib import Path

try:
    from tradelake.orchestration.dags import build_daily_dag
except ModuleNotFoundError:  # the repository checked out beside Airflow, the package not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
    from tradelake.orchestration.dags import build_daily_dag

dag = build_daily_dag()
