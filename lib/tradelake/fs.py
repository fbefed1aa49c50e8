"""File-system access for the landing zone and the generator.

Local paths (no scheme, or file:) go through Python's os module: listing thousands of day folders or
moving thousands of files through the JVM costs a py4j round trip each. Other schemes (hdfs:, s3a:,
abfss:, ...) go through Hadoop's FileSystem API, so the same code works on a cluster.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from urllib.parse import urlparse

from pyspark.sql import SparkSession


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    modified_ms: int


def local_path(path: str) -> str | None:
    """The local path of a file: URI or plain path, or None for a remote file system."""
    parsed = urlparse(path)
    if parsed.scheme in ("", "file"):
        return parsed.path if parsed.scheme else path
    return None


def _hidden(name: str) -> bool:
    return name.startswith(("_", "."))


def _fs(spark: SparkSession, path: str):
    jvm = spark.sparkContext._jvm
    jpath = jvm.org.apache.hadoop.fs.Path(path)
    return jpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), jpath


def exists(spark: SparkSession, path: str) -> bool:
    if (lp := local_path(path)) is not None:
        return os.path.exists(lp)
    fs, p = _fs(spark, path)
    return bool(fs.exists(p))


def list_files(spark: SparkSession, directory: str) -> list[FileInfo]:
    """Data files directly in a directory (not hidden or Spark marker files like _SUCCESS), by name.
    Paths are returned as file: URIs for local files, the form Spark reports in _metadata.file_path."""
    if (lp := local_path(directory)) is not None:
        if not os.path.isdir(lp):
            return []
        out = []
        with os.scandir(lp) as it:
            for e in it:
                if e.is_file() and not _hidden(e.name):
                    st = e.stat()
                    out.append(FileInfo("file:" + os.path.abspath(e.path), st.st_size, st.st_mtime_ns // 1_000_000))
        return sorted(out, key=lambda f: f.path)
    fs, p = _fs(spark, directory)
    if not fs.exists(p):
        return []
    out = []
    for st in fs.listStatus(p):
        name = st.getPath().getName()
        if st.isFile() and not _hidden(name):
            out.append(FileInfo(st.getPath().toString(), int(st.getLen()), int(st.getModificationTime())))
    return sorted(out, key=lambda f: f.path)


def list_dirs(spark: SparkSession, directory: str) -> list[str]:
    if (lp := local_path(directory)) is not None:
        if not os.path.isdir(lp):
            return []
        return sorted(e.name for e in os.scandir(lp) if e.is_dir())
    fs, p = _fs(spark, directory)
    if not fs.exists(p):
        return []
    return sorted(st.getPath().getName() for st in fs.listStatus(p) if st.isDirectory())


def read_first_line(spark: SparkSession, path: str) -> str:
    """The first line of a file (a CSV header), read without starting a Spark job."""
    if (lp := local_path(path)) is not None:
        with open(lp, encoding="utf-8", newline="") as fh:
            line = fh.readline()
        return line.rstrip("\r\n").lstrip("\ufeff")
    jvm = spark.sparkContext._jvm
    fs, p = _fs(spark, path)
    reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(fs.open(p), "UTF-8"))
    try:
        line = reader.readLine()
    finally:
        reader.close()
    return (line or "").lstrip("\ufeff")


def rename(spark: SparkSession, src: str, dst: str) -> None:
    if (ls := local_path(src)) is not None and (ld := local_path(dst)) is not None:
        os.replace(ls, ld)
        return
    fs, s = _fs(spark, src)
    _, d = _fs(spark, dst)
    if not fs.rename(s, d):
        raise OSError(f"could not rename {src} to {dst}")


def delete(spark: SparkSession, path: str, recursive: bool = True) -> None:
    if (lp := local_path(path)) is not None:
        if os.path.isdir(lp):
            shutil.rmtree(lp) if recursive else os.rmdir(lp)
        elif os.path.exists(lp):
            os.remove(lp)
        return
    fs, p = _fs(spark, path)
    if fs.exists(p):
        fs.delete(p, recursive)


def mkdirs(spark: SparkSession, path: str) -> None:
    if (lp := local_path(path)) is not None:
        os.makedirs(lp, exist_ok=True)
        return
    fs, p = _fs(spark, path)
    fs.mkdirs(p)


def write_text(spark: SparkSession, path: str, text: str) -> None:
    if (lp := local_path(path)) is not None:
        os.makedirs(os.path.dirname(lp) or ".", exist_ok=True)
        with open(lp, "w", encoding="utf-8") as fh:
            fh.write(text)
        return
    fs, p = _fs(spark, path)
    out = fs.create(p, True)
    try:
        out.write(bytearray(text.encode("utf-8")))
    finally:
        out.close()


def read_text(spark: SparkSession, path: str) -> str | None:
    if (lp := local_path(path)) is not None:
        if not os.path.exists(lp):
            return None
        with open(lp, encoding="utf-8") as fh:
            return fh.read()
    jvm = spark.sparkContext._jvm
    fs, p = _fs(spark, path)
    if not fs.exists(p):
        return None
    reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(fs.open(p), "UTF-8"))
    try:
        lines = []
        while (line := reader.readLine()) is not None:
            lines.append(line)
    finally:
        reader.close()
    return "\n".join(lines)
