"""Exceptions of the normledger client. Every one derives from NormledgerError."""

from __future__ import annotations

from typing import Any, Optional


class NormledgerError(Exception):
    """Base class of every error this package raises."""


class APIError(NormledgerError):
    """The node answered a REST request with an error (HTTP status >= 400).

    The body of every error answer is a ``google.rpc.Status``: ``code`` is
    gRPC's code, ``message`` a sentence, and ``details`` holds a
    ``normledger.v1.ErrorInfo`` whose ``code`` and ``codeName`` are the
    ledger's result code (docs/verifying.md, section 9, "Errors and result codes"). A 404 with
    ``prove=true`` may carry a second detail that proves the absence.
    """

    def __init__(self, url: str, http_status: int, body: Any, text: str = ""):
        self.url = url
        self.http_status = http_status
        self.body = body if isinstance(body, dict) else None
        b = self.body or {}
        self.grpc_code: Optional[int] = b.get("code")
        self.message: str = b.get("message") or text or f"HTTP {http_status}"
        self.details: list = list(b.get("details") or [])
        info = next((d for d in self.details if str(d.get("@type", "")).endswith("normledger.v1.ErrorInfo")), {})
        # The ledger's result code (ErrorInfo.code) and its name, e.g. 19
        # and "unknown_record"; None when the answer carried no ErrorInfo
        # (a proxy in front of the node, say).
        self.code: Optional[int] = info.get("code")
        self.code_name: Optional[str] = info.get("codeName")
        name = f" {self.code_name}" if self.code_name else ""
        super().__init__(f"{url}: HTTP {http_status}{name}: {self.message}")


class ProofError(NormledgerError):
    """An RFC 6962 inclusion or consistency proof did not verify."""


class VerifyError(NormledgerError):
    """``normledger verify ...`` did not report a successful verification.

    Attributes: ``argv`` (the command run), ``exit_code`` (None when it did
    not finish), ``stdout``, ``stderr``, ``result`` (the parsed ``-o json``
    output when there was one, else None) and ``reason`` (the verifier's own
    words: its ``error`` field, or the last line of stderr).
    """

    #: What the message starts with (subclasses say what happened).
    summary = ""

    def __init__(self, reason: str, *, argv=None, exit_code=None, stdout="", stderr="", result=None):
        self.reason = reason
        self.argv = list(argv or [])
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr
        self.result = result
        where = f" (exit status {exit_code})" if exit_code is not None else ""
        super().__init__(f"{self.summary}{reason}{where}")


class NotVerifiedError(VerifyError):
    """Exit status 4: the answer could not be verified (tampering, a bad
    proof, a header not signed by enough validators, witnesses that
    disagree). This is the one that means "do not trust this node"."""

    summary = "NOT VERIFIED: "


class RecordAbsentError(VerifyError):
    """Exit status 3: the record provably does not exist at the height the
    answer was read at (a verified non-membership proof)."""


class VerifyCommandError(VerifyError):
    """The verifier could not run to a verdict: exit status 1 (usage,
    configuration, network, no trust root, no witness), a timeout, an
    unexpected status, or the binary was not found."""
