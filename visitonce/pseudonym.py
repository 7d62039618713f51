"""Keyed pseudonyms: HMAC-SHA256 built from Spark's own ``sha2``, so it runs in the JVM.

HMAC(K, m) = H((K' xor opad) || H((K' xor ipad) || m)), where K' is the key padded to the
64-byte block. Both padded keys are constants, so the whole construction is two ``sha2`` calls
over ``concat`` of binary literals: no Python UDF, the same result as Python's ``hmac`` (tested).
A domain label ("citizen", "official") is prefixed to the message so the same raw string in two
roles gets unrelated pseudonyms.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from pyspark.sql import Column
from pyspark.sql import functions as F

KEY_ENV = "VISITONCE_PSEUDONYM_KEY"
_BLOCK = 64
# Hex characters kept: 128 bits, collision-free at any realistic population.
_KEEP_HEX = 32
MIN_KEY_LENGTH = 16


class MissingKeyError(RuntimeError):
    """No usable pseudonymization key."""


def key_from_env() -> bytes:
    """The key from ``$VISITONCE_PSEUDONYM_KEY``; refuse to run without a real one."""
    raw = os.environ.get(KEY_ENV, "")
    if not raw:
        raise MissingKeyError(
            f"{KEY_ENV} is not set: export a secret key, e.g. "
            f"`export {KEY_ENV}=$(openssl rand -hex 32)`, and keep it safe "
            "(the same key gives the same pseudonyms across runs)"
        )
    if len(raw) < MIN_KEY_LENGTH:
        raise MissingKeyError(
            f"{KEY_ENV} is only {len(raw)} characters: use at least {MIN_KEY_LENGTH} "
            f"(e.g. `export {KEY_ENV}=$(openssl rand -hex 32)`)"
        )
    return raw.encode("utf-8")


def key_id(key: bytes) -> str:
    """A fingerprint of the key for manifests: says whether two runs' pseudonyms are comparable."""
    return hmac.new(key, b"visitonce-key-id", hashlib.sha256).hexdigest()[:12]


def _padded(key: bytes) -> bytes:
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    return key.ljust(_BLOCK, b"\x00")


def pseudonym_py(value: str, *, key: bytes, domain: str) -> str:
    """Reference implementation (Python's hmac), used by tests and small driver-side lookups."""
    digest = hmac.new(key, f"{domain}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{domain[0]}_{digest[:_KEEP_HEX]}"


def pseudonym(col: Column, *, key: bytes, domain: str) -> Column:
    """Column expression: keyed pseudonym of a string column; null and empty stay null."""
    k = _padded(key)
    ipad = bytes(b ^ 0x36 for b in k)
    opad = bytes(b ^ 0x5C for b in k)
    message = F.encode(F.concat(F.lit(f"{domain}:"), col), "UTF-8")
    inner = F.unhex(F.sha2(F.concat(F.lit(ipad), message), 256))
    outer = F.sha2(F.concat(F.lit(opad), inner), 256)
    value = F.concat(F.lit(f"{domain[0]}_"), F.substring(outer, 1, _KEEP_HEX))
    return F.when(col.isNull() | (F.trim(col) == ""), F.lit(None)).otherwise(value)
