"""The client's transport and paging edge cases, against a scripted HTTP
server on 127.0.0.1 (the real node's paging is tested in test_node.py):
empty pages that still carry a token, a token handed out twice, height
pinning, 429 retries and the error format."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from normledger import APIError, Client, NormledgerError


class Script:
    def __init__(self):
        self.requests = []   # (path, query dict)
        self.routes = {}     # path -> function(query) -> (status, body dict, headers)

    def handler(self):
        script = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(u.query))
                script.requests.append((u.path, q))
                status, body, headers = script.routes[u.path](q)
                bz = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(bz)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(bz)

        return H


@pytest.fixture
def server():
    s = Script()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), s.handler())
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    s.url = "http://127.0.0.1:%d" % httpd.server_address[1]
    yield s
    httpd.shutdown()
    httpd.server_close()


def test_pages_follow_tokens_through_empty_pages_and_pin_height(server):
    pages = {
        None: ({"records": [{"id": "a", "seq": "1", "height": "2"}], "nextPageToken": "1", "height": "10"}),
        "1": ({"nextPageToken": "5", "height": "10"}),                  # empty page, scan bound reached
        "5": ({"records": [{"id": "b", "seq": "6", "height": "4"}], "height": "10"}),
    }
    server.routes["/v1/records"] = lambda q: (200, pages[q.get("pageToken")], {})
    c = Client(server.url)
    got = list(c.iter_records(kind="pledge", page_size=1))
    assert [r["id"] for r in got] == ["a", "b"]
    assert got[1]["seq"] == 6
    qs = [q for _, q in server.requests]
    assert [q.get("pageToken") for q in qs] == [None, "1", "5"]
    assert all(q["kind"] == "pledge" and q["limit"] == "1" for q in qs)
    # The first page at the newest height; the others pinned to its height.
    assert "height" not in qs[0] and qs[1]["height"] == "10" and qs[2]["height"] == "10"


def test_pages_unpinned_and_explicit_height(server):
    server.routes["/v1/obligations"] = lambda q: (200, {"height": "12", **({"nextPageToken": "ab"} if "pageToken" not in q else {})}, {})
    c = Client(server.url)
    assert list(c.iter_obligations(pin_height=False, status="open")) == []
    assert [q.get("height") for _, q in server.requests] == [None, None]
    server.requests.clear()
    pages = list(c.obligation_pages(height=7))
    assert [q.get("height") for _, q in server.requests] == ["7", "7"]
    assert [p.height for p in pages] == [12, 12] and pages[0].next_page_token == "ab" and pages[1].next_page_token is None


def test_repeated_token_is_an_error(server):
    server.routes["/v1/records"] = lambda q: (200, {"height": "3", "nextPageToken": "9"}, {})
    with pytest.raises(NormledgerError, match="twice"):
        list(Client(server.url).iter_records())
    assert len(server.requests) == 2


def test_page_size_checked(server):
    with pytest.raises(ValueError):
        list(Client(server.url).iter_records(page_size=0))


def test_time_filters(server):
    import datetime as dt
    server.routes["/v1/records"] = lambda q: (200, {"height": "3"}, {})
    c = Client(server.url)
    list(c.iter_records(from_time=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
                        to_time="2026-02-01T00:00:00Z"))
    q = server.requests[-1][1]
    assert q["fromTime"] == "2026-01-02T01:04:05Z" and q["toTime"] == "2026-02-01T00:00:00Z"
    with pytest.raises(ValueError):
        list(c.iter_records(from_time=dt.datetime(2026, 1, 2)))  # naive: refused


def test_429_is_retried(server):
    calls = []

    def route(q):
        calls.append(1)
        if len(calls) < 3:
            return 429, {"code": 8, "message": "rate limit exceeded; retry later",
                         "details": [{"@type": "type.googleapis.com/normledger.v1.ErrorInfo", "code": 33, "codeName": "rate_limited"}]}, {"Retry-After": "0"}
        return 200, {"chainId": "c", "latestHeight": "5"}, {}

    server.routes["/v1/status"] = route
    st = Client(server.url).status()
    assert st["latestHeight"] == 5 and st["latestAttestedHeight"] == 0 and len(calls) == 3
    server.routes["/v1/status"] = lambda q: (429, {"code": 8, "message": "slow down"}, {"Retry-After": "0"})
    with pytest.raises(APIError) as ei:
        Client(server.url, retries=1).status()
    assert ei.value.http_status == 429


def test_error_answer(server):
    body = {"code": 5, "message": "record ab not found at height 3",
            "details": [{"@type": "type.googleapis.com/normledger.v1.ErrorInfo", "code": 19, "codespace": "normledger", "codeName": "unknown_record"},
                        {"@type": "type.googleapis.com/normledger.v1.GetRecordResponse", "height": "3"}]}
    server.routes["/v1/records/ab"] = lambda q: (404, body, {})
    with pytest.raises(APIError) as ei:
        Client(server.url).record("ab")
    e = ei.value
    assert (e.http_status, e.grpc_code, e.code, e.code_name) == (404, 5, 19, "unknown_record")
    assert "not found" in e.message and len(e.details) == 2 and "unknown_record" in str(e)


def test_unreachable_node():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(NormledgerError):
        Client(f"127.0.0.1:{port}", timeout=5).status()
