//go:build js && wasm

package main

import (
	"fmt"
	"syscall/js"
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
	for _, name := range names() {
		obj.Set(name, js.FuncOf(func(_ js.Value, args []js.Value) (out any) {
			defer func() {
				if r := recover(); r != nil {
					out = failure(fmt.Sprintf("internal error in %s: %v", name, r))
				}
			}()
			if name == "version" {
				return call(name, "")
			}
			if len(args) != 1 {
				return failure(name + " takes one argument, the request as a JSON string")
			}
			switch args[0].Type() {
			case js.TypeString:
				return call(name, args[0].String())
			case js.TypeObject:
				return call(name, js.Global().Get("JSON").Call("stringify", args[0]).String())
			}
			return failure(name + " takes one argument, the request as a JSON string")
		}))
	}
	global.Set("normledgerVerifier", obj)
}
