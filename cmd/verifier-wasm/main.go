//go:build js && wasm

// Command verifier-wasm is the browser verifier: package verifiers'
// JSON API (verifiers/jsonapi) compiled to WebAssembly by scripts/wasm.sh
// (GOOS=js GOARCH=wasm) and bound to the global object normledgerVerifier,
// whose functions take one JSON string and return one JSON string. It has
// only this binding; the API is tested natively in verifiers/jsonapi.
package main

import (
	"fmt"
	"syscall/js"

	"github.com/normledger/normledger/verifiers/jsonapi"
)

// main sets the global normledgerVerifier, calls normledgerVerifierReady()
// if the page defined it, and waits for calls (go.run's promise never
// resolves; the object exists as soon as go.run returns).
func main() {
	register(js.Global())
	if ready := js.Global().Get("normledgerVerifierReady"); ready.Type() == js.TypeFunction {
		ready.Invoke()
	}
	select {}
}

// register sets global.normledgerVerifier: for each function of the API,
// a JavaScript function of one JSON string (an object is JSON.stringify'd)
// that returns a JSON string and never throws.
func register(global js.Value) {
	obj := js.Global().Get("Object").New()
	for _, name := range jsonapi.Names() {
		obj.Set(name, js.FuncOf(func(_ js.Value, args []js.Value) (out any) {
			defer func() {
				if r := recover(); r != nil {
					out = jsonapi.Failure(fmt.Sprintf("internal error in %s: %v", name, r))
				}
			}()
			if name == "version" {
				return jsonapi.Call(name, "")
			}
			if len(args) != 1 {
				return jsonapi.Failure(name + " takes one argument, the request as a JSON string")
			}
			switch args[0].Type() {
			case js.TypeString:
				return jsonapi.Call(name, args[0].String())
			case js.TypeObject:
				return jsonapi.Call(name, js.Global().Get("JSON").Call("stringify", args[0]).String())
			}
			return jsonapi.Failure(name + " takes one argument, the request as a JSON string")
		}))
	}
	global.Set("normledgerVerifier", obj)
}
