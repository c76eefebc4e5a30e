"""The int64 conversion table (normledger.convert) against the OpenAPI
document: every int64/uint64 field (a JSON string in proto3 JSON) of each
answer the client converts is in the table, and nothing else is."""

from __future__ import annotations

import json

import pytest

from normledger import convert


def ref(v: dict):
    """The definition a property refers to: "$ref", or "allOf": [{"$ref"}]
    (how the generator writes a message field that has a description)."""
    if "$ref" in v:
        return v["$ref"].split("/")[-1]
    for a in v.get("allOf", []):
        if "$ref" in a:
            return a["$ref"].split("/")[-1]
    return None


def string_ints(defs: dict, name: str, prefix: str = "", stack=()) -> set:
    """Dotted paths of the int64/uint64 fields of definition ``name``,
    outside ``decoded`` (a reading aid the client passes through)."""
    out = set()
    if name in stack:
        return out
    for f, v in defs[name].get("properties", {}).items():
        if f == "decoded":
            continue
        p = prefix + f
        if v.get("type") == "string" and v.get("format") in ("int64", "uint64"):
            out.add(p)
        if ref(v):
            out |= string_ints(defs, ref(v), p + ".", stack + (name,))
        items = v.get("items", {})
        if items.get("type") == "string" and items.get("format") in ("int64", "uint64"):
            out.add(p + "[]")  # a repeated int64: the table has none
        if ref(items):
            out |= string_ints(defs, ref(items), p + "[].", stack + (name,))
    return out


def check_against(doc: dict):
    # Swagger 2.0 keeps the messages in "definitions"; an OpenAPI 3 form of
    # the same document in "components.schemas", under the same names.
    defs = doc.get("definitions") or doc.get("components", {}).get("schemas")
    assert defs, "no definitions in the OpenAPI document"
    for name, spec in convert.ANSWERS.items():
        assert name in defs, f"{name} is not in the OpenAPI document"
        assert convert.paths(spec) == string_ints(defs, name), name


def test_table_matches_swagger(swagger_path):
    check_against(json.loads(swagger_path.read_text()))


@pytest.mark.integration
def test_table_matches_node_openapi(client):
    # The node serves the same document (GET /openapi.json).
    check_against(client.get("/openapi.json"))


def test_apply_converts_and_fills_zero():
    ans = {
        "height": "41",
        "records": [{"id": "x", "seq": "7", "height": "3", "txIndex": 1, "decoded": {"body": {"sequence": "2"}}},
                    {"id": "y"}],
        "nextPageToken": "8",
    }
    convert.answer("v1ListRecordsResponse", ans)
    assert ans["height"] == 41
    assert ans["records"][0]["seq"] == 7 and ans["records"][0]["height"] == 3
    assert ans["records"][1]["seq"] == 0 and ans["records"][1]["height"] == 0   # omitted: zero
    assert ans["records"][0]["decoded"]["body"]["sequence"] == "2"             # reading aid: untouched
    assert ans["nextPageToken"] == "8"                                           # a token, not a number
    assert "inclusions" not in ans and "flags" not in ans                        # absent messages stay absent


def test_apply_nested_and_big():
    ans = {"members": [{"id": "xaa", "keys": [{"validFromHeight": "18446744073709551615"}, {}],
                        "directory": {"failedDeliveries": [{"height": "9"}]}}]}
    convert.answer("v1ListMembersResponse", ans)
    m = ans["members"][0]
    assert ans["height"] == 0
    assert m["validatorPower"] == 0
    assert m["keys"][0]["validFromHeight"] == 2**64 - 1 and m["keys"][0]["validUntilHeight"] == 0
    assert m["keys"][1] == {"validFromHeight": 0, "validUntilHeight": 0, "compromisedSinceHeight": 0}
    assert m["directory"]["confirmedHeight"] == 0 and m["directory"]["failedDeliveries"][0]["height"] == 9
    assert "encryptionKeys" not in m and "history" not in m


def test_apply_rejects_non_integers():
    for bad in ("4.5", "", True, None, [1]):
        with pytest.raises(ValueError):
            convert.answer("v1GetLogResponse", {"height": bad})
