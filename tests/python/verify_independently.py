#!/usr/bin/env python3
"""Checks OneVisit's signed artefacts with implementations that share no code with ours:
RFC 8785 canonical form with the `rfc8785` package, Ed25519 with `cryptography` (OpenSSL), and the
agency seal's SM2-with-SM3 signatures with `gmssl` (items with "algorithm": "sm2").

Usage: verify_independently.py ARTEFACTS.json
The file lists items {"kind", "canonical" (text), "signature" (hex) | "token", "public_key" (hex),
"expect_valid" (bool), optional "sha256"}. Prints one line per item and exits 1 on any surprise.
"""
import base64
import hashlib
import json
import sys

import rfc8785
from cryptography.exceptions import InvalidSignature
from gmssl import sm2 as gm_sm2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def check_sm2(item):
    """An SM2 signature (hex r||s) over the canonical bytes, with SM3 and the default signer id."""
    canonical = item["canonical"].encode("utf-8")
    crypt = gm_sm2.CryptSM2(private_key=None, public_key="")
    # Set after construction: gmssl's constructor strips leading "0"/"4" characters of a key
    # that starts with "04", which would damage some keys.
    crypt.public_key = item["public_key"]
    canonical_ok = rfc8785.dumps(json.loads(canonical)) == canonical
    try:
        signature_ok = bool(crypt.verify_with_sm3(item["signature"], canonical))
    except (ValueError, ZeroDivisionError):
        signature_ok = False
    return canonical_ok, True, signature_ok


def check(item):
    if item.get("algorithm") == "sm2":
        return check_sm2(item)
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(item["public_key"]))
    if item["kind"] == "task_token":
        prefix, payload, signature = item["token"].split(".")
        assert prefix == "OV1"
        pad = lambda s: s + "=" * (-len(s) % 4)
        canonical = base64.urlsafe_b64decode(pad(payload))
        signature = base64.urlsafe_b64decode(pad(signature))
    else:
        canonical = item["canonical"].encode("utf-8")
        signature = bytes.fromhex(item["signature"])
    canonical_ok = rfc8785.dumps(json.loads(canonical)) == canonical
    hash_ok = "sha256" not in item or hashlib.sha256(canonical).hexdigest() == item["sha256"]
    try:
        key.verify(signature, canonical)
        signature_ok = True
    except InvalidSignature:
        signature_ok = False
    return canonical_ok, hash_ok, signature_ok


def main():
    items = json.load(open(sys.argv[1], encoding="utf-8"))
    surprises = 0
    for item in items:
        canonical_ok, hash_ok, signature_ok = check(item)
        valid = canonical_ok and hash_ok and signature_ok
        ok = valid == item["expect_valid"]
        surprises += not ok
        print(f"{'ok ' if ok else 'BAD'} {item['kind']:<20} canonical={canonical_ok} hash={hash_ok} "
              f"signature={signature_ok} expected_valid={item['expect_valid']}")
    print(f"{len(items) - surprises} passed, {surprises} failed")
    sys.exit(1 if surprises else 0)


if __name__ == "__main__":
    main()
