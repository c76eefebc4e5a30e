"""normledger: a small, standard-library-only Python client for a normledger
node's REST API.

* ``Client``: reads, and paginating iterators over records, obligations,
  members and compliance (``normledger.client``);
* ``normledger.rfc6962``: RFC 6962 inclusion and consistency proof checks;
* ``Verifier``: full verification through the ``normledger verify``
  command (``normledger.verify``).

See client/python/README.md.
"""

from .client import DEFAULT_URL, Client, LogState, Page, check_record_inclusion, record_log_state
from .errors import (APIError, NormledgerError, NotVerifiedError, ProofError, RecordAbsentError,
                     VerifyCommandError, VerifyError)
from .rfc6962 import check_consistency, check_inclusion, leaf_hash, verify_consistency, verify_inclusion
from .verify import Verifier, VerifyResult, find_binary

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_URL", "Client", "LogState", "Page", "check_record_inclusion", "record_log_state",
    "APIError", "NormledgerError", "NotVerifiedError", "ProofError", "RecordAbsentError",
    "VerifyCommandError", "VerifyError",
    "check_consistency", "check_inclusion", "leaf_hash", "verify_consistency", "verify_inclusion",
    "Verifier", "VerifyResult", "find_binary",
]
