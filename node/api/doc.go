// Package api serves LedgerService over gRPC and, through grpc-gateway
// registered in-process, over REST/JSON, with the HTTP edge a public
// endpoint needs: body limits, timeouts, a per-client read rate limit, a CORS
// allowlist, JSON errors that carry the ledger's result code, /livez and
// /readyz (/healthz), Prometheus /metrics (optionally on a listener of its
// own) and the generated /openapi.json; native TLS and trusted reverse
// proxies (proxy.go); on gRPC the same read budget, request metrics and the
// standard health service (grpcedge.go).
//
// Reads come from immutable IAVL snapshots (ledger/store), never through the
// ABCI connection, and default to the newest height whose next header
// exists, so every answer can be verified at once.
//
// Files: server.go holds the Server and Status; records, members,
// obligations (with compliance), governance, evidence, tlog (log and
// checkpoints), blocks (blocks, light blocks, genesis), broadcast and stix
// (the STIX export) hold the LedgerService methods by subject, views.go what they share (heights,
// proofs, paging); http.go starts the servers and builds the REST handler,
// whose edge.go, strict.go, ratelimit.go, metrics.go and httperrors.go
// judge, limit, count and answer requests; codes.go maps result codes.
package api
