"""Integration tests against a running node (NORMLEDGER_URL), e.g. the
seeded ``normledger dev`` node that cmd/normledger/python_e2e_test.go
starts. They need a node that holds a few records, obligations and state
members (the dev node's examples do); the verification tests also need the
CLI (NORMLEDGER_BIN). See conftest.py for when they skip and when they fail.
"""

from __future__ import annotations

import base64
import collections
import copy
import json
import math
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from normledger import (APIError, LogState, NotVerifiedError, ProofError, RecordAbsentError, Verifier,
                        VerifyCommandError, check_record_inclusion, rfc6962)
from normledger.client import record_log_state

from conftest import _missing, b64

pytestmark = pytest.mark.integration

ABSENT_ID = "cd" * 32


@pytest.fixture(scope="session")
def snapshot(client):
    """Every record, obligation and member at one height, read with the
    node's default page size (and checked to be single pages where that
    matters), to compare the paginated reads with."""
    h = client.status()["latestAttestedHeight"]
    records = list(client.iter_records(height=h, page_size=200))
    obligations = list(client.iter_obligations(height=h, page_size=200))
    members = client.members(height=h).items
    if len(records) < 3 or len(obligations) < 3 or not any(m.get("class") == "MEMBER_CLASS_STATE" for m in members):
        _missing(f"the node at height {h} holds {len(records)} records, {len(obligations)} obligations and no or few "
                 "state members: these tests need a seeded node (normledger dev)")
    return {"height": h, "records": records, "obligations": obligations, "members": members}


def flip_b64(s: str) -> str:
    b = bytearray(base64.b64decode(s))
    b[-1] ^= 1
    return b64(bytes(b))


# --- reads and types ---------------------------------------------------------

def test_status_types(client):
    st = client.status()
    assert isinstance(st["chainId"], str) and st["chainId"]
    for f in ("latestHeight", "latestAttestedHeight", "earliestStateHeight", "appVersion"):
        assert isinstance(st[f], int), f
    assert st["latestHeight"] >= st["latestAttestedHeight"] >= 1
    assert all(isinstance(v["votingPower"], int) and v["votingPower"] > 0 for v in st["validators"])


def test_record_types(snapshot):
    for r in snapshot["records"]:
        assert isinstance(r["seq"], int) and isinstance(r["height"], int) and r["height"] >= 1
        assert isinstance(r["tx"], str)                        # bytes: base64, left alone
        assert r["kind"].startswith("RECORD_KIND_")           # enums: full names
        assert isinstance(r.get("txIndex", 0), int)           # 32-bit: a JSON number
    assert [r["seq"] for r in snapshot["records"]] == list(range(1, len(snapshot["records"]) + 1))


# --- pagination --------------------------------------------------------------

def test_records_paginate(client, snapshot):
    h, want = snapshot["height"], snapshot["records"]
    pages = list(client.record_pages(page_size=2, height=h))
    assert len(pages) == math.ceil(len(want) / 2) >= 2
    assert all(p.height == h for p in pages)
    assert all(p.next_page_token for p in pages[:-1]) and pages[-1].next_page_token is None
    got = [r for p in pages for r in p.items]
    assert [r["id"] for r in got] == [r["id"] for r in want]
    assert got == want  # every field, converted alike


def test_records_paginate_pinned_by_default(client, snapshot):
    # Without a height the first page is read at the newest attested height
    # and the next ones at that same height.
    pages = list(client.record_pages(page_size=5))
    assert len({p.height for p in pages}) == 1
    assert pages[0].height >= snapshot["height"]
    ids = [r["id"] for p in pages for r in p.items]
    assert len(ids) == len(set(ids)) >= len(snapshot["records"])
    assert ids[: len(snapshot["records"])] == [r["id"] for r in snapshot["records"]]


def common(values, n=2):
    """The n most common of values (most common first, then by name)."""
    counts = collections.Counter(values)
    return [v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def test_records_paginate_filtered(client, snapshot):
    # Filters picked from the data, so that each selects several records
    # spread over the log: the node scans an index, page by page.
    h, recs = snapshot["height"], snapshot["records"]
    cases = [({"author": a}, lambda r, a=a: r["author"] == a) for a in common(r["author"] for r in recs)]
    kinds = common((r["kind"] for r in recs), 2)
    cases.append(({"kind": kinds[0]}, lambda r: r["kind"] == kinds[0]))                      # full enum name
    short = kinds[-1][len("RECORD_KIND_"):].lower()
    cases.append(({"kind": short}, lambda r: r["kind"] == kinds[-1]))                          # short name
    for flt, match in cases:
        want = [r["id"] for r in recs if match(r)]
        got = [r["id"] for r in client.iter_records(page_size=1, height=h, **flt)]
        assert want and got == want, flt


def test_obligations_paginate(client, snapshot):
    h, want = snapshot["height"], snapshot["obligations"]
    pages = list(client.obligation_pages(page_size=3, height=h))
    assert len(pages) >= 2 and all(p.height == h for p in pages)
    got = [o for p in pages for o in p.items]
    assert got == want
    ids = [o["id"] for o in got]
    assert len(ids) == len(set(ids))
    for o in got:
        assert isinstance(o["createdHeight"], int) and o["createdHeight"] >= 1
        assert isinstance(o["statusHeight"], int)
        assert o["status"].startswith("OBLIGATION_STATUS_")


def test_obligations_paginate_filtered(client, snapshot):
    h, obs = snapshot["height"], snapshot["obligations"]
    cases = [({"debtor": d}, lambda o, d=d: o["debtor"] == d) for d in common(o["debtor"] for o in obs)]
    for st in common((o["status"] for o in obs), 2):
        short = st[len("OBLIGATION_STATUS_"):].lower()
        cases.append(({"status": short}, lambda o, st=st: o["status"] == st))
        cases.append(({"status": st}, lambda o, st=st: o["status"] == st))
    for flt, match in cases:
        want = sorted(o["id"] for o in obs if match(o))
        got = [o["id"] for o in client.iter_obligations(page_size=2, height=h, **flt)]
        assert len(got) == len(set(got)), flt
        assert want and sorted(got) == want, flt  # the index scanned orders them its own way


def test_members(client, snapshot):
    page = client.members(height=snapshot["height"])
    assert page.next_page_token is None and page.height == snapshot["height"]
    ids = [m["id"] for m in page.items]
    assert len(ids) == len(set(ids)) and ids == [m["id"] for m in snapshot["members"]]
    for m in page.items:
        assert isinstance(m["validatorPower"], int)
        for k in m.get("keys", []):
            assert isinstance(k["validFromHeight"], int) and isinstance(k["validUntilHeight"], int)
    states = list(client.iter_members(height=snapshot["height"], member_class="state"))
    assert states and all(m["class"] == "MEMBER_CLASS_STATE" for m in states)
    assert states == list(client.iter_members(height=snapshot["height"], member_class=["MEMBER_CLASS_STATE"]))
    assert len(list(client.iter_members(height=snapshot["height"]))) == len(ids)


def test_compliance(client, snapshot):
    h = snapshot["height"]
    states = [m["id"] for m in snapshot["members"] if m.get("class") == "MEMBER_CLASS_STATE"]
    figures = list(client.iter_compliance(member_class="state", height=h))
    assert [c["member"] for c in figures] == states
    assert all(c["height"] == h for c in figures)
    for c in figures:
        # Real (non-exercise) obligations owed, by status: the same as the
        # obligations listing says of this debtor at this height.
        owed = [o for o in snapshot["obligations"] if o["debtor"] == c["member"] and not o.get("exercise")]
        by_status = {s["status"]: s.get("count", 0) for s in c.get("obligations", [])}
        assert sum(by_status.values()) == len(owed), c["member"]
        for st, n in by_status.items():
            assert n == sum(1 for o in owed if o["status"] == st), (c["member"], st)
        for f in ("timeToAcknowledge", "timeToDisclose", "timeToRemediate"):
            if f in c:
                assert isinstance(c[f]["medianSeconds"], int)
    # Unpinned, the figures are still of one height; by id, in the order given.
    some = list(client.iter_compliance(members=list(reversed(states))))
    assert [c["member"] for c in some] == list(reversed(states)) and len({c["height"] for c in some}) == 1


# --- errors ------------------------------------------------------------------

def test_api_errors(client):
    with pytest.raises(APIError) as ei:
        client.record("zz")
    assert (ei.value.http_status, ei.value.code_name) == (400, "bad_format")
    with pytest.raises(APIError) as ei:
        client.record(ABSENT_ID)
    assert (ei.value.http_status, ei.value.code, ei.value.code_name) == (404, 19, "unknown_record")
    with pytest.raises(APIError) as ei:
        list(client.iter_records(kind="no_such_kind"))
    assert ei.value.http_status == 400
    with pytest.raises(APIError) as ei:
        list(client.iter_records(page_token="not-a-token"))
    assert ei.value.code_name == "bad_format"


# --- RFC 6962 against the node's proofs ----------------------------------------

def test_record_inclusion(client, snapshot):
    for rec in (snapshot["records"][0], snapshot["records"][len(snapshot["records"]) // 2], snapshot["records"][-1]):
        ans = client.record(rec["id"], prove=True, height=snapshot["height"])
        ls = check_record_inclusion(ans)
        assert ls.height == snapshot["height"] and ls.size == len(snapshot["records"])
        # The meta/log value is what GET /v1/log says at that height.
        assert client.log_state(height=snapshot["height"]) == ls

    ans = client.record(snapshot["records"][1]["id"], prove=True, height=snapshot["height"])
    check_record_inclusion(ans)
    tampered = []
    a = copy.deepcopy(ans)
    a["inclusion"]["hashes"][0] = flip_b64(a["inclusion"]["hashes"][0])
    tampered.append(("a sibling hash", a))
    a = copy.deepcopy(ans)
    a["inclusion"]["hashes"] = a["inclusion"]["hashes"][:-1]
    tampered.append(("a truncated proof", a))
    a = copy.deepcopy(ans)
    a["inclusion"]["logIndex"] += 1
    tampered.append(("the entry index", a))
    a = copy.deepcopy(ans)
    a["record"]["tx"] = flip_b64(a["record"]["tx"])
    tampered.append(("the tx", a))
    a = copy.deepcopy(ans)
    a["record"]["seq"] += 1
    a["inclusion"]["logIndex"] += 1
    tampered.append(("the seq and the index", a))
    a = copy.deepcopy(ans)
    v = bytearray(base64.b64decode(a["proofs"][1]["value"]))
    v[-1] ^= 1
    a["proofs"][1]["value"] = b64(bytes(v))
    tampered.append(("the log root", a))
    # The size alone: an inclusion proof binds it only through the shape of
    # the path (for an entry left of the tree's last subtree, a proof for
    # size N also passes for N+1), which is why the meta/log value must be
    # proven (ICS23, by the CLI). A size that changes the shape is caught.
    a = copy.deepcopy(ans)
    v = bytearray(base64.b64decode(a["proofs"][1]["value"]))
    v[:8] = (a["inclusion"]["logIndex"] + 1).to_bytes(8, "big")
    a["proofs"][1]["value"] = b64(bytes(v))
    tampered.append(("the log size", a))
    other = client.record(snapshot["records"][2]["id"], prove=True, height=snapshot["height"])
    a = copy.deepcopy(ans)
    a["inclusion"] = other["inclusion"]
    tampered.append(("another record's proof", a))
    for what, a in tampered:
        with pytest.raises(ProofError):
            check_record_inclusion(a)
            pytest.fail(f"tampered {what} passed")


def test_record_inclusion_needs_prove(client, snapshot):
    with pytest.raises(ProofError, match="prove"):
        check_record_inclusion(client.record(snapshot["records"][0]["id"]))


def test_log_consistency(client, snapshot):
    recs = snapshot["records"]
    mid = recs[len(recs) // 2]
    old = client.log_state(height=mid["height"])
    new = client.log_state(height=snapshot["height"])
    assert 1 <= old.size < new.size == len(recs)
    assert old.size >= mid["seq"]
    client.check_log_extends(old, new)
    client.check_log_extends(new, old)           # either order
    client.check_log_extends(new, new)
    proof = client.consistency_proof(old.size, new.size)
    rfc6962.check_consistency(old.size, new.size, proof, old.root, new.root)
    with pytest.raises(ProofError):
        client.check_log_extends(LogState(old.height, old.size, bytes(32)), new)
    with pytest.raises(ProofError):
        client.check_log_extends(old, LogState(new.height, new.size, bytes(32)))
    with pytest.raises(ProofError):
        client.check_log_extends(new, LogState(0, new.size, old.root))
    bad = list(proof)
    bad[0] = bytes(32)
    with pytest.raises(ProofError):
        rfc6962.check_consistency(old.size, new.size, bad, old.root, new.root)
    # From the empty log, and one entry at a time near the end.
    client.check_log_extends(LogState(0, 0, rfc6962.EMPTY_ROOT), new)
    for s in range(max(1, new.size - 3), new.size):
        client.check_log_extends(client.log_state(height=recs[s - 1]["height"]), new)


# --- full verification with the CLI -------------------------------------------

@pytest.fixture
def verifier(node_url, cli_bin, tmp_path):
    return Verifier(node_url, binary=cli_bin, home=str(tmp_path / "home"), timeout=150)


def test_verify_record(verifier, node_url, genesis_file, snapshot, tmp_path):
    rec = snapshot["records"][0]
    res = verifier.record(rec["id"], witnesses=[node_url], genesis=genesis_file, bundle_out=str(tmp_path / "bundle.json"))
    assert res.verified and not res.absent
    r = res.result
    assert r["record_id"] == rec["id"] and r["author"] == rec["author"] and r["record_height"] == rec["height"]
    assert r["log_index"] == rec["seq"] - 1 and r["log_size"] >= len(snapshot["records"])
    # The trust store of the first run is enough for the next.
    res = verifier.record(snapshot["records"][-1]["id"], witnesses=[node_url])
    assert res.verified and res.result["record_id"] == snapshot["records"][-1]["id"]
    # The bundle verifies offline from the genesis...
    assert verifier.bundle(str(tmp_path / "bundle.json"), genesis=genesis_file).verified
    # ...and a bundle with a tampered proof does not.
    b = json.loads((tmp_path / "bundle.json").read_text())
    b["record"]["inclusion"]["hashes"][0] = flip_b64(b["record"]["inclusion"]["hashes"][0])
    (tmp_path / "tampered.json").write_text(json.dumps(b))
    with pytest.raises(NotVerifiedError) as ei:
        verifier.bundle(str(tmp_path / "tampered.json"), genesis=genesis_file)
    assert ei.value.exit_code == 4 and ei.value.reason


def test_verify_absent(verifier, node_url, genesis_file):
    with pytest.raises(RecordAbsentError) as ei:
        verifier.record(ABSENT_ID, witnesses=[node_url], genesis=genesis_file)
    assert ei.value.exit_code == 3 and ei.value.result["record_id"] == ABSENT_ID
    res = verifier.record(ABSENT_ID, witnesses=[node_url], allow_absent=True)
    assert res.verified and res.absent


def test_verify_needs_a_witness_and_a_root(verifier, node_url, genesis_file, snapshot):
    rid = snapshot["records"][0]["id"]
    with pytest.raises(VerifyCommandError) as ei:
        verifier.record(rid, genesis=genesis_file)
    assert ei.value.exit_code == 1 and "witness" in ei.value.reason
    with pytest.raises(VerifyCommandError) as ei:
        verifier.record(rid, witnesses=[node_url])  # a fresh home: no trust store yet
    assert ei.value.exit_code == 1 and "trust" in ei.value.reason


class Liar:
    """A proxy on 127.0.0.1 in front of the node that passes everything
    through, except that it changes one hash of every record's inclusion
    proof: what a node rewriting history would have to do."""

    def __init__(self, upstream: str):
        up = upstream.rstrip("/")
        if "://" not in up:
            up = "http://" + up

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                try:
                    with urllib.request.urlopen(up + self.path, timeout=30) as r:
                        status, body, ctype = r.status, r.read(), r.headers.get("Content-Type", "application/json")
                except urllib.error.HTTPError as e:
                    status, body, ctype = e.code, e.read(), e.headers.get("Content-Type", "application/json")
                if self.path.startswith("/v1/records/") and status == 200:
                    d = json.loads(body)
                    if d.get("inclusion", {}).get("hashes"):
                        d["inclusion"]["hashes"][0] = flip_b64(d["inclusion"]["hashes"][0])
                        body = json.dumps(d).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_verify_catches_a_lying_node(node_url, cli_bin, genesis_file, snapshot, tmp_path):
    liar = Liar(node_url)
    try:
        v = Verifier(liar.url, binary=cli_bin, home=str(tmp_path / "home"), timeout=150)
        rec = snapshot["records"][1]
        with pytest.raises(NotVerifiedError) as ei:
            v.record(rec["id"], witnesses=[node_url], genesis=genesis_file)
        e = ei.value
        assert e.exit_code == 4 and "NOT VERIFIED" in str(e)
        assert "not in the log" in e.reason  # the verifier names the tampered inclusion proof
        # The same record through the honest node verifies.
        assert Verifier(node_url, binary=cli_bin, home=str(tmp_path / "home"), timeout=150).record(
            rec["id"], witnesses=[node_url]).verified
    finally:
        liar.close()
