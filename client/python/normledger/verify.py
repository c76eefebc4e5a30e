"""Full verification through the ``normledger verify`` command.

The command (cli/verify.go) verifies an answer without trusting the node
that gave it: CometBFT's light client from a trust root, cross-checked with
witness nodes, the ICS23 proofs, the record log and every signature. This
module runs it as a subprocess with ``-o json`` and turns its verdict into a
return value or an exception:

====================  =========================================  ==========================
exit status           meaning (cli/verify.go)                    here
====================  =========================================  ==========================
0                     verified                                   ``VerifyResult``
3                     verified absent (a non-membership proof)   ``RecordAbsentError``
                                                                 (or a result with
                                                                 ``absent=True`` when
                                                                 ``allow_absent``)
4                     not verified (the reason is printed)       ``NotVerifiedError``
1, other, timeout     usage, configuration, network, no trust    ``VerifyCommandError``
                      root, no witness
====================  =========================================  ==========================

All three exceptions derive from ``VerifyError`` (and ``NormledgerError``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from .errors import NotVerifiedError, RecordAbsentError, VerifyCommandError

__all__ = ["Verifier", "VerifyResult", "find_binary", "EXIT_OK", "EXIT_ERROR", "EXIT_NOT_FOUND", "EXIT_UNVERIFIED"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_NOT_FOUND = 3
EXIT_UNVERIFIED = 4


@dataclass
class VerifyResult:
    """A verdict of ``normledger verify``: ``verified`` (always True here:
    failures raise), ``absent`` (a verified absence), ``result`` (the
    command's JSON ``result``: for a record ``record_id``, ``kind``,
    ``author``, ``signers``, ``record_height``, ``height``, ``app_hash``,
    ``header_hash``, ``log_index``, ``log_size``, ``log_root``, ... as plain
    JSON numbers and strings), and the raw ``stdout``/``stderr``."""

    verified: bool
    absent: bool = False
    result: Optional[Dict[str, Any]] = None
    stdout: str = field(default="", repr=False)
    stderr: str = field(default="", repr=False)


def find_binary(binary: Optional[str] = None) -> str:
    """The normledger binary: ``binary``, else $NORMLEDGER_BIN, else
    ``normledger`` on PATH. Raises VerifyCommandError when none is found."""
    cand = binary or os.environ.get("NORMLEDGER_BIN") or "normledger"
    path = cand if os.sep in cand else shutil.which(cand)
    if not path or not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise VerifyCommandError(f"the normledger binary was not found ({cand!r}): pass binary=, set NORMLEDGER_BIN or put it on PATH")
    return path


def _reason(payload: Optional[dict], stdout: str, stderr: str) -> str:
    if payload and payload.get("error"):
        return str(payload["error"])
    for text in (stderr, stdout):
        lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
        if lines:
            ln = lines[-1]
            return ln[len("Error: "):] if ln.startswith("Error: ") else ln
    return "no reason given"


class Verifier:
    """Runs ``normledger verify`` subcommands against one node.

    ``node`` is the REST URL of the node whose answers are verified (the
    command's ``--node``). ``home`` is the command's ``--home``: its light
    client keeps a trust store in ``<home>/light`` (unless ``trust_store``
    is given per call), so later calls may omit the trust root. ``binary``
    as for ``find_binary``. ``timeout`` bounds each run, in seconds (the
    command itself gives up after two minutes).
    """

    def __init__(self, node: str, *, binary: Optional[str] = None, home: Optional[str] = None,
                 timeout: float = 180.0, env: Optional[Dict[str, str]] = None):
        self.node = node
        self.binary = find_binary(binary)
        self.home = home
        self.timeout = timeout
        self.env = env

    def run(self, *args: str, allow_absent: bool = False) -> VerifyResult:
        """Run ``normledger verify ARGS... --node NODE [--home HOME] -o json``
        and map its exit status as the module's table says."""
        argv = [self.binary, "verify", *args, "--node", self.node, "-o", "json"]
        if self.home:
            argv += ["--home", self.home]
        env = None
        if self.env is not None:
            env = dict(os.environ)
            env.update(self.env)
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout, env=env, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
            raise VerifyCommandError(f"normledger verify did not finish in {self.timeout:g} s", argv=argv,
                                     stdout=out, stderr=err) from None
        except OSError as e:
            raise VerifyCommandError(f"cannot run {self.binary}: {e}", argv=argv) from None
        payload = None
        try:
            payload = json.loads(p.stdout) if p.stdout.strip() else None
        except ValueError:
            payload = None
        if payload is not None and not isinstance(payload, dict):
            payload = None
        result = payload.get("result") if payload else None
        common = dict(argv=argv, exit_code=p.returncode, stdout=p.stdout, stderr=p.stderr, result=result)
        if p.returncode == EXIT_OK:
            if payload is not None and payload.get("verified") is False:
                # A zero exit that says otherwise: never report it as verified.
                raise NotVerifiedError(_reason(payload, p.stdout, p.stderr), **common)
            if payload is None or payload.get("verified") is not True:
                # A zero exit without its JSON report is not a verification.
                raise VerifyCommandError("normledger verify exited 0 without a JSON report saying verified", **common)
            return VerifyResult(verified=True, absent=bool(payload and payload.get("absent")), result=result,
                                stdout=p.stdout, stderr=p.stderr)
        if p.returncode == EXIT_NOT_FOUND and payload is not None and payload.get("absent"):
            if allow_absent:
                return VerifyResult(verified=True, absent=True, result=result, stdout=p.stdout, stderr=p.stderr)
            rid = (result or {}).get("record_id", "")
            raise RecordAbsentError(f"record {rid} provably does not exist at height {(result or {}).get('height')}", **common)
        if p.returncode == EXIT_UNVERIFIED:
            raise NotVerifiedError(_reason(payload, p.stdout, p.stderr), **common)
        raise VerifyCommandError(_reason(payload, p.stdout, p.stderr), **common)

    @staticmethod
    def _trust(genesis: Optional[str], trust_height: Optional[int], trust_hash: Optional[str],
               trust_period: Optional[str]) -> List[str]:
        a: List[str] = []
        if genesis:
            a += ["--genesis", os.fspath(genesis)]
        if trust_height is not None:
            a += ["--trust-height", str(int(trust_height))]
        if trust_hash:
            a += ["--trust-hash", trust_hash]
        if trust_period:
            a += ["--trust-period", trust_period]
        return a

    def record(self, record_id: str, *, witnesses: Sequence[str] = (), genesis: Optional[str] = None,
               trust_height: Optional[int] = None, trust_hash: Optional[str] = None,
               trust_period: Optional[str] = None, trust_store: Optional[str] = None,
               witness_policy: Optional[str] = None, bundle_out: Optional[str] = None,
               disclosures: Optional[str] = None, allow_absent: bool = False) -> VerifyResult:
        """``normledger verify record ID``: fetch the record with proofs from
        the node and verify it.

        Trust root: ``genesis`` (a genesis file whose SHA-256 you checked),
        or ``trust_height`` and ``trust_hash``, or the trust store of an
        earlier run. ``witnesses``: REST URLs of other nodes that headers are
        cross-checked with; the command needs at least one (a single node
        may name itself, which checks nothing but the light client's
        arithmetic). ``trust_period`` is a Go duration (``336h``).
        """
        if isinstance(witnesses, str):
            witnesses = [witnesses]
        if not re.fullmatch(r"[0-9a-fA-F]{64}", record_id or ""):
            # Never a flag in disguise: a record id is 64 hex digits.
            raise ValueError(f"{record_id!r} is not a record id (64 hex digits)")
        args = ["record", record_id]
        for w in witnesses:
            args += ["--witness", w]
        args += self._trust(genesis, trust_height, trust_hash, trust_period)
        if trust_store:
            args += ["--trust-store", os.fspath(trust_store)]
        if witness_policy:
            args += ["--witness-policy", os.fspath(witness_policy)]
        if bundle_out:
            args += ["--bundle-out", os.fspath(bundle_out)]
        if disclosures:
            args += ["--disclosures", os.fspath(disclosures)]
        return self.run(*args, allow_absent=allow_absent)

    def bundle(self, path: str, *, genesis: Optional[str] = None, trust_height: Optional[int] = None,
               trust_hash: Optional[str] = None, witness_policy: Optional[str] = None) -> VerifyResult:
        """``normledger verify bundle FILE``: re-check an offline evidence
        bundle (``query record --bundle`` or ``bundle_out=`` above), no
        network. Without a trust root the command only checks the bundle's
        internal consistency (and says so on stderr)."""
        path = os.fspath(path)
        if path.startswith("-"):
            path = os.path.join(".", path)  # a file, never a flag
        args = ["bundle", path] + self._trust(genesis, trust_height, trust_hash, None)
        if witness_policy:
            args += ["--witness-policy", os.fspath(witness_policy)]
        return self.run(*args)
