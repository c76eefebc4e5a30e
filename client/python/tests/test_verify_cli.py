"""How Verifier maps the verify command's exit status and output, with a
stand-in binary (the real command runs in test_node.py)."""

from __future__ import annotations

import json
import os
import stat
import sys

import pytest

from normledger import (NotVerifiedError, RecordAbsentError, Verifier, VerifyCommandError, VerifyError,
                        find_binary)

FAKE = """#!{python}
import json, os, sys
with open(os.environ["FAKE_ARGV"], "w") as f:
    json.dump(sys.argv[1:], f)
sys.stdout.write(os.environ.get("FAKE_STDOUT", ""))
sys.stderr.write(os.environ.get("FAKE_STDERR", ""))
if os.environ.get("FAKE_SLEEP"):
    import time; time.sleep(float(os.environ["FAKE_SLEEP"]))
sys.exit(int(os.environ.get("FAKE_EXIT", "0")))
"""


@pytest.fixture
def fake(tmp_path):
    p = tmp_path / "normledger"
    p.write_text(FAKE.format(python=sys.executable))
    p.chmod(p.stat().st_mode | stat.S_IXUSR)
    argv = tmp_path / "argv.json"

    def make(exit_code=0, stdout="", stderr="", **kw):
        env = {"FAKE_ARGV": str(argv), "FAKE_EXIT": str(exit_code), "FAKE_STDOUT": stdout, "FAKE_STDERR": stderr}
        env.update({k.upper(): str(v) for k, v in kw.items()})
        v = Verifier("http://127.0.0.1:1", binary=str(p), home=str(tmp_path / "home"), env=env, timeout=kw.pop("timeout", 30))
        v.argv = lambda: json.loads(argv.read_text())
        return v

    return make


RID = "ab" * 32  # a record id: 64 hex digits


def out(**kw):
    return json.dumps(kw, indent=2) + "\n"


def test_verified(fake):
    v = fake(0, out(verified=True, result={"record_id": RID, "height": 7, "log_size": 3}))
    r = v.record(RID, witnesses=["http://w1", "http://w2"], genesis="/g.json", bundle_out="/b.json")
    assert r.verified and not r.absent and r.result["height"] == 7
    assert v.argv() == ["verify", "record", RID, "--witness", "http://w1", "--witness", "http://w2",
                        "--genesis", "/g.json", "--bundle-out", "/b.json",
                        "--node", "http://127.0.0.1:1", "-o", "json", "--home", v.home]


def test_trust_flags(fake):
    v = fake(0, out(verified=True, result={}))
    v.record(RID, witnesses="http://w", trust_height=5, trust_hash="AB", trust_period="24h", trust_store="/ts")
    assert v.argv()[:12] == ["verify", "record", RID, "--witness", "http://w", "--trust-height", "5",
                             "--trust-hash", "AB", "--trust-period", "24h", "--trust-store"]
    v.bundle("/b.json", genesis="/g.json")
    assert v.argv()[:4] == ["verify", "bundle", "/b.json", "--genesis"]


def test_not_verified(fake):
    v = fake(4, out(verified=False, error="verification failed: log entry 0 is not in the log"), "Error: verification failed\n")
    with pytest.raises(NotVerifiedError) as ei:
        v.record(RID, witnesses=["http://w"])
    e = ei.value
    assert isinstance(e, VerifyError) and e.exit_code == 4
    assert "log entry 0 is not in the log" in str(e) and e.reason.startswith("verification failed")


def test_zero_exit_that_says_unverified_is_not_trusted(fake):
    with pytest.raises(NotVerifiedError):
        fake(0, out(verified=False, error="odd")).record(RID, witnesses=["http://w"])


def test_absent(fake):
    v = fake(3, out(verified=True, absent=True, result={"record_id": "cd" * 32, "height": 9}), "Error: record proven absent\n")
    with pytest.raises(RecordAbsentError) as ei:
        v.record("cd" * 32, witnesses=["http://w"])
    assert ei.value.exit_code == 3 and "height 9" in str(ei.value)
    r = v.record("cd" * 32, witnesses=["http://w"], allow_absent=True)
    assert r.verified and r.absent and r.result["height"] == 9


def test_command_errors(fake):
    with pytest.raises(VerifyCommandError) as ei:
        fake(1, "", "Error: light client: no witnesses connected. please reset light client\n").record(RID)
    assert ei.value.exit_code == 1 and ei.value.reason == "light client: no witnesses connected. please reset light client"
    # Exit 3 without an absence in the output is not a verdict.
    with pytest.raises(VerifyCommandError):
        fake(3, "", "Error: something\n").record(RID)
    with pytest.raises(VerifyCommandError) as ei:
        fake(0, "", "", fake_sleep=5, timeout=0.5).record(RID)
    assert "did not finish" in str(ei.value)


def test_binary_lookup(tmp_path, monkeypatch):
    monkeypatch.delenv("NORMLEDGER_BIN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(VerifyCommandError, match="not found"):
        find_binary()
    with pytest.raises(VerifyCommandError):
        find_binary(str(tmp_path / "nope"))
    b = tmp_path / "normledger"
    b.write_text("#!/bin/sh\n")
    b.chmod(0o755)
    assert find_binary() == str(b)
    monkeypatch.setenv("NORMLEDGER_BIN", str(b))
    assert find_binary() == str(b)


def test_zero_exit_without_a_report_is_not_a_verification(fake):
    with pytest.raises(VerifyCommandError):
        fake(0, "").record(RID, witnesses=["http://w"])
    with pytest.raises(VerifyCommandError):
        fake(0, out(result={})).record(RID, witnesses=["http://w"])


def test_arguments_are_never_flags(fake):
    v = fake(0, out(verified=True, result={}))
    with pytest.raises(ValueError):
        v.record("--trust-hash=00", witnesses=["http://w"])
    v.bundle("-b.json")
    assert v.argv()[:3] == ["verify", "bundle", "./-b.json"]
