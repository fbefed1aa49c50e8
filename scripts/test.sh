#!/usr/bin/env bash
# The whole test suite as two pytest processes running at once (`make test`); with arguments, one pytest
# with those arguments (`scripts/test.sh tests/test_pii.py -k hmac`).
#
# Why two: run one after the other, the suite keeps less than half of this 2-core machine busy (86 min of
# wall time for 39 min of CPU, 2026-11-29): most of its time is spent starting JVMs, spark-submit, Airflow,
# a standalone cluster, and driver-side Delta and Great Expectations work. Each process has its own Spark
# session (session-scoped fixture) and its own temporary folder. Files that share a costly fixture stay
# in the same process: the orchestration tests (test_airflow_dags, test_cluster) and the Olist lakehouse's
# (test_catalog, test_notebooks, test_read_without_spark, test_real_data, which are in the second group).
# The second process's output is shown when it ends; the exit status is that of the worse of the two.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
if [ $# -gt 0 ]; then
  exec "$PY" -m pytest "$@"
fi

WANT_FIRST=(tests/test_airflow_dags.py tests/test_cluster.py tests/test_bench.py tests/test_history_and_orphans.py
            tests/test_jobs_and_guards.py tests/test_config.py tests/test_pii.py tests/test_analysis.py)
FIRST=()
for f in "${WANT_FIRST[@]}"; do [ -f "$f" ] && FIRST+=("$f"); done
SECOND=()
for f in tests/test_*.py; do
  [[ " ${FIRST[*]} " == *" $f "* ]] || SECOND+=("$f")
done

work=$(mktemp -d "${TMPDIR:-/tmp}/tradelake-tests.XXXXXX")
MARK=${TEST_MARK:-}  # e.g. TEST_MARK="not slow"
run() {  # run <name> <files...>
  local name=$1; shift
  "$PY" -m pytest -p no:cacheprovider --basetemp="$work/$name" ${MARK:+-m "$MARK"} "$@"
}
start=$SECONDS
run second "${SECOND[@]}" >"$work/second.log" 2>&1 &
second_pid=$!
echo "tests: two processes; the second (${SECOND[*]}) writes to $work/second.log, shown when it ends"
run first "${FIRST[@]}"
first_rc=$?
wait "$second_pid"
second_rc=$?
echo
echo "==================== the second process (${SECOND[*]}) ===================="
cat "$work/second.log"
echo
echo "tests: first process exit $first_rc, second $second_rc, $((SECONDS - start)) s in all"
# pytest's exit 5 = no test collected (a marker filter can leave a group empty): not a failure
ok() { [ "$1" -eq 0 ] || [ "$1" -eq 5 ]; }
if ok "$first_rc" && ok "$second_rc"; then
  rm -rf "$work"
  exit 0
fi
exit 1
