"""Orchestration: what Airflow and spark-submit need to run the jobs.

- `submit`      a job as a spark-submit: application, arguments, the shipped package, jars, environment
                (no pyspark, no Airflow: the DAG files import it when they are parsed)
- `dags`        the DAGs `tradelake_daily` and `tradelake_maintenance` (airflow_dags/ holds two thin files)
- `operators`   the SparkSubmitOperator the tasks use (checks what it ships before it submits)
- `maintenance` the weekly maintenance job: OPTIMIZE, VACUUM, table sizes, pruning Great Expectations results
- `dist`        `make dist`: the package as the zip spark-submit ships with --py-files
"""
