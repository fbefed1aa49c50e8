"""PII: HMAC-SHA-256 from Spark built-ins equals the reference implementation; the key's rules."""
from __future__ import annotations

import hashlib
import hmac

import pytest
from pyspark.sql import functions as F

from tradelake.config import PiiSettings
from tradelake.pii import PiiKeyError, hmac_sha256_hex, pseudonymise, resolve_key

VALUES = ["li.wei@acme.example.com", "+86 755 1234 5678", "ACCT-00000042", "", "ünïcødé ✓", "x" * 300]
KEYS = [b"k", b"tradelake-local-dev-key-not-a-secret", b"K" * 64, b"long key " * 20]  # short, 64 bytes, > block


@pytest.mark.parametrize("key", KEYS)
def test_hmac_equals_python_hmac(spark, key):
    df = spark.createDataFrame([(v,) for v in VALUES], "v string")
    got = {r["v"]: r["h"] for r in df.select("v", hmac_sha256_hex(F.col("v"), key).alias("h")).collect()}
    for v in VALUES:
        assert got[v] == hmac.new(key, v.encode("utf-8"), hashlib.sha256).hexdigest(), v


def test_pseudonymise_normalises_so_joins_still_work(spark):
    key = b"secret"
    df = spark.createDataFrame(
        [(" Li.Wei@Acme.example.com ", "email"), ("li.wei@acme.example.com", "email"),
         ("+86 (755) 1234-5678", "phone"), ("+867551234 5678", "phone"), (None, "email"), ("  ", "email")],
        "v string, kind string",
    )
    out = df.select(
        F.when(F.col("kind") == "email", pseudonymise(F.col("v"), "email", key))
        .otherwise(pseudonymise(F.col("v"), "phone", key)).alias("h")
    ).collect()
    hashes = [r["h"] for r in out]
    assert hashes[0] == hashes[1] == hmac.new(key, b"li.wei@acme.example.com", hashlib.sha256).hexdigest()
    assert hashes[2] == hashes[3] == hmac.new(key, b"+8675512345678", hashlib.sha256).hexdigest()
    assert hashes[4] is None and hashes[5] is None  # nothing to hash stays null


def test_key_from_environment():
    pii = PiiSettings(key_env_var="MY_KEY", allow_default_key=False)
    assert resolve_key(pii, {"MY_KEY": "s3cret"}) == b"s3cret"


def test_missing_key_is_an_error_outside_local_and_test():
    pii = PiiSettings(key_env_var="MY_KEY", allow_default_key=False)
    with pytest.raises(PiiKeyError, match="set the environment variable MY_KEY"):
        resolve_key(pii, {})


def test_default_key_only_where_allowed():
    pii = PiiSettings(key_env_var="MY_KEY", allow_default_key=True)
    assert resolve_key(pii, {}) == pii.default_key.encode()
    assert resolve_key(pii, {"MY_KEY": "real"}) == b"real"  # a real key always wins
