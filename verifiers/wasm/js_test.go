//go:build js && wasm

package main

import (
	"strings"
	"syscall/js"
	"testing"
)

// Through JavaScript: the global object main sets, called as the page does.
func TestJavaScript(t *testing.T) {
	register(js.Global())
	obj := js.Global().Get("normledgerVerifier")
	if obj.Type() != js.TypeObject {
		t.Fatalf("normledgerVerifier is a %v", obj.Type())
	}
	viaJS := func(fn, req string) string {
		out := obj.Call(fn, req)
		if out.Type() != js.TypeString {
			t.Fatalf("%s returned a %v", fn, out.Type())
		}
		return out.String()
	}
	seen := map[string]bool{}
	for _, v := range loadVectors(t) {
		if seen[v.Fn+"/"+boolName(v.OK)] {
			continue
		}
		seen[v.Fn+"/"+boolName(v.OK)] = true
		t.Run(v.Name, func(t *testing.T) { checkVector(t, v, viaJS) })
	}
	// An object is taken as its JSON.
	req := js.Global().Get("JSON").Call("parse", `{"trust": {}, "lightBlocks": []}`)
	if a := parse(t, obj.Call("verifyHeaders", req).String()); *a.OK || !strings.Contains(*a.Reason, "no trust root") {
		t.Fatalf("an object request: %v %q", *a.OK, *a.Reason)
	}
	for _, args := range [][]any{{}, {1}, {js.Null()}, {"{}", "{}"}} {
		if a := parse(t, obj.Call("verifyRecord", args...).String()); *a.OK {
			t.Fatalf("verifyRecord(%v) ok", args)
		}
	}
	if a := parse(t, obj.Call("version").String()); !*a.OK {
		t.Fatal("version not ok")
	}
}

func boolName(b bool) string {
	if b {
		return "ok"
	}
	return "fail"
}
