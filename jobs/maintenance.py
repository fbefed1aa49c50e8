"""spark-submit entry point for the weekly maintenance (tradelake.orchestration.maintenance): OPTIMIZE,
VACUUM, the table-size report, pruning of old Great Expectations validation results.

    spark-submit --jars "$(tradelake jars)" jobs/maintenance.py optimize|vacuum|report|prune-gx|all --date D [--env cluster]
"""
import sys

from tradelake.orchestration.maintenance import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
