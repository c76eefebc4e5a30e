// Package api serves LedgerService over gRPC and, through grpc-gateway
// registered in-process, over REST/JSON, with the HTTP edge a public
// endpoint needs: body limits, timeouts, a per-client read rate limit, a CORS
// allowlist, JSON errors that carry the ledger's result code, /healthz,
// Prometheus /metrics and the generated /openapi.json.
//
// Reads come from immutable IAVL snapshots (ledger/store), never through the
// ABCI connection, and default to the newest height whose next header
// exists, so every answer can be verified at once.
package api
