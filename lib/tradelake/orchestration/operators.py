"""The operator the DAGs' tasks use: Airflow's SparkSubmitOperator, checking before it submits that what it
ships exists and that its connection is defined (the hook would otherwise fall back to master `yarn`)."""
from __future__ import annotations

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

from tradelake.orchestration.submit import Submission, missing_local_files


class TradelakeSparkSubmitOperator(SparkSubmitOperator):
    """A tradelake job (jobs/<job>.py) through spark-submit on the connection `conn_id`."""

    ui_color = "#e8f1fb"

    def __init__(self, *, submission: Submission, **kwargs):
        super().__init__(
            application=submission.application,
            application_args=submission.application_args,
            py_files=submission.py_files,
            jars=submission.jars,
            env_vars=submission.env_vars,
            conf=submission.conf or None,
            driver_memory=submission.driver_memory,
            name=submission.name,
            **kwargs,
        )
        self.tradelake_job = submission.job

    def execute(self, context):
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        missing = missing_local_files(Submission(self.tradelake_job, self.application, [], self.py_files or "",
                                                 self.jars or "", {}))
        if missing:
            raise FileNotFoundError(
                "spark-submit would ship files that do not exist: " + ", ".join(missing)
                + ". Build the package with `make dist` (and the jars with `make setup`), or point "
                "airflow.py_files / airflow.jars (conf/*.yaml) at them.")
        try:
            BaseHook.get_connection(self._conn_id)
        except AirflowNotFoundException as e:  # the hook would silently use master "yarn"
            raise RuntimeError(
                f"Airflow connection {self._conn_id!r} is not defined: create it (conn type spark, host = the "
                "master, e.g. local[*] or spark://host:7077): `make airflow-init`, or "
                f"AIRFLOW_CONN_{self._conn_id.upper()}='{{\"conn_type\": \"spark\", \"host\": \"local[*]\"}}'"
            ) from e
        return super().execute(context)
