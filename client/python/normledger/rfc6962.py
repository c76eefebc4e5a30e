"""RFC 6962 (RFC 9162 section 2.1) proof checks for the record log.

``verify_inclusion`` and ``verify_consistency`` are the functions of
docs/verifying.md, section 6, ported exactly (keep them in step with that
document: tests/test_rfc6962.py checks them against vectors made by the Go
implementation, ledger/store/tlog and ledger/store/tlog/logproof). They
return a bool and never raise on a bad proof.

``check_inclusion`` and ``check_consistency`` wrap them for callers: they
check the argument types and sizes first and raise ``ProofError`` on any
failure, with the reason.

Hashes are ``bytes`` of 32 (SHA-256). A leaf hash is
``SHA-256(0x00 || entry)``: for the record log the entry is a record's
signed transaction bytes (``StoredRecord.tx``, base64 in JSON).
"""

from __future__ import annotations

import hashlib
from typing import Sequence

from .errors import ProofError

HASH_SIZE = 32

#: Root hash of the empty log: SHA-256("").
EMPTY_ROOT = hashlib.sha256(b"").digest()


def sha256(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def leaf_hash(entry: bytes) -> bytes:
    """The RFC 6962 leaf hash of a log entry: SHA-256(0x00 || entry)."""
    return sha256(b"\x00" + entry)


def node_hash(left: bytes, right: bytes) -> bytes:
    """The RFC 6962 hash of an inner node: SHA-256(0x01 || left || right)."""
    return sha256(b"\x01" + left + right)


# --- docs/verifying.md, section 6, verbatim from here ---------------------

def verify_inclusion(index, size, leaf, path, root):   # leaf = sha256(b"\x00" + tx)
    if index >= size: return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0: return False
        if fn & 1 or fn == sn:
            r = sha256(b"\x01" + p + r)
            if not fn & 1:
                while fn != 0 and not fn & 1:
                    fn >>= 1; sn >>= 1
        else:
            r = sha256(b"\x01" + r + p)
        fn >>= 1; sn >>= 1
    return sn == 0 and r == root


def verify_consistency(n, m, path, root1, root2):
    if n > m: return False
    if n == m: return len(path) == 0 and root1 == root2
    if n == 0: return len(path) == 0          # everything extends the empty log
    if len(path) == 0: return False
    if n & (n - 1) == 0:                      # n is a power of two
        path = [root1] + path
    fn, sn = n - 1, m - 1
    while fn & 1:
        fn >>= 1; sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0: return False
        if fn & 1 or fn == sn:
            fr = sha256(b"\x01" + c + fr)
            sr = sha256(b"\x01" + c + sr)
            if not fn & 1:
                while fn != 0 and not fn & 1:
                    fn >>= 1; sn >>= 1
        else:
            sr = sha256(b"\x01" + sr + c)
        fn >>= 1; sn >>= 1
    return fr == root1 and sr == root2 and sn == 0

# --- end of the port --------------------------------------------------------


def _size(name: str, v) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ProofError(f"{name} must be an int, not {type(v).__name__}")
    if v < 0 or v >= 1 << 64:
        raise ProofError(f"{name} {v} is not a uint64")
    return v


def _hash(name: str, v) -> bytes:
    if not isinstance(v, (bytes, bytearray)):
        raise ProofError(f"{name} must be bytes, not {type(v).__name__}")
    if len(v) != HASH_SIZE:
        raise ProofError(f"{name} is {len(v)} bytes, not {HASH_SIZE}")
    return bytes(v)


def _path(v: Sequence[bytes]) -> list:
    if isinstance(v, (bytes, bytearray, str)):
        raise ProofError("the proof must be a list of hashes")
    return [_hash(f"proof[{i}]", h) for i, h in enumerate(v)]


def check_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes) -> None:
    """Raise ProofError unless ``path`` proves that ``leaf`` (a leaf hash,
    see ``leaf_hash``) is entry ``index`` of the tree of ``size`` entries
    whose root is ``root``."""
    index, size = _size("index", index), _size("size", size)
    leaf, root, path = _hash("leaf", leaf), _hash("root", root), _path(path)
    if index >= size:
        raise ProofError(f"entry {index} is beyond a log of {size} entries")
    if not verify_inclusion(index, size, leaf, path, root):
        raise ProofError(f"the inclusion proof of entry {index} does not lead to the root {root.hex()} of the log of {size} entries")


def check_consistency(first: int, second: int, path: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Raise ProofError unless ``path`` proves that the tree of ``second``
    entries with root ``root2`` extends the tree of ``first`` entries with
    root ``root1`` (both roots ones you proved, e.g. through ``meta/log``)."""
    first, second = _size("first", first), _size("second", second)
    root1, root2, path = _hash("root1", root1), _hash("root2", root2), _path(path)
    if first > second:
        raise ProofError(f"first ({first}) exceeds second ({second})")
    if not verify_consistency(first, second, path, root1, root2):
        raise ProofError(
            f"the log of {first} entries (root {root1.hex()}) is not a prefix of the log of {second} entries "
            f"(root {root2.hex()}): the consistency proof fails, so history was rewritten or the proof is wrong")
