# The two commands a newcomer needs: `make demo` and `make test`. Both set everything up first.
.PHONY: help setup demo test test-fast submit clean

VENV := .venv/bin
export SPARK_LOCAL_IP ?= 127.0.0.1
export GX_ANALYTICS_ENABLED := False

help:
	@echo "make demo    set up, generate 30 days of data, build the lakehouse in ./lakehouse, print it"
	@echo "make test    set up and run the whole test suite"
	@echo "make submit JOB=ingest ARGS='--date 2026-01-05'   run a job through spark-submit"
	@echo "make clean   delete ./lakehouse (generated data and tables)"

setup:
	@bash scripts/setup.sh

demo: setup
	$(VENV)/tradelake demo

test: setup
	$(VENV)/python -m pytest

# Everything but the slow end-to-end tests.
test-fast: setup
	$(VENV)/python -m pytest -m "not slow"

submit: setup
	PYSPARK_PYTHON=$(VENV)/python PYSPARK_DRIVER_PYTHON=$(VENV)/python \
	$(VENV)/spark-submit --jars "$$($(VENV)/tradelake jars)" jobs/$(JOB).py $(ARGS)

clean:
	rm -rf lakehouse
