# The two commands a newcomer needs: `make demo` and `make test`. Both set everything up first.
.PHONY: help setup demo test test-fast submit bench clean

VENV := .venv/bin
export SPARK_LOCAL_IP ?= 127.0.0.1
export GX_ANALYTICS_ENABLED := False

help:
	@echo "make demo    set up, generate 30 days of data, build the lakehouse in ./lakehouse, print it"
	@echo "make test    set up and run the whole test suite"
	@echo "make demo-olist   the same on the Olist marketplace sample (../shared/data), in ./lakehouse/olist"
	@echo "make sql     the Spark SQL shell on the lakehouse's catalog (gold.supplier_scorecard, ...)"
	@echo "make submit JOB=ingest ARGS='--date 2026-01-05'   run a job through spark-submit"
	@echo "make bench [SCALE=S|M|L]   run the whole pipeline at a scale, report in lakehouse/ops/bench/latest.json"
	@echo "make clean   delete ./lakehouse (generated data and tables)"

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

test: setup
	$(VENV)/python -m pytest

# Everything but the slow end-to-end tests.
test-fast: setup
	$(VENV)/python -m pytest -m "not slow"

submit: setup
	PYSPARK_PYTHON=$(VENV)/python PYSPARK_DRIVER_PYTHON=$(VENV)/python \
	$(VENV)/spark-submit --jars "$$($(VENV)/tradelake jars)" jobs/$(JOB).py $(ARGS)

# Scales: S = 200k transactions / 90 days (default), M = 1M / 365 days, L = 10M / 365 days
# (lib/tradelake/bench.py). Data is generated once per scale and seed under ./bench-data and reused.
SCALE ?= S
bench: setup
	$(VENV)/python -m tradelake.bench --scale $(SCALE)

clean:
	rm -rf lakehouse
