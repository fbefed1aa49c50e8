"""Layered configuration: base -> environment file -> environment variables -> CLI, validated."""
from __future__ import annotations

import textwrap

import pytest

from tradelake.config import ConfigError, load_settings


def write_conf(tmp_path, base: str, env_name: str = "local", env: str = "") -> str:
    (tmp_path / "base.yaml").write_text(textwrap.dedent(base))
    (tmp_path / f"{env_name}.yaml").write_text(textwrap.dedent(env))
    return str(tmp_path)


BASE = """
spark:
  app_name: base-app
  shuffle_partitions: 8
  conf:
    a.b: "1"
    c.d: "2"
"""


def test_layers_apply_in_order(tmp_path):
    conf = write_conf(tmp_path, BASE, env="spark:\n  master: local[3]\n  shuffle_partitions: 6\n  conf:\n    a.b: '10'\n")
    s = load_settings("local", conf_dir=conf, environ={"TRADELAKE__SPARK__SHUFFLE_PARTITIONS": "5"})
    assert s.spark.master == "local[3]"  # env file
    assert s.spark.app_name == "base-app"  # base
    assert s.spark.shuffle_partitions == 5  # environment variable beats the files
    assert s.spark.conf == {"a.b": "10", "c.d": "2"}  # maps merge key by key
    s = load_settings("local", conf_dir=conf, environ={"TRADELAKE__SPARK__SHUFFLE_PARTITIONS": "5"},
                      overrides=["spark.shuffle_partitions=3"])
    assert s.spark.shuffle_partitions == 3  # the CLI beats everything


def test_unknown_key_names_key_and_file(tmp_path):
    conf = write_conf(tmp_path, BASE + "  shufle_partitions: 3\n", env="spark:\n  master: local\n")
    with pytest.raises(ConfigError, match=r"base\.yaml: unknown key 'spark\.shufle_partitions'"):
        load_settings("local", conf_dir=conf, environ={})


def test_unknown_section(tmp_path):
    conf = write_conf(tmp_path, BASE, env="spark:\n  master: local\nsilverr:\n  x: 1\n")
    with pytest.raises(ConfigError, match=r"local\.yaml: unknown key 'silverr'"):
        load_settings("local", conf_dir=conf, environ={})


def test_wrong_type_names_key_and_file(tmp_path):
    conf = write_conf(tmp_path, BASE, env="spark:\n  master: local\n  shuffle_partitions: many\n")
    with pytest.raises(ConfigError, match=r"local\.yaml: 'spark\.shuffle_partitions' must be an integer, got 'many'"):
        load_settings("local", conf_dir=conf, environ={})


def test_wrong_type_from_environment_variable(tmp_path):
    conf = write_conf(tmp_path, BASE, env="spark:\n  master: local\n")
    with pytest.raises(ConfigError, match=r"environment variable TRADELAKE__SILVER__ORPHAN_RETRY_DAYS: 'silver\.orphan_retry_days' must be an integer"):
        load_settings("local", conf_dir=conf, environ={"TRADELAKE__SILVER__ORPHAN_RETRY_DAYS": "soon"})


def test_wrong_type_from_cli(tmp_path):
    conf = write_conf(tmp_path, BASE, env="spark:\n  master: local\n")
    with pytest.raises(ConfigError, match=r"--set pii\.allow_default_key: 'pii\.allow_default_key' must be true or false"):
        load_settings("local", conf_dir=conf, environ={}, overrides=["pii.allow_default_key=maybe"])


def test_missing_required_value_names_key_and_files(tmp_path):
    conf = write_conf(tmp_path, BASE, env_name="cluster", env="pii:\n  allow_default_key: false\n")
    with pytest.raises(ConfigError, match=r"required value 'spark\.master' is not set \(read: .*base\.yaml, .*cluster\.yaml"):
        load_settings("cluster", conf_dir=conf, environ={})


def test_project_environments_load():
    for env in ("local", "test"):
        s = load_settings(env, environ={})
        assert s.spark.master.startswith("local")
        assert s.pii.allow_default_key
    cluster = load_settings("cluster", environ={"TRADELAKE__SPARK__MASTER": "spark://10.0.0.1:7077"})
    assert cluster.spark.master == "spark://10.0.0.1:7077"
    assert not cluster.pii.allow_default_key
    with pytest.raises(ConfigError, match="spark.master"):
        load_settings("cluster", environ={})


def test_unknown_environment():
    with pytest.raises(ConfigError, match="unknown environment 'prod'"):
        load_settings("prod", environ={})


def test_relative_paths_resolve_against_project_root():
    s = load_settings("local", environ={})
    assert s.lakehouse_root.endswith("/lakehouse") and s.lakehouse_root.startswith("/")
    assert s.table_path("silver", "transactions") == s.lakehouse_root + "/silver/transactions"


def test_cli_sets_a_dotted_spark_setting(tmp_path):
    conf = write_conf(tmp_path, BASE, env="spark:\n  master: local\n")
    s = load_settings("local", conf_dir=conf, environ={}, overrides=["spark.conf.spark.sql.shuffle.partitions=7"])
    assert s.spark.conf == {"a.b": "1", "c.d": "2", "spark.sql.shuffle.partitions": "7"}
