//go:build tools

// Package tools pins the tools the build uses: the code generators of
// `make proto` and the SBOM generator of `make release`
// (scripts/release.sh). It lives in its own module so tool dependencies
// never leak into the main module; run a tool with
// `go -C tools run PACKAGE` (or `go run -modfile=tools/go.mod PACKAGE`).
package tools

import (
	_ "github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod"
	_ "github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway"
	_ "github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2"
	_ "google.golang.org/grpc/cmd/protoc-gen-go-grpc"
	_ "google.golang.org/protobuf/cmd/protoc-gen-go"
)
