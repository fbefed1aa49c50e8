# The two commands a newcomer needs: `make demo` and `make test`. Both set everything up first.
.PHONY: help setup demo test test-fast lint submit bench clean dist airflow-init airflow-test airflow-standalone

VENV := .venv/bin
export SPARK_LOCAL_IP ?= 127.0.0.1
export GX_ANALYTICS_ENABLED := False

help:
	@echo "make demo    set up, generate 30 days of data, build the lakehouse in ./lakehouse, print it"
	@echo "make test    set up and run the whole test suite"
	@echo "make lint    ruff over the code (the suite runs it too: tests/test_lint.py)"
	@echo "make demo-olist   the same on the Olist marketplace sample (../shared/data), in ./lakehouse/olist"
	@echo "make sql     the Spark SQL shell on the lakehouse's catalog (gold.supplier_scorecard, ...)"
	@echo "make submit JOB=ingest ARGS='--date 2026-01-05'   run a job through spark-submit"
	@echo "make bench [SCALE=S|M|L]   run the whole pipeline at a scale, report in lakehouse/ops/bench/latest.json"
	@echo "make clean   delete ./lakehouse (generated data and tables)"
	@echo "make dist    build what spark-submit ships: dist/tradelake.zip (--py-files) and the wheel"
	@echo "make airflow-init                       Airflow metadata DB in ./airflow_home + connection tradelake_spark (local[*])"
	@echo "make airflow-test DATE=2026-01-05       one run of the daily DAG (airflow dags test)"
	@echo "make airflow-standalone                 Airflow's scheduler and UI on the DAGs in airflow_dags/"

setup:
	@bash scripts/setup.sh

demo: setup
	$(VENV)/tradelake demo

# The Olist sample through its adapter (docs/olist_mapping.md), then the whole pipeline, in its own lakehouse.
.PHONY: demo-olist sql
OLIST ?= ../shared/data/olist_sample
OLIST_LAKEHOUSE ?= lakehouse/olist
demo-olist: setup
	$(VENV)/tradelake demo --olist $(OLIST) --set paths.lakehouse=$(OLIST_LAKEHOUSE) --set paths.landing=$(OLIST_LAKEHOUSE)/landing

# Spark SQL on the catalog (registers the tables first). Another lakehouse: make sql LAKEHOUSE=lakehouse/olist
sql: setup
	$(VENV)/tradelake catalog --shell $(if $(LAKEHOUSE),--set paths.lakehouse=$(LAKEHOUSE))

# The whole suite on two pytest-xdist workers (one per core). Tests that share a costly lakehouse run on
# the worker that builds it (tests/conftest.py), the costliest groups first.
PYTEST_PARALLEL := -n 2 --dist loadgroup --no-loadscope-reorder
test: setup
	$(VENV)/python -m pytest $(PYTEST_PARALLEL)

lint: setup
	$(VENV)/ruff check lib jobs airflow_dags tests scripts

# The inner loop: no end-to-end run, no spark-submit, no cluster.
test-fast: setup
	$(VENV)/python -m pytest $(PYTEST_PARALLEL) -m "not slow"

submit: setup
	PYSPARK_PYTHON=$(VENV)/python PYSPARK_DRIVER_PYTHON=$(VENV)/python \
	$(VENV)/spark-submit --jars "$$($(VENV)/tradelake jars)" --driver-class-path "$$($(VENV)/tradelake jars --local-fs)" \
	  jobs/$(JOB).py $(ARGS)

# Scales: S = 200k transactions / 90 days (default), M = 1M / 365 days, L = 10M / 365 days
# (lib/tradelake/bench.py). Data is generated once per scale and seed under ./bench-data and reused.
SCALE ?= S
bench: setup
	$(VENV)/python -m tradelake.bench --scale $(SCALE)

clean:
	rm -rf lakehouse

# What spark-submit ships (README "Running on a cluster"): the package as a zip for --py-files, and a wheel
# to install it (with its dependencies) where the drivers and executors run.
dist: setup
	rm -rf dist
	$(VENV)/python -m tradelake.orchestration.dist --out dist
	$(VENV)/python -m pip wheel --quiet --disable-pip-version-check --no-deps --wheel-dir dist .
	rm -rf build lib/*.egg-info
	@ls -l dist

# Airflow on this machine (README "Airflow"): a SQLite metadata DB in ./airflow_home, the DAGs of airflow_dags/.
AIRFLOW_ENV := AIRFLOW_HOME=$(CURDIR)/airflow_home AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/airflow_dags \
	AIRFLOW__CORE__LOAD_EXAMPLES=False PATH=$(CURDIR)/.venv/bin:$$PATH
SPARK_CONN ?= tradelake_spark
DATE ?= 2026-01-01

airflow-init: dist
	$(AIRFLOW_ENV) $(VENV)/airflow db migrate
	$(AIRFLOW_ENV) $(VENV)/airflow connections get $(SPARK_CONN) >/dev/null 2>&1 \
	  || $(AIRFLOW_ENV) $(VENV)/airflow connections add $(SPARK_CONN) --conn-type spark --conn-host 'local[*]'

airflow-test: airflow-init
	$(AIRFLOW_ENV) $(VENV)/airflow dags test tradelake_daily $(DATE)

airflow-standalone: airflow-init
	$(AIRFLOW_ENV) $(VENV)/airflow standalone
