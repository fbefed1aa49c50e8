"""spark-submit entry point for the features job (the same as `tradelake run features`).

    spark-submit --jars "$(tradelake jars)" jobs/features.py --date 2026-01-05 [--env cluster] [--set key=value]
    spark-submit --jars "$(tradelake jars)" jobs/features.py --from 2026-01-01 --to 2026-01-31
"""
import sys

from tradelake.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "features", *sys.argv[1:]]))
