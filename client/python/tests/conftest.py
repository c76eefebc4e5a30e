"""Fixtures of the client's tests.

Unit tests need nothing. Integration tests (marked ``integration``) need a
running node: its REST URL in NORMLEDGER_URL and, for the verification
tests, the CLI in NORMLEDGER_BIN (else ``normledger`` on PATH). Without them
they skip, unless NORMLEDGER_REQUIRE_NODE=1: then they fail, so that a run
that was meant to exercise a node cannot pass without one.
"""

from __future__ import annotations

import base64
import hashlib
import os
import pathlib
import shutil

import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent.parent  # client/python/tests -> the repository


def _require() -> bool:
    return os.environ.get("NORMLEDGER_REQUIRE_NODE") == "1"


def _missing(what: str):
    msg = f"{what} (NORMLEDGER_REQUIRE_NODE=1 makes this a failure)"
    if _require():
        pytest.fail(f"NORMLEDGER_REQUIRE_NODE=1 but {what}", pytrace=False)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def node_url() -> str:
    url = os.environ.get("NORMLEDGER_URL", "").strip()
    if not url:
        _missing("NORMLEDGER_URL is not set: no node to test against")
    return url


@pytest.fixture(scope="session")
def client(node_url):
    from normledger import Client
    return Client(node_url, timeout=20)


@pytest.fixture(scope="session")
def cli_bin() -> str:
    b = os.environ.get("NORMLEDGER_BIN", "").strip() or shutil.which("normledger") or ""
    if not b or not os.access(b, os.X_OK):
        _missing("NORMLEDGER_BIN is not set and no normledger binary is on PATH")
    return b


@pytest.fixture(scope="session")
def genesis_file(client, tmp_path_factory) -> str:
    """The chain's genesis file, the verifier's trust root.

    NORMLEDGER_GENESIS names it when the test runner has it from elsewhere
    (the Go test passes the dev node's own file, so the root does not come
    from the node under test). Otherwise it is fetched from the node, and
    must then hash to what the node serves: fine for a test, not for real
    use (compare the hash with the published one).
    """
    g = os.environ.get("NORMLEDGER_GENESIS", "").strip()
    if g:
        served = client.genesis_bytes()
        with open(g, "rb") as f:
            local = f.read()
        assert hashlib.sha256(local).digest() == hashlib.sha256(served).digest(), \
            "NORMLEDGER_GENESIS is not the genesis the node serves"
        return g
    path = tmp_path_factory.mktemp("genesis") / "genesis.json"
    path.write_bytes(client.genesis_bytes())
    return str(path)


@pytest.fixture(scope="session")
def swagger_path():
    p = REPO / "proto" / "gen" / "normledger.swagger.json"
    if not p.is_file():
        pytest.skip(f"{p} not found (the tests run outside the repository)")
    return p


@pytest.fixture(scope="session")
def verifying_md():
    p = REPO / "docs" / "verifying.md"
    if not p.is_file():
        pytest.skip(f"{p} not found (the tests run outside the repository)")
    return p.read_text(encoding="utf-8")


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()
