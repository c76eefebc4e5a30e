#!/usr/bin/env bash
# Regenerates proto/gen from proto/normledger/v1 offline: protoc (Debian
# protobuf-compiler) plus the plugins pinned in tools/go.mod.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$PWD/.bin"
if ! command -v protoc >/dev/null; then
  echo "protoc not found: apt-get install -y protobuf-compiler" >&2
  exit 1
fi
if [ ! -x "$BIN/protoc-gen-go" ] || [ ! -x "$BIN/protoc-gen-openapiv2" ]; then
  (cd tools && GOBIN="$BIN" go install \
    google.golang.org/protobuf/cmd/protoc-gen-go \
    google.golang.org/grpc/cmd/protoc-gen-go-grpc \
    github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway \
    github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2)
fi
INC="-Iproto -Ithird_party/proto"
# The well-known types ship with protoc; Debian puts them in /usr/include.
[ -d /usr/include/google/protobuf ] && INC="$INC -I/usr/include"
rm -rf proto/gen
mkdir -p proto/gen
files=$(cd proto && ls normledger/v1/*.proto)
PATH="$BIN:$PATH" protoc $INC \
  --go_out=proto/gen --go_opt=module=github.com/normledger/normledger/proto/gen \
  $(for f in $files; do echo proto/$f; done)
if grep -q '^service ' proto/normledger/v1/*.proto; then
  PATH="$BIN:$PATH" protoc $INC \
    --go-grpc_out=proto/gen --go-grpc_opt=module=github.com/normledger/normledger/proto/gen \
    --grpc-gateway_out=proto/gen --grpc-gateway_opt=module=github.com/normledger/normledger/proto/gen \
    --openapiv2_out=proto/gen --openapiv2_opt=allow_merge=true,merge_file_name=normledger \
    $(grep -l '^service ' proto/normledger/v1/*.proto)
fi
# What protoc-gen-openapiv2 cannot know (error responses and codes, filter
# values) is added from the code itself.
if [ -f proto/gen/normledger.swagger.json ]; then
  go run ./internal/openapigen proto/gen/normledger.swagger.json ledger/codes.go
fi
echo "generated into proto/gen"
