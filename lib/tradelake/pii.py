"""PII pseudonymisation: HMAC-SHA-256 with a key from the environment, built from Spark's sha2.

Spark has no HMAC function; HMAC(K, m) = SHA256((K' xor opad) || SHA256((K' xor ipad) || m)) (RFC 2104)
is composed here from built-ins, so it runs in the JVM (no Python UDF) and equals Python's hmac module
(tested). Values are normalised first so that the same person hashes the same way in every source.
"""
from __future__ import annotations

import hashlib
import logging
import os

from pyspark.sql import Column
from pyspark.sql import functions as F

from tradelake.config import PiiSettings

log = logging.getLogger(__name__)
_BLOCK = 64  # SHA-256 block size in bytes


class PiiKeyError(RuntimeError):
    pass


def resolve_key(pii: PiiSettings, environ: dict[str, str] | None = None) -> bytes:
    environ = os.environ if environ is None else environ
    key = environ.get(pii.key_env_var)
    if key:
        return key.encode("utf-8")
    if pii.allow_default_key:
        log.warning("PII key: %s is not set; using the documented local/test key (never in production)", pii.key_env_var)
        return pii.default_key.encode("utf-8")
    raise PiiKeyError(
        f"the PII hashing key is missing: set the environment variable {pii.key_env_var} "
        "(the default key is allowed only in the local and test environments)"
    )


def normalise(value: Column, kind: str) -> Column:
    v = F.trim(value)
    if kind == "email":
        return F.lower(v)
    if kind == "phone":
        return F.regexp_replace(v, r"[^0-9+]", "")
    return v


def hmac_sha256_hex(value: Column, key: bytes) -> Column:
    """Hex HMAC-SHA-256 of a string column (null stays null)."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\x00")
    ipad = bytes(b ^ 0x36 for b in key)
    opad = bytes(b ^ 0x5C for b in key)
    inner = F.unhex(F.sha2(F.concat(F.lit(ipad), F.encode(value, "UTF-8")), 256))
    return F.sha2(F.concat(F.lit(opad), inner), 256)


def pseudonymise(value: Column, kind: str, key: bytes) -> Column:
    v = normalise(value, kind)
    return F.when(v.isNull() | (v == ""), F.lit(None).cast("string")).otherwise(hmac_sha256_hex(v, key))


EMAIL_PATTERN = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"


def redact_free_text(value: Column) -> Column:
    """For raw text we cannot parse (a malformed line kept in quarantine): mask anything e-mail-like."""
    return F.regexp_replace(value, EMAIL_PATTERN, "<redacted-email>")
