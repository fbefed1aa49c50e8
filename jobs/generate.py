"""spark-submit entry point for the synthetic data generator (the same as `tradelake generate`).

    spark-submit --jars "$(tradelake jars)" jobs/generate.py --set generator.transactions=10000000
"""
import sys

from tradelake.cli import main

if __name__ == "__main__":
    sys.exit(main(["generate", *sys.argv[1:]]))
