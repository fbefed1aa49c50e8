"""Layered, validated configuration.

Layers, each overriding the one before:
  1. conf/base.yaml
  2. conf/<env>.yaml            (local, test, cluster)
  3. environment variables       TRADELAKE__<SECTION>__<KEY>=value   (value parsed as a YAML scalar)
  4. CLI flags                   --set section.key=value

Every layer is validated against the dataclasses below as it is applied: an unknown key or a value of the
wrong type is an error naming the key and the layer (file, variable or flag) it came from. After merging,
a required value (no default here, not set by any layer) is an error naming the key and the files read.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ENVIRONMENTS = ("local", "test", "cluster")
ENV_PREFIX = "TRADELAKE__"
# The folder holding conf/, against which relative paths are resolved. TRADELAKE_PROJECT_ROOT says
# where it is when the package runs from elsewhere (e.g. the zip spark-submit ships, `make dist`).
PROJECT_ROOT = Path(os.environ.get("TRADELAKE_PROJECT_ROOT") or Path(__file__).resolve().parents[2])


class ConfigError(ValueError):
    """A configuration problem, with the key and the layer it came from in the message."""


@dataclass(frozen=True)
class SparkSettings:
    master: str
    app_name: str = "tradelake"
    shuffle_partitions: int = 8
    driver_memory: str = "4g"
    ui_enabled: bool = False
    log_level: str = "WARN"
    # Any further Spark setting, passed through as is (e.g. spark.executor.memory).
    conf: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PathSettings:
    # Relative paths are resolved against the project root (the folder holding conf/).
    lakehouse: str = "lakehouse"
    landing: str = "lakehouse/landing"
    # Delta jars are resolved from Maven Central once into this cache (outside git).
    jars_cache: str = "~/.cache/tradelake/jars"


@dataclass(frozen=True)
class PiiSettings:
    key_env_var: str = "TRADELAKE_PII_KEY"
    # A fixed, documented, NOT secret key: allowed only where allow_default_key is true (local, test).
    allow_default_key: bool = False
    default_key: str = "tradelake-local-dev-key-not-a-secret"


@dataclass(frozen=True)
class SilverSettings:
    # Orphans are re-tried on every run for this many days after they arrived; older ones stay quarantined.
    orphan_retry_days: int = 30


@dataclass(frozen=True)
class QualitySettings:
    # Volume: a day's row count against the median of the same table's previous `volume_window_days`
    # days. Flagged when the ratio leaves [1 - tolerance, 1 / (1 - tolerance)] (symmetric in log scale).
    volume_window_days: int = 14
    volume_tolerance: float = 0.75
    # Freshness: the newest event date of a day's records at most this many days before the day.
    freshness_max_lag_days: int = 3
    # Feature drift: PSI of D's snapshot against the one this many days earlier, in `drift_bins` bins.
    drift_reference_days: int = 90
    drift_bins: int = 10
    # Great Expectations project (suites, results store); default <lakehouse>/ops/gx. Must be a local
    # path: Great Expectations writes it with the driver's file system.
    gx_dir: str = ""
    build_data_docs: bool = True


@dataclass(frozen=True)
class CatalogSettings:
    # Where the tables' names (bronze.*, silver.*, gold.*, ops.*, ...) live:
    #   hive       a persistent metastore: an embedded Derby database in metastore_dir (one Spark
    #              application at a time), unless spark.conf points Spark at another metastore
    #              (spark.hadoop.hive.metastore.uris or spark.hadoop.javax.jdo.option.ConnectionURL);
    #   in-memory  names last as long as the Spark application (the test suite: one session, many lakehouses).
    implementation: str = "hive"
    # Register the tables under their names as the pipeline runs (`tradelake run`, `demo`); `tradelake
    # catalog` does it on demand.
    register: bool = True
    # The Derby metastore's folder; default <lakehouse>/ops/metastore. Must be a local path.
    metastore_dir: str = ""


@dataclass(frozen=True)
class GeneratorSettings:
    seed: int = 42
    start_date: dt.date = dt.date(2026, 1, 1)
    days: int = 30
    transactions: int = 30_000
    suppliers: int = 200
    buyers: int = 2_000
    # Share of records of each kind of defect (see tradelake.generate.defects for what each one is).
    defect_rates: dict[str, float] = field(default_factory=dict)
    # Source-days that get an unknown extra column (schema drift), as a share of source-days.
    schema_drift_rate: float = 0.05
    # Rows per output file: above it a source-day is split into several files.
    max_rows_per_file: int = 1_000_000


@dataclass(frozen=True)
class AirflowSettings:
    """The Airflow DAGs (airflow_dags/, tradelake.orchestration): read when a DAG file is parsed."""
    # The Airflow connection the jobs are submitted on: conn_type spark, host = the master (local[*],
    # spark://host:7077, yarn, k8s://https://...). `make airflow-init` creates it as local[*].
    spark_conn_id: str = "tradelake_spark"
    owner: str = "data-platform"
    # Cron (UTC) of the daily run; each run processes the day its data interval starts on ({{ ds }}).
    schedule: str = "0 3 * * *"
    start_date: dt.date = dt.date(2026, 1, 1)
    catchup: bool = True
    retries: int = 3
    retry_delay_minutes: float = 5.0
    # Each retry waits this many times longer than the one before, up to max_retry_delay_minutes.
    retry_backoff: float = 2.0
    max_retry_delay_minutes: float = 60.0
    task_timeout_minutes: int = 120
    dagrun_timeout_hours: int = 12
    maintenance_schedule: str = "0 5 * * 0"
    # What every spark-submit ships: the package (`make dist`) as --py-files, and --jars (default: the
    # Delta jars of paths.jars_cache). Relative paths are resolved against the project root.
    py_files: str = "dist/tradelake.zip"
    jars: str = ""
    jobs_dir: str = "jobs"
    # The Python of the Spark driver and executors (PYSPARK_PYTHON); default: the one running Airflow.
    python: str = ""
    # spark-submit; default: the one next to the Python running Airflow, else the one on PATH.
    spark_binary: str = ""
    # client (the driver runs in the Airflow worker) or cluster; "" = the connection's extra, else client.
    deploy_mode: str = ""
    # Further --conf for every submit (e.g. spark.executor.memory), and environment variables of
    # spark-submit (client mode).
    spark_conf: dict[str, str] = field(default_factory=dict)
    env_vars: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MaintenanceSettings:
    """The weekly maintenance (jobs/maintenance.py, the tradelake_maintenance DAG)."""
    # VACUUM keeps files that stopped being part of a table within this many hours; never below 168
    # (7 days: Delta's default delta.deletedFileRetentionDuration, what concurrent readers rely on).
    vacuum_retention_hours: int = 168
    # OPTIMIZE ... ZORDER BY these columns (by "<layer>.<table>"); other tables are compacted only.
    zorder_by: dict[str, list[str]] = field(default_factory=dict)
    # Great Expectations validation results (<gx_dir>/gx/uncommitted/validations) and their Data Docs
    # pages are kept this many days.
    gx_results_keep_days: int = 30


@dataclass(frozen=True)
class Settings:
    env: str
    spark: SparkSettings
    paths: PathSettings = field(default_factory=PathSettings)
    pii: PiiSettings = field(default_factory=PiiSettings)
    silver: SilverSettings = field(default_factory=SilverSettings)
    quality: QualitySettings = field(default_factory=QualitySettings)
    catalog: CatalogSettings = field(default_factory=CatalogSettings)
    generator: GeneratorSettings = field(default_factory=GeneratorSettings)
    airflow: AirflowSettings = field(default_factory=AirflowSettings)
    maintenance: MaintenanceSettings = field(default_factory=MaintenanceSettings)

    # -- derived locations -------------------------------------------------------------------
    def resolve(self, path: str) -> str:
        """An absolute path or URI for a configured location."""
        if "://" in path:
            return path
        p = Path(os.path.expanduser(path))
        return str(p if p.is_absolute() else PROJECT_ROOT / p)

    @property
    def lakehouse_root(self) -> str:
        return self.resolve(self.paths.lakehouse)

    @property
    def landing_root(self) -> str:
        return self.resolve(self.paths.landing)

    @property
    def jars_cache(self) -> str:
        return self.resolve(self.paths.jars_cache)

    @property
    def gx_dir(self) -> str:
        return self.resolve(self.quality.gx_dir) if self.quality.gx_dir else f"{self.lakehouse_root}/ops/gx"

    @property
    def metastore_dir(self) -> str:
        return self.resolve(self.catalog.metastore_dir) if self.catalog.metastore_dir else f"{self.lakehouse_root}/ops/metastore"

    @property
    def data_docs_dir(self) -> str:
        return f"{self.lakehouse_root}/ops/data_docs"

    def table_path(self, layer: str, table: str) -> str:
        return f"{self.lakehouse_root.rstrip('/')}/{layer}/{table}"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


# ------------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------------
def default_conf_dir() -> Path:
    return Path(os.environ.get("TRADELAKE_CONF_DIR", PROJECT_ROOT / "conf"))


def load_settings(
    env: str | None = None,
    overrides: list[str] | None = None,
    conf_dir: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Load base -> env file -> environment variables -> CLI overrides, validating each layer."""
    environ = os.environ if environ is None else environ
    env = env or environ.get("TRADELAKE_ENV") or "local"
    if env not in ENVIRONMENTS:
        raise ConfigError(f"unknown environment {env!r}: choose one of {', '.join(ENVIRONMENTS)}")
    conf_dir = Path(conf_dir) if conf_dir else default_conf_dir()

    merged: dict[str, Any] = {}
    files_read = []
    for name in ("base", env):
        path = conf_dir / f"{name}.yaml"
        if not path.exists():
            raise ConfigError(f"configuration file {path} is missing")
        with open(path) as fh:
            try:
                data = yaml.safe_load(fh) or {}
            except yaml.YAMLError as e:
                raise ConfigError(f"{path}: not valid YAML: {e}") from e
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections")
        _merge_layer(merged, data, Settings, source=str(path), prefix="")
        files_read.append(str(path))

    for var, raw in sorted(environ.items()):
        if not var.startswith(ENV_PREFIX) or raw.strip() == "":
            continue  # an empty variable counts as unset
        parts = [p.lower() for p in var[len(ENV_PREFIX):].split("__") if p]
        if not parts:
            continue
        _merge_layer(merged, _nest(parts, _parse_scalar(raw)), Settings, source=f"environment variable {var}", prefix="")

    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected section.key=value")
        key, raw = item.split("=", 1)
        parts = [p for p in key.strip().split(".") if p]
        _merge_layer(merged, _nest(_map_key_joined(parts, Settings), _parse_scalar(raw)), Settings,
                     source=f"--set {key}", prefix="")

    merged["env"] = env
    return _build(Settings, merged, files_read, prefix="")


def _parse_scalar(raw: str) -> Any:
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def _map_key_joined(parts: list[str], cls: type) -> list[str]:
    """Below a mapping-typed key the rest of a dotted path is one map key: `spark.conf.spark.sql.x`
    sets the key `spark.sql.x` of `spark.conf`."""
    fields = _fields(cls)
    for i, part in enumerate(parts):
        if part not in fields:
            break
        ftype, _ = fields[part]
        if dataclasses.is_dataclass(ftype):
            fields = _fields(ftype)
        elif typing.get_origin(ftype) is dict and i + 2 < len(parts):
            return parts[: i + 1] + [".".join(parts[i + 1:])]
        else:
            break
    return parts


def _nest(parts: list[str], value: Any) -> dict[str, Any]:
    out: Any = value
    for p in reversed(parts):
        out = {p: out}
    return out


def _fields(cls: type) -> dict[str, tuple[Any, dataclasses.Field]]:
    hints = typing.get_type_hints(cls)
    return {f.name: (hints[f.name], f) for f in dataclasses.fields(cls)}


def _merge_layer(target: dict, layer: Mapping, cls: type, source: str, prefix: str) -> None:
    fields = _fields(cls)
    for key, value in layer.items():
        dotted = f"{prefix}{key}"
        if key not in fields or key == "env":
            known = ", ".join(k for k in fields if k != "env")
            raise ConfigError(f"{source}: unknown key '{dotted}' (known here: {known})")
        ftype, _ = fields[key]
        if dataclasses.is_dataclass(ftype):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{source}: '{dotted}' must be a mapping, got {type(value).__name__}")
            _merge_layer(target.setdefault(key, {}), value, ftype, source, prefix=f"{dotted}.")
        else:
            checked = _check_type(value, ftype, dotted, source)
            if isinstance(checked, dict) and isinstance(target.get(key), dict):
                target[key] = {**target[key], **checked}  # maps merge key by key across layers
            else:
                target[key] = checked


def _check_type(value: Any, ftype: Any, dotted: str, source: str) -> Any:
    origin = typing.get_origin(ftype)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(ftype) if a is not type(None)]
        if value is None:
            return None
        return _check_type(value, args[0], dotted, source)

    def bad(expected: str) -> ConfigError:
        return ConfigError(f"{source}: '{dotted}' must be {expected}, got {value!r} ({type(value).__name__})")

    if ftype is bool:
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if ftype is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
        return value
    if ftype is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number")
        return float(value)
    if ftype is str:
        if isinstance(value, (dict, list)) or value is None:
            raise bad("a string")
        return str(value)
    if ftype is dt.date:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise bad("a date (YYYY-MM-DD)") from None
    if origin is dict:
        kt, vt = typing.get_args(ftype)
        if not isinstance(value, Mapping):
            raise bad("a mapping")
        return {str(k): _check_type(v, vt, f"{dotted}.{k}", source) for k, v in value.items()}
    if origin is list:
        (it,) = typing.get_args(ftype)
        if not isinstance(value, list):
            raise bad("a list")
        return [_check_type(v, it, f"{dotted}[{i}]", source) for i, v in enumerate(value)]
    raise TypeError(f"unsupported config type {ftype} for {dotted}")  # a bug in the schema, not the user's


def _build(cls: type, data: Mapping, files_read: list[str], prefix: str) -> Any:
    kwargs = {}
    for name, (ftype, f) in _fields(cls).items():
        dotted = f"{prefix}{name}"
        if dataclasses.is_dataclass(ftype):
            kwargs[name] = _build(ftype, data.get(name, {}), files_read, f"{dotted}.")
        elif name in data and data[name] is not None:
            kwargs[name] = data[name]
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(
                f"required value '{dotted}' is not set (read: {', '.join(files_read)}; "
                f"set it there, or with {ENV_PREFIX}{dotted.upper().replace('.', '__')}, or --set {dotted}=...)"
            )
    return cls(**kwargs)
