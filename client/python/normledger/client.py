"""A small REST client for a normledger node (standard library only).

The node's answers are proto3 JSON; see ``normledger.convert`` for which
fields the client turns into ``int`` (every 64-bit integer of the answers it
returns) and what it leaves alone.

Nothing this client reads is verified against the chain: a node can lie. The
RFC 6962 helpers (``check_record_inclusion``, ``check_log_extends``) check a
log proof against the log state the same answer claims; full verification
(light client, ICS23, signatures) is ``normledger.verify``, which runs the
``normledger verify`` command.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Union

from . import convert, rfc6962
from .errors import APIError, NormledgerError, ProofError

__all__ = ["Client", "Page", "LogState", "DEFAULT_URL"]

DEFAULT_URL = "http://127.0.0.1:1317"
USER_AGENT = "normledger-python/0.1"

#: The state key whose value is the record log's size and root (40 bytes:
#: uint64 big-endian size, then the 32-byte root).
KEY_LOG = b"meta/log"

TimeArg = Union[str, _dt.datetime, None]


@dataclass
class Page:
    """One page of a listing.

    ``items`` are the listed objects (converted, see ``normledger.convert``),
    ``height`` the state height the page was read at, ``next_page_token``
    the token of the next page (None on the last page) and ``raw`` the whole
    answer (converted too), proofs included when asked for.
    """

    items: List[dict]
    height: int
    next_page_token: Optional[str]
    raw: dict = field(repr=False)


@dataclass(frozen=True)
class LogState:
    """The record log as one answer states it: ``size`` entries whose RFC
    6962 root is ``root`` (32 bytes), at state ``height``."""

    height: int
    size: int
    root: bytes


def _time(name: str, v: TimeArg) -> Optional[str]:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, _dt.datetime):
        if v.tzinfo is None:
            raise ValueError(f"{name}: give a timezone-aware datetime (or an RFC 3339 string)")
        return v.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")
    raise TypeError(f"{name}: expected an RFC 3339 string or a datetime, not {type(v).__name__}")


def _b64(name: str, v: Any) -> bytes:
    if not v:
        return b""  # proto3 JSON omits empty bytes
    try:
        return base64.b64decode(v, validate=True)
    except (ValueError, TypeError) as e:
        raise NormledgerError(f"{name} is not base64: {e}") from None


def _short_enum(prefix: str, v: str) -> str:
    """MEMBER_CLASS_STATE and state are one: compare the short form."""
    v = v.strip()
    return v[len(prefix):].lower() if v.upper().startswith(prefix) else v.lower()


class Client:
    """A client of one node's REST API.

    ``url`` is the node's REST base URL (``http://127.0.0.1:1317``; a bare
    ``host:port`` gets ``http://``). ``timeout`` is per request, in seconds.
    An answer of 429 (the node's read rate limit) is retried after its
    ``Retry-After`` up to ``retries`` times; every other error raises
    ``APIError`` at once.
    """

    def __init__(self, url: str = DEFAULT_URL, *, timeout: float = 30.0, retries: int = 3):
        url = url.strip()
        if "://" not in url:
            url = "http://" + url
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries = retries

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    # --- transport ---------------------------------------------------------

    def get(self, path: str, params: Optional[Dict[str, Any]] = None) -> Any:
        """GET ``path`` (``/v1/...``) with query ``params`` (None values are
        dropped, booleans are sent as true/false) and return the decoded
        JSON, unconverted."""
        q = {}
        for k, v in (params or {}).items():
            if v is None:
                continue
            q[k] = ("true" if v else "false") if isinstance(v, bool) else str(v)
        url = self.url + path + ("?" + urllib.parse.urlencode(q) if q else "")
        req = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": USER_AGENT})
        attempt = 0
        while True:
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    text = resp.read().decode("utf-8")
                try:
                    return json.loads(text)
                except ValueError:
                    raise NormledgerError(f"{url}: the answer is not JSON: {text[:200]!r}") from None
            except urllib.error.HTTPError as e:
                text = e.read().decode("utf-8", "replace")
                retry_after = e.headers.get("Retry-After") if e.headers else None
                e.close()
                if e.code == 429 and attempt < self.retries:
                    attempt += 1
                    try:
                        wait = float(retry_after) if retry_after else 1.0
                    except ValueError:
                        wait = 1.0
                    time.sleep(min(max(wait, 0.1), 30.0))
                    continue
                try:
                    body = json.loads(text)
                except ValueError:
                    body = None
                raise APIError(url, e.code, body, text[:200]) from None
            except urllib.error.URLError as e:
                raise NormledgerError(f"{url}: {e.reason}") from None

    def _answer(self, definition: str, path: str, params: Optional[Dict[str, Any]] = None) -> dict:
        return convert.answer(definition, self.get(path, params))

    # --- single reads --------------------------------------------------------

    def status(self) -> dict:
        """``GET /v1/status``: the node's own claims (chain id, heights,
        validators); nothing in it is proven."""
        return self._answer("v1StatusResponse", "/v1/status")

    def genesis_bytes(self) -> bytes:
        """The exact genesis file bytes the node serves (``GET /v1/genesis``).
        Compare their SHA-256 with the genesis hash your consortium publishes
        before you use them as a trust root."""
        return _b64("genesisJson", self.get("/v1/genesis").get("genesisJson"))

    def record(self, record_id: str, *, height: Optional[int] = None, prove: bool = False) -> dict:
        """``GET /v1/records/{id}``: the whole answer (``record``,
        ``height``, and with ``prove`` its ``proofs`` and ``inclusion``)."""
        return self._answer("v1GetRecordResponse", "/v1/records/" + urllib.parse.quote(record_id, safe=""),
                            {"height": height, "prove": prove or None})

    def obligation(self, obligation_id: str, *, height: Optional[int] = None, prove: bool = False) -> dict:
        """``GET /v1/obligations/{id}``: the whole answer."""
        return self._answer("v1GetObligationResponse", "/v1/obligations/" + urllib.parse.quote(obligation_id, safe=""),
                            {"height": height, "prove": prove or None})

    def member(self, member_id: str, *, height: Optional[int] = None, prove: bool = False) -> dict:
        """``GET /v1/members/{id}``: the whole answer (``member``,
        ``nextSequence``, ``height``)."""
        return self._answer("v1GetMemberResponse", "/v1/members/" + urllib.parse.quote(member_id, safe=""),
                            {"height": height, "prove": prove or None})

    def member_compliance(self, member_id: str, *, height: Optional[int] = None) -> dict:
        """``GET /v1/compliance/{member}``: ``{"compliance": ..., "height": H}``."""
        return self._answer("v1GetMemberComplianceResponse", "/v1/compliance/" + urllib.parse.quote(member_id, safe=""),
                            {"height": height})

    # --- listings ------------------------------------------------------------

    def _pages(self, path: str, definition: str, key: str, params: Dict[str, Any], *,
               page_size: Optional[int], height: Optional[int], pin_height: bool,
               page_token: Optional[str]) -> Iterator[Page]:
        """Follow a listing's ``nextPageToken`` to its end.

        Unless ``height`` is given, the first page is read at the newest
        attested height and, with ``pin_height`` (the default), every later
        page at that same height: the pages are then one consistent
        snapshot, and records committed meanwhile do not appear. A page may
        be empty and still have a next token (the node bounds how many
        index entries one page scans); iteration goes on until a page has
        no token. A token the node hands out twice is an error, not a loop.
        """
        if page_size is not None and (isinstance(page_size, bool) or page_size < 1):
            raise ValueError("page_size must be a positive int (None: the node's default, 50)")
        token, seen = page_token, set()
        while True:
            q = dict(params)
            q.update({"limit": page_size, "height": height, "pageToken": token})
            raw = self._answer(definition, path, q)
            nxt = raw.get("nextPageToken") or None
            page = Page(items=list(raw.get(key) or []), height=raw["height"], next_page_token=nxt, raw=raw)
            yield page
            if nxt is None:
                return
            if nxt in seen or nxt == token:
                raise NormledgerError(f"{path}: the node handed out page token {nxt!r} twice")
            seen.add(nxt)
            if pin_height and height is None:
                height = page.height
            token = nxt

    def record_pages(self, *, kind: Optional[str] = None, author: Optional[str] = None,
                     subject: Optional[str] = None, sector: Optional[str] = None,
                     from_time: TimeArg = None, to_time: TimeArg = None,
                     height: Optional[int] = None, prove: bool = False,
                     page_size: Optional[int] = None, pin_height: bool = True,
                     page_token: Optional[str] = None) -> Iterator[Page]:
        """The pages of ``GET /v1/records`` (filters as the route's:
        ``kind`` and ``sector`` take short or full enum names, ``author`` and
        ``subject`` member ids, ``from_time``/``to_time`` RFC 3339 strings or
        aware datetimes). Records come in ``seq`` order."""
        params = {"kind": kind, "author": author, "subject": subject, "sector": sector,
                  "fromTime": _time("from_time", from_time), "toTime": _time("to_time", to_time),
                  "prove": prove or None}
        return self._pages("/v1/records", "v1ListRecordsResponse", "records", params, page_size=page_size,
                           height=height, pin_height=pin_height, page_token=page_token)

    def iter_records(self, **kw: Any) -> Iterator[dict]:
        """Every record (``StoredRecord``) matching the filters of
        ``record_pages``, page after page."""
        for page in self.record_pages(**kw):
            yield from page.items

    def obligation_pages(self, *, debtor: Optional[str] = None, creditor: Optional[str] = None,
                         pledge: Optional[str] = None, status: Optional[str] = None,
                         due_before: TimeArg = None, height: Optional[int] = None, prove: bool = False,
                         page_size: Optional[int] = None, pin_height: bool = True,
                         page_token: Optional[str] = None) -> Iterator[Page]:
        """The pages of ``GET /v1/obligations`` (``status``: open, met,
        met_late, overdue, waived or the full enum name). Obligations come
        in the order of the index the node scans (by due time, then id)."""
        params = {"debtor": debtor, "creditor": creditor, "pledge": pledge, "status": status,
                  "dueBefore": _time("due_before", due_before), "prove": prove or None}
        return self._pages("/v1/obligations", "v1ListObligationsResponse", "obligations", params,
                           page_size=page_size, height=height, pin_height=pin_height, page_token=page_token)

    def iter_obligations(self, **kw: Any) -> Iterator[dict]:
        """Every obligation matching the filters of ``obligation_pages``."""
        for page in self.obligation_pages(**kw):
            yield from page.items

    def members(self, *, height: Optional[int] = None, prove: bool = False) -> Page:
        """``GET /v1/members`` as a Page. The route has no paging: every
        member comes in one answer, so ``next_page_token`` is always None."""
        raw = self._answer("v1ListMembersResponse", "/v1/members", {"height": height, "prove": prove or None})
        return Page(items=list(raw.get("members") or []), height=raw["height"], next_page_token=None, raw=raw)

    def iter_members(self, *, height: Optional[int] = None, member_class: Union[str, Sequence[str], None] = None) -> Iterator[dict]:
        """Every member (one request: the route has no paging), optionally
        only those of ``member_class`` (``state``, ``MEMBER_CLASS_STATE``,
        or a list of such)."""
        yield from self._filter_class(self.members(height=height).items, member_class)

    @staticmethod
    def _filter_class(members: Iterable[dict], member_class: Union[str, Sequence[str], None]) -> Iterator[dict]:
        if member_class is None:
            yield from members
            return
        wanted = {_short_enum("MEMBER_CLASS_", c) for c in ([member_class] if isinstance(member_class, str) else member_class)}
        for m in members:
            if _short_enum("MEMBER_CLASS_", m.get("class") or "MEMBER_CLASS_UNSPECIFIED") in wanted:
                yield m

    def iter_compliance(self, *, members: Optional[Iterable[str]] = None,
                        member_class: Union[str, Sequence[str], None] = None,
                        height: Optional[int] = None) -> Iterator[dict]:
        """Each member's compliance (``MemberCompliance``), all read at one
        height.

        There is no listing route for compliance: this lists the members
        (``GET /v1/members``, one answer) and asks ``GET
        /v1/compliance/{member}`` for each, at the height of the members
        answer (or ``height``), so that the figures of all members are of one
        state. ``members`` restricts it to those ids (in that order),
        ``member_class`` to a class (``state`` for the states). Each yielded
        dict is the answer's ``compliance`` with one key added by this
        client: ``height``, the state height it was read at.
        """
        listing = self.members(height=height)
        h = listing.height
        if members is not None:
            known = {m["id"]: m for m in listing.items}
            chosen = []
            for mid in members:
                if mid not in known:
                    raise NormledgerError(f"no member {mid!r} at height {h}")
                chosen.append(known[mid])
        else:
            chosen = listing.items
        for m in self._filter_class(chosen, member_class):
            ans = self.member_compliance(m["id"], height=h)
            c = ans.get("compliance") or {"member": m["id"]}
            c["height"] = ans["height"]
            yield c

    # --- the record log ------------------------------------------------------

    def log_state(self, *, height: Optional[int] = None) -> LogState:
        """``GET /v1/log``: the log's size and root at a state height, as the
        node states them (prove them with ``meta/log`` to rely on them)."""
        raw = self._answer("v1GetLogResponse", "/v1/log", {"height": height})
        root = _b64("root", raw.get("root")) if raw["size"] else rfc6962.EMPTY_ROOT
        return LogState(height=raw["height"], size=raw["size"], root=root)

    def consistency_proof(self, first: int, second: int) -> List[bytes]:
        """``GET /v1/log/consistency``: the RFC 6962 consistency proof from
        the log of ``first`` entries to the log of ``second``."""
        raw = self._answer("v1GetLogConsistencyResponse", "/v1/log/consistency", {"first": first, "second": second})
        if (raw["first"], raw["second"]) != (first, second):
            raise NormledgerError(f"asked for the proof {first}->{second}, got {raw['first']}->{raw['second']}")
        return [_b64(f"hashes[{i}]", h) for i, h in enumerate(raw.get("hashes") or [])]

    def check_log_extends(self, old: LogState, new: LogState) -> None:
        """Raise ProofError unless the log ``new`` extends the log ``old``
        (the larger must extend the smaller; equal sizes need equal roots),
        fetching the consistency proof from this node. The two states must
        be ones you trust (proven through ``meta/log``): the proof itself
        need not be, the check is what makes it safe."""
        a, b = (old, new) if old.size <= new.size else (new, old)
        if a.size == b.size:
            if a.root != b.root:
                raise ProofError(f"the log of {a.size} entries has root {a.root.hex()} at height {a.height} "
                                 f"but {b.root.hex()} at height {b.height}: history was rewritten")
            return
        rfc6962.check_consistency(a.size, b.size, self.consistency_proof(a.size, b.size), a.root, b.root)


def record_log_state(answer: dict) -> LogState:
    """The log state a ``GET /v1/records/{id}?prove=true`` answer states:
    the value of its ``meta/log`` proof (``proofs[1]``), 8 bytes of size
    then the 32-byte root. The ICS23 proof itself is *not* checked here."""
    proofs = answer.get("proofs") or []
    if len(proofs) != 2:
        raise ProofError(f"expected 2 proofs (i/<id>, meta/log), got {len(proofs)}: ask with prove=True")
    p = proofs[1]
    if _b64("proofs[1].key", p.get("key")) != KEY_LOG or not p.get("exists"):
        raise ProofError("proofs[1] is not an existence proof of meta/log")
    v = _b64("proofs[1].value", p.get("value"))
    if len(v) != 8 + rfc6962.HASH_SIZE:
        raise ProofError(f"a meta/log value is 40 bytes, not {len(v)}")
    return LogState(height=answer["height"], size=int.from_bytes(v[:8], "big"), root=v[8:])


def check_record_inclusion(answer: dict) -> LogState:
    """Check the RFC 6962 part of a ``GET /v1/records/{id}?prove=true``
    answer (docs/verifying.md 7.1, steps 3 and 4): the record's id is the
    SHA-256 of its ``tx``, and ``inclusion`` proves ``tx`` is entry
    ``seq - 1`` of the log the answer's ``meta/log`` value states. Returns
    that log state; raises ProofError on any failure.

    This does not check the ICS23 proofs nor the header behind them, so it
    catches a wrong or tampered proof, not a node that lies consistently:
    ``normledger.verify.Verifier.record`` does the full verification.
    """
    rec = answer.get("record")
    if not rec:
        raise ProofError("the answer holds no record")
    tx = _b64("record.tx", rec.get("tx"))
    if hashlib.sha256(tx).hexdigest() != rec.get("id", "").lower():
        raise ProofError(f"record {rec.get('id')}: SHA-256 of its tx is {hashlib.sha256(tx).hexdigest()}")
    inc = answer.get("inclusion")
    if inc is None:
        raise ProofError("the answer holds no inclusion proof: ask with prove=True")
    ls = record_log_state(answer)
    index = inc.get("logIndex", 0)
    if index != rec["seq"] - 1:
        raise ProofError(f"the inclusion proof is of log entry {index}, the record (seq {rec['seq']}) is entry {rec['seq'] - 1}")
    path = [_b64(f"inclusion.hashes[{i}]", h) for i, h in enumerate(inc.get("hashes") or [])]
    rfc6962.check_inclusion(index, ls.size, rfc6962.leaf_hash(tx), path, ls.root)
    return ls
