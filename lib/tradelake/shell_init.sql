-- Run by `tradelake catalog --shell` (`make sql`) before anything else (spark-sql -i; tradelake/catalog.py).
-- spark-sql switches Spark to the java.time API for dates; Delta then fails to answer min/max of a DATE
-- column from its file statistics (ClassCastException: LocalDate cannot be cast to java.sql.Date, in
-- OptimizeMetadataOnlyDeltaQuery). Back to Spark's default, as in pyspark sessions and the notebooks:
-- the shell prints dates and timestamps the same either way.
SET spark.sql.datetime.java8API.enabled=false;
