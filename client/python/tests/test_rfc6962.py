"""RFC 6962 proof checks against vectors made by the Go implementation.

rfc6962_vectors.json holds two trees, both made by ledger/store/tlog (the
node's log) and checked by ledger/store/tlog/logproof (transparency-dev/
merkle), which accepted every vector marked valid and rejected every one
marked invalid:

* reference_tree: the 8 leaves and roots of Certificate Transparency's RFC
  6962 test data (as transparency-dev/merkle's testonly package ships them),
  with every inclusion and consistency proof of that tree, and tampered
  variants of each;
* generated_tree: a log of 1100 entries across the 256-entry tiles.
"""

from __future__ import annotations

import json
import pathlib
import re

import pytest

from normledger import rfc6962
from normledger.errors import ProofError
from normledger.rfc6962 import (EMPTY_ROOT, check_consistency, check_inclusion, leaf_hash, node_hash,
                                verify_consistency, verify_inclusion)

VECTORS = json.loads((pathlib.Path(__file__).parent / "rfc6962_vectors.json").read_text())
TREES = ["reference_tree", "generated_tree"]
H = bytes.fromhex


def _id(v, kind):
    if kind == "inclusion":
        return f"{v['index']}/{v['size']}" + ("" if v["valid"] else f" {v['tamper']}")
    return f"{v['first']}->{v['second']}" + ("" if v["valid"] else f" {v['tamper']}")


def _cases(kind):
    out = []
    for t in TREES:
        for v in VECTORS[t][kind]:
            out.append(pytest.param(v, id=f"{t[:3]} {_id(v, kind)}"))
    return out


def ref_root(entries):
    """RFC 6962's Merkle tree hash, the slow obvious way (section 2.1)."""
    if not entries:
        return EMPTY_ROOT
    if len(entries) == 1:
        return leaf_hash(entries[0])
    k = 1
    while k * 2 < len(entries):
        k *= 2
    return node_hash(ref_root(entries[:k]), ref_root(entries[k:]))


def test_vector_counts():
    # The file is what the tests say it is: both trees, valid and tampered.
    for t in TREES:
        for kind in ("inclusion", "consistency"):
            vs = VECTORS[t][kind]
            assert sum(v["valid"] for v in vs) >= 36, (t, kind)
            assert sum(not v["valid"] for v in vs) >= 50, (t, kind)


def test_empty_root():
    assert EMPTY_ROOT.hex() == VECTORS["empty_root"] == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_reference_roots():
    # The reference tree's roots, recomputed from its leaves by the
    # definition: the vectors and the hashing agree with RFC 6962.
    t = VECTORS["reference_tree"]
    leaves = [H(e) for e in t["entries_hex"]]
    assert len(leaves) == 8 and len(t["roots_by_size"]) == 9
    for n, root in enumerate(t["roots_by_size"]):
        assert ref_root(leaves[:n]).hex() == root, n
    # Certificate Transparency's root of the 8-leaf tree.
    assert t["roots_by_size"][8] == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


def test_generated_roots():
    t = VECTORS["generated_tree"]
    entries = [(t["entry_format"] % i).encode() for i in range(1100)]
    for item in t["roots_by_size"]:
        n, root = item.split(":")
        assert ref_root(entries[: int(n)]).hex() == root, n


@pytest.mark.parametrize("v", _cases("inclusion"))
def test_inclusion(v):
    entry, path, root = H(v["entry_hex"]), [H(p) for p in v["path"]], H(v["root"])
    assert leaf_hash(entry).hex() == v["leaf_hash"]
    assert verify_inclusion(v["index"], v["size"], leaf_hash(entry), path, root) is v["valid"]
    if v["valid"]:
        check_inclusion(v["index"], v["size"], leaf_hash(entry), path, root)
    else:
        with pytest.raises(ProofError):
            check_inclusion(v["index"], v["size"], leaf_hash(entry), path, root)


@pytest.mark.parametrize("v", _cases("consistency"))
def test_consistency(v):
    path, r1, r2 = [H(p) for p in v["path"]], H(v["root1"]), H(v["root2"])
    assert verify_consistency(v["first"], v["second"], path, r1, r2) is v["valid"]
    if v["valid"]:
        check_consistency(v["first"], v["second"], path, r1, r2)
    else:
        with pytest.raises(ProofError):
            check_consistency(v["first"], v["second"], path, r1, r2)


def _valid(kind, tree="generated_tree"):
    return [v for v in VECTORS[tree][kind] if v["valid"]]


def test_every_bit_of_an_inclusion_proof_matters():
    # Beyond the Go-made tampered vectors: flip each bit of one proof's
    # hashes, the leaf and the root in turn; none may verify.
    v = max(_valid("inclusion"), key=lambda v: len(v["path"]))
    leaf, path, root = H(v["leaf_hash"]), [H(p) for p in v["path"]], H(v["root"])
    assert verify_inclusion(v["index"], v["size"], leaf, path, root)
    for k in range(len(path)):
        for bit in range(256):
            p2 = list(path)
            b = bytearray(p2[k])
            b[bit // 8] ^= 1 << (bit % 8)
            p2[k] = bytes(b)
            assert not verify_inclusion(v["index"], v["size"], leaf, p2, root), (k, bit)
    for bit in range(256):
        b = bytearray(leaf)
        b[bit // 8] ^= 1 << (bit % 8)
        assert not verify_inclusion(v["index"], v["size"], bytes(b), path, root)
        b = bytearray(root)
        b[bit // 8] ^= 1 << (bit % 8)
        assert not verify_inclusion(v["index"], v["size"], leaf, path, bytes(b))


def test_inclusion_index_at_or_past_size_rejected():
    # A valid proof never stretches to an entry the tree does not have.
    for v in _valid("inclusion"):
        leaf, path, root = H(v["leaf_hash"]), [H(p) for p in v["path"]], H(v["root"])
        for i2 in (v["size"], v["size"] + 1, v["index"] + v["size"]):
            assert not verify_inclusion(i2, v["size"], leaf, path, root)


def test_consistency_swapped_and_reordered_rejected():
    for v in _valid("consistency"):
        path, r1, r2 = [H(p) for p in v["path"]], H(v["root1"]), H(v["root2"])
        if v["first"] != v["second"]:
            assert not verify_consistency(v["first"], v["second"], path, r2, r1)
        if len(path) > 1:
            assert not verify_consistency(v["first"], v["second"], list(reversed(path)), r1, r2)


def test_consistency_edge_cases():
    r = H(VECTORS["reference_tree"]["roots_by_size"][5])
    # Every log extends the empty one, with an empty proof only.
    assert verify_consistency(0, 5, [], EMPTY_ROOT, r)
    assert not verify_consistency(0, 5, [r], EMPTY_ROOT, r)
    # Equal sizes: equal roots and an empty proof.
    assert verify_consistency(5, 5, [], r, r)
    assert not verify_consistency(5, 5, [], r, EMPTY_ROOT)
    assert not verify_consistency(5, 5, [r], r, r)
    # first > second never verifies.
    assert not verify_consistency(6, 5, [], r, r)
    with pytest.raises(ProofError):
        check_consistency(6, 5, [], r, r)


def test_inclusion_edge_cases():
    leaf = leaf_hash(b"only")
    assert verify_inclusion(0, 1, leaf, [], leaf)
    assert not verify_inclusion(1, 1, leaf, [], leaf)
    assert not verify_inclusion(0, 0, leaf, [], leaf)
    assert not verify_inclusion(0, 1, leaf, [leaf], leaf)


def test_check_argument_types():
    leaf = leaf_hash(b"only")
    for bad in [
        lambda: check_inclusion(0, 1, leaf.hex(), [], leaf),        # hex, not bytes
        lambda: check_inclusion(0, 1, leaf[:31], [], leaf),         # short hash
        lambda: check_inclusion(-1, 1, leaf, [], leaf),             # negative index
        lambda: check_inclusion(True, 2, leaf, [leaf], leaf),       # a bool is not an index
        lambda: check_inclusion(0, 2, leaf, leaf, leaf),            # bytes, not a list
        lambda: check_inclusion(0, 1 << 64, leaf, [], leaf),        # beyond uint64
        lambda: check_consistency(1, 2, [b"x" * 33], leaf, leaf),   # long hash
    ]:
        with pytest.raises(ProofError):
            bad()


def test_port_is_verbatim(verifying_md):
    # verify_inclusion and verify_consistency are docs/verifying.md's code,
    # character for character: a change to either side shows up here.
    src = pathlib.Path(rfc6962.__file__).read_text()
    blocks = re.findall(r"```python\n(.*?)```", verifying_md, re.S)
    funcs = [b for b in blocks if b.startswith("def verify_inclusion") or b.startswith("def verify_consistency")]
    assert len(funcs) == 2, "docs/verifying.md no longer shows both functions"
    for b in funcs:
        assert b in src, f"rfc6962.py differs from docs/verifying.md:\n{b}"
