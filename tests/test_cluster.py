"""A real Spark standalone cluster on 127.0.0.1: a master and two workers (pip's pyspark has no start-master.sh:
`spark-class org.apache.spark.deploy.master.Master` and `...worker.Worker spark://127.0.0.1:<port>`, one core
and 1.5 GB each, free ports). The daily pipeline for a day is submitted to it with `spark-submit --master
spark://...` - the command the DAG's tasks run (tradelake.orchestration.submit), in the configuration
environment `cluster` (conf/cluster.yaml), shipping the package as dist/tradelake.zip with the editable install
hidden from the driver - and its gold tables must equal those of a local-mode run on the same data. The cluster
is stopped whatever happens (its process groups are killed in a finally)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import orchestration_support as osup
import pytest

from tradelake import tables
from tradelake.config import load_settings

pytestmark = pytest.mark.slow

WORKERS = 2
DEV_KEY = load_settings("test").pii.default_key  # the local run's PII key: HMACs must match


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("standalone")
    spark_class = str(osup.VENV_BIN / "spark-class")
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_LOG_DIR": str(root / "logs"),
           "SPARK_DAEMON_MEMORY": "512m", "PYSPARK_PYTHON": sys.executable}
    port = free_port()
    url = f"spark://127.0.0.1:{port}"
    procs = []
    try:
        master_log = root / "master.log"
        procs.append(osup.start([spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                                 "--port", str(port), "--webui-port", str(free_port())], env, master_log))
        osup.wait_for(lambda: "I have been elected leader" in osup.tail(master_log, 10**6), 300, "the master",
                      procs[0], master_log)
        work_dirs = []
        for i in range(WORKERS):
            work = root / f"worker{i}"
            work_dirs.append(work)
            procs.append(osup.start([spark_class, "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1",
                                     "--cores", "1", "--memory", "1536m", "--webui-port", str(free_port()),
                                     "--work-dir", str(work)], env, root / f"worker{i}.log"))
        osup.wait_for(lambda: osup.tail(master_log, 10**6).count("Registering worker") >= WORKERS, 300,
                      "the workers registering", procs[0], master_log)
        yield SimpleNamespace(url=url, work_dirs=work_dirs, master_log=master_log, root=root)
    finally:
        for p in reversed(procs):
            osup.stop_group(p, __import__("signal").SIGTERM, wait=15)
        for p in procs:
            assert osup.group_alive(p.pid) == [], "a cluster process survived"


def hide_editable_install(folder: Path, report: Path) -> dict[str, str]:
    """Environment for a driver that can import tradelake only from what spark-submit ships: a
    sitecustomize drops the editable install (lib/) from sys.path and, at exit, writes where tradelake was
    imported from."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(
        "import atexit, os, sys\n"
        f"sys.path[:] = [p for p in sys.path if os.path.realpath(p) != {str((osup.ROOT / 'lib').resolve())!r}]\n"
        "def _report():\n"
        "    m = sys.modules.get('tradelake')\n"
        f"    open({str(report)!r}, 'a').write((getattr(m, '__file__', None) or 'not imported') + '\\n')\n"
        "atexit.register(_report)\n"
    )
    return {"PYTHONPATH": str(folder)}


def test_the_daily_pipeline_on_a_standalone_cluster_equals_local_mode(spark, cluster, orchestration_landing,
                                                                     tmp_path_factory):
    landing = orchestration_landing
    zip_path = osup.package_zip(tmp_path_factory)
    root = cluster.root
    day = osup.DAY.isoformat()

    # the package alone: without the zip, the hidden driver cannot import tradelake
    hidden = hide_editable_install(root / "hide", root / "imported-from.txt")
    probe = subprocess.run([sys.executable, "-c", "import tradelake"], env={**os.environ, **hidden},
                           capture_output=True, text=True)
    assert probe.returncode != 0 and "No module named 'tradelake'" in probe.stderr

    # on the cluster, configuration `cluster`: its master from the environment (spark-submit's --master wins),
    # the PII key from the environment, executors sized for the small workers
    env = {"TRADELAKE__SPARK__MASTER": cluster.url, "TRADELAKE_PII_KEY": DEV_KEY, **hidden}
    on_cluster = load_settings("cluster", environ={**os.environ, **env}, overrides=[
        f"paths.lakehouse={root}/cluster-lakehouse", f"paths.landing={landing}"])
    sub = osup.job_submission(on_cluster, zip_path, "run_all", ["--from", day, "--to", day],
                              # sized to a tiny day, as in local mode: cluster.yaml's 50 partitions for
                              # reading a Delta log made 11,600 tasks of one day's run (707 s in CI)
                              "spark.shuffle_partitions=2", "spark.conf.spark.databricks.delta.snapshotPartitions=2",
                              "spark.driver_memory=1g",
                              "spark.conf.spark.executor.memory=1g", "spark.conf.spark.executor.cores=1",
                              f"spark.conf.spark.executor.extraJavaOptions={osup.SUBMIT_CONF['spark.driver.extraJavaOptions']}",
                              "quality.build_data_docs=false")
    log = root / "run_all.log"
    seconds = osup.run_submission(sub, cluster.url, log, extra_env=env)
    print(f"run_all on the standalone cluster: {seconds:.0f}s")
    # (other Pythons with that PYTHONPATH - the probe, spark-submit's find_spark_home.py - import no tradelake)
    imported = [p for p in (root / "imported-from.txt").read_text().splitlines() if p != "not imported"]
    assert imported and all(p.startswith(f"{zip_path}/tradelake/") for p in imported), imported
    # the work ran on both workers' executors
    for work in cluster.work_dirs:
        apps = list(work.glob("app-*/*/stderr"))
        assert apps and any("Running task" in a.read_text(errors="replace") for a in apps), f"no task ran in {work}"

    # the same day in local mode (the Airflow test's run, or one in this process)
    local = osup.local_reference(spark, tmp_path_factory, landing)

    for name, gold in tables.GOLD.items():
        on_cluster_rows = spark.read.format("delta").load(gold.path(on_cluster))
        osup.assert_same_rows(on_cluster_rows, tables.read(spark, local, gold), f"gold.{name}")
    assert tables.read(spark, local, tables.GOLD["supplier_scorecard"]).count() > 0
