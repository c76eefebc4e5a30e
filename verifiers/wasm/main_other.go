//go:build !(js && wasm)

package main

import (
	"fmt"
	"os"
)

// Outside a browser there is nothing to do: the JSON API (api.go) is
// tested natively, the program is built with GOOS=js GOARCH=wasm.
func main() {
	fmt.Fprintln(os.Stderr, "the browser verifier: build it with scripts/wasm.sh (GOOS=js GOARCH=wasm)")
	os.Exit(2)
}
