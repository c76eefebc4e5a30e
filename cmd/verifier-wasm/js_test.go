//go:build js && wasm

package main

import (
	"encoding/json"
	"os"
	"strings"
	"syscall/js"
	"testing"

	"github.com/normledger/normledger/verifiers/jsonapi"
)

// Through JavaScript, as the page calls it: every tamper vector's request
// (verifiers/testdata/vectors.json) gives through normledgerVerifier exactly
// the answer jsonapi.Call gives, whose outcomes verifiers/jsonapi's tests
// check (also under js/wasm in CI).
func TestJavaScript(t *testing.T) {
	register(js.Global())
	obj := js.Global().Get("normledgerVerifier")
	if obj.Type() != js.TypeObject {
		t.Fatalf("normledgerVerifier is a %v", obj.Type())
	}
	bz, err := os.ReadFile("../../verifiers/testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Vectors []struct {
			Name    string          `json:"name"`
			Fn      string          `json:"fn"`
			Request json.RawMessage `json:"request"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(bz, &f); err != nil || len(f.Vectors) < 100 {
		t.Fatalf("vectors: %v (%d)", err, len(f.Vectors))
	}
	for _, v := range f.Vectors {
		out := obj.Call(v.Fn, string(v.Request))
		if out.Type() != js.TypeString {
			t.Fatalf("%s: %s returned a %v", v.Name, v.Fn, out.Type())
		}
		if got, want := out.String(), jsonapi.Call(v.Fn, string(v.Request)); got != want {
			t.Fatalf("%s: through JavaScript\n%s\nthrough Go\n%s", v.Name, got, want)
		}
	}
	type result struct {
		OK     bool   `json:"ok"`
		Reason string `json:"reason"`
	}
	parse := func(s string) result {
		var r result
		if err := json.Unmarshal([]byte(s), &r); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		return r
	}
	// An object is taken as its JSON.
	req := js.Global().Get("JSON").Call("parse", `{"trust": {}, "lightBlocks": []}`)
	if a := parse(obj.Call("verifyHeaders", req).String()); a.OK || !strings.Contains(a.Reason, "no trust root") {
		t.Fatalf("an object request: %v %q", a.OK, a.Reason)
	}
	for _, args := range [][]any{{}, {1}, {js.Null()}, {"{}", "{}"}} {
		if a := parse(obj.Call("verifyRecord", args...).String()); a.OK || a.Reason == "" {
			t.Fatalf("verifyRecord(%v): %+v", args, a)
		}
	}
	if a := parse(obj.Call("version").String()); !a.OK {
		t.Fatal("version not ok")
	}
}
