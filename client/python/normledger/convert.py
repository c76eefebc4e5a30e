"""The deliberate conversion of the REST API's 64-bit integers.

The REST API speaks proto3 JSON (docs/verifying.md, section 2): 64-bit
integers (int64, uint64) are JSON **strings** (``"height": "41"``), 32-bit
ones are numbers, and a field that holds its zero value is **omitted**.

This module lists, for each answer the client returns, every int64/uint64
field it turns into a Python ``int``; a listed field that is missing (its
zero value) becomes ``0``. Nothing else is touched:

* 32-bit integers (``txIndex``, ``count``, ``basisPoints``, ...) are numbers
  already, and are left omitted when zero: read them with ``.get(f, 0)``;
* ``bytes`` fields stay base64 strings (``tx``, ``root``, ``hashes``,
  ``Proof.key``/``value``/``proof``, public keys);
* timestamps stay RFC 3339 strings; enums stay their full names
  (``"RECORD_KIND_PLEDGE"``);
* ``StoredRecord.decoded`` (a reading aid, never proven) and ``Proof``
  messages are passed through as they came, strings included.

tests/test_types.py checks these tables against the OpenAPI document
(proto/gen/normledger.swagger.json, and /openapi.json of a running node):
every int64/uint64 field of each answer, outside ``decoded``, is listed.
"""

from __future__ import annotations

from typing import Any, Dict

INT = "int"

# A spec maps a field name to INT, to a nested spec (a message), or to a
# one-element list holding a spec (a repeated message).

MEMBER_KEY = {"validFromHeight": INT, "validUntilHeight": INT, "compromisedSinceHeight": INT}
MEMBER = {
    "validatorPower": INT,
    "keys": [MEMBER_KEY],
    "encryptionKeys": [MEMBER_KEY],
    "history": [{"height": INT}],
    "directory": {"confirmedHeight": INT, "failedDeliveries": [{"height": INT}]},
}
STORED_RECORD = {"seq": INT, "height": INT}
RECORD_FLAG = {"compromisedSinceHeight": INT}
LOG_INCLUSION = {"logIndex": INT}
OBLIGATION = {"createdHeight": INT, "statusHeight": INT}
DURATION_FIGURE = {"medianSeconds": INT}
MEMBER_COMPLIANCE = {
    "timeToAcknowledge": DURATION_FIGURE,
    "timeToAnswerPing": DURATION_FIGURE,
    "timeToDisclose": DURATION_FIGURE,
    "timeToReceipt": DURATION_FIGURE,
    "timeToRemediate": DURATION_FIGURE,
    "timeToSettle": DURATION_FIGURE,
    "byKind": [{"timeToMeet": DURATION_FIGURE}],
    "stagedReporting": [{"timeToFile": DURATION_FIGURE}],
}

# Answers, by the OpenAPI definition name of their message.
ANSWERS: Dict[str, dict] = {
    "v1StatusResponse": {
        "appVersion": INT, "latestHeight": INT, "latestAttestedHeight": INT,
        "earliestStateHeight": INT, "stateSyncedFrom": INT,
        "validators": [{"votingPower": INT}],
    },
    "v1GetRecordResponse": {"height": INT, "record": STORED_RECORD, "inclusion": LOG_INCLUSION, "flags": [RECORD_FLAG]},
    "v1ListRecordsResponse": {"height": INT, "records": [STORED_RECORD], "inclusions": [LOG_INCLUSION], "flags": [RECORD_FLAG]},
    "v1GetObligationResponse": {"height": INT, "obligation": OBLIGATION},
    "v1ListObligationsResponse": {"height": INT, "obligations": [OBLIGATION]},
    "v1GetMemberResponse": {"height": INT, "member": MEMBER, "nextSequence": INT},
    "v1ListMembersResponse": {"height": INT, "members": [MEMBER]},
    "v1GetMemberComplianceResponse": {"height": INT, "compliance": MEMBER_COMPLIANCE},
    "v1GetLogResponse": {"height": INT, "size": INT},
    "v1GetLogConsistencyResponse": {"first": INT, "second": INT},
}


def _to_int(v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError(f"expected a 64-bit integer, got {v!r}")
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        return int(v, 10)
    raise ValueError(f"expected a 64-bit integer as a string, got {v!r}")


def apply(spec: dict, obj: Any) -> Any:
    """Convert, in place, the fields ``spec`` names in ``obj`` (a decoded
    JSON object), and return it."""
    if not isinstance(obj, dict):
        return obj
    for field, sub in spec.items():
        if sub == INT:
            obj[field] = _to_int(obj[field]) if field in obj else 0
        elif isinstance(sub, list):
            for item in obj.get(field) or []:
                apply(sub[0], item)
        elif field in obj:
            apply(sub, obj[field])
    return obj


def answer(definition: str, obj: Any) -> Any:
    """Convert an answer whose OpenAPI definition is ``definition``."""
    return apply(ANSWERS[definition], obj)


def paths(spec: dict, prefix: str = "") -> set:
    """The converted fields of a spec as dotted paths (``records[].seq``)."""
    out = set()
    for field, sub in spec.items():
        if sub == INT:
            out.add(prefix + field)
        elif isinstance(sub, list):
            out |= paths(sub[0], prefix + field + "[].")
        else:
            out |= paths(sub, prefix + field + ".")
    return out
