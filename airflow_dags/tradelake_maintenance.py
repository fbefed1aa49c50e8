"""Airflow DAG `tradelake_maintenance`: weekly OPTIMIZE (Z-order), VACUUM, a report of table sizes and file
counts, and pruning of old Great Expectations validation results. Built by tradelake.orchestration.dags
from conf/*.yaml (sections `airflow`, `maintenance`); see README "Airflow"."""
import sys
from pathlib import Path

try:
    from tradelake.orchestration.dags import build_maintenance_dag
except ModuleNotFoundError:  # the repository checked out beside Airflow, the package not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
    from tradelake.orchestration.dags import build_maintenance_dag

dag = build_maintenance_dag()
