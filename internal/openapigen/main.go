// Command openapigen completes the OpenAPI document protoc-gen-openapiv2
// writes (scripts/protogen.sh runs it after protoc) with what the
// generator cannot know from the .proto files: the error responses of each
// route with every ledger result code by name and HTTP status, the
// normledger.v1.ErrorInfo detail and the 404-with-absence-proof detail, and
// the values each filter parameter accepts. Everything it adds is derived
// from the code (ledger/codes.go, the kind registry, the enums), so the
// document cannot drift from what the node does. It also adds the routes
// the node serves outside the gateway that clients need (routes.go: the
// STIX export, TAXII 2.1, the MISP feed) and what OpenAPI linters rightly
// ask for (tidy.go: servers, security, one-line summaries, no unused
// definitions).
//
//	go run ./internal/openapigen proto/gen/normledger.swagger.json ledger/codes.go
//
// With -v3 it writes the OpenAPI 3 form the node serves at /openapi3.json
// (proto.OpenAPI3), for the linters and the client generator CI runs:
//
//	go run ./internal/openapigen -v3 /tmp/normledger.openapi3.json
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/normledger/normledger/internal/atomicfile"
	"github.com/normledger/normledger/internal/codedoc"
	"github.com/normledger/normledger/ledger"
	"github.com/normledger/normledger/ledger/enum"
	"github.com/normledger/normledger/node/api"
	nlproto "github.com/normledger/normledger/proto"
	pb "github.com/normledger/normledger/proto/gen/normledger/v1"
	"google.golang.org/protobuf/reflect/protoreflect"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: openapigen SWAGGER.json ledger/codes.go\n       openapigen -v3 OUT.json")
		os.Exit(2)
	}
	var err error
	if os.Args[1] == "-v3" {
		err = writeV3(os.Args[2])
	} else {
		err = run(os.Args[1], os.Args[2])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "openapigen:", err)
		os.Exit(1)
	}
}

// writeV3 writes the OpenAPI 3 document the node serves at /openapi3.json
// (proto.OpenAPI3: the embedded Swagger 2.0 document, converted), for
// linters and client generators (.ci/run).
func writeV3(path string) error {
	bz, err := nlproto.OpenAPI3()
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, bz, 0o644)
}

type obj = map[string]any

func run(path, codesFile string) error {
	bz, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(bz))
	dec.UseNumber()
	var doc obj
	if err := dec.Decode(&doc); err != nil {
		return err
	}
	meanings, err := codeMeanings(codesFile)
	if err != nil {
		return err
	}
	defs := doc["definitions"].(obj)
	defs["v1ErrorInfo"] = errorInfoSchema(meanings)
	status := defs["googleRpcStatus"].(obj)
	status["description"] = "The error of every failed request (a google.rpc.Status). details always holds a " +
		"normledger.v1.ErrorInfo (@type type.googleapis.com/normledger.v1.ErrorInfo) with the ledger's stable result code; " +
		"a 404 of a read with prove=true also holds the read's own answer type (e.g. normledger.v1.GetRecordResponse, " +
		"normledger.v1.GetMemberResponse) carrying the proof that the key is absent."
	props := status["properties"].(obj)
	props["code"].(obj)["description"] = "gRPC status code (3 INVALID_ARGUMENT, 5 NOT_FOUND, ...); the ledger's code is in details."
	props["details"].(obj)["description"] = "An ErrorInfo (see v1ErrorInfo), and for a 404 with prove=true the absence proof (see v1AbsenceDetail)."
	defs["v1AbsenceDetail"] = obj{
		"type": "object",
		"description": "The detail of a 404 answer to a read with prove=true: the read's own answer type, here " +
			"normledger.v1.GetRecordResponse, whose proofs[0] is an ICS23 non-existence proof of the key (docs/verifying.md).",
		"properties": obj{
			"@type": obj{"type": "string", "enum": []string{"type.googleapis.com/normledger.v1.GetRecordResponse",
				"type.googleapis.com/normledger.v1.GetMemberResponse", "type.googleapis.com/normledger.v1.GetObligationResponse",
				"type.googleapis.com/normledger.v1.GetProposalResponse"}},
			"height": obj{"type": "string", "format": "int64"},
			"proofs": obj{"type": "array", "items": obj{"$ref": "#/definitions/v1Proof"}},
		},
	}
	addOwnRoutes(doc)
	paths := doc["paths"].(obj)
	for p, ops := range paths {
		for method, op := range ops.(obj) {
			o := op.(obj)
			if strings.HasPrefix(p, "/taxii2/") {
				o["responses"] = taxiiResponses(p, o["responses"].(obj))
				continue
			}
			o["responses"] = responses(p, method, o["responses"].(obj))
			for _, prm := range asList(o["parameters"]) {
				addEnum(p, prm.(obj))
			}
		}
	}
	tidy(doc)
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, out.Bytes(), 0o644)
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// codeMeanings reads each code constant's line comment in ledger/codes.go.
func codeMeanings(file string) (map[ledger.Code]string, error) {
	consts, err := codedoc.Parse(file)
	if err != nil {
		return nil, err
	}
	out := map[ledger.Code]string{ledger.CodeOK: "accepted"}
	for _, c := range consts {
		if c.Meaning != "" {
			out[ledger.Code(c.Value)] = c.Meaning
		}
	}
	return out, nil
}

func errorInfoSchema(meanings map[ledger.Code]string) obj {
	var names []string
	var table strings.Builder
	table.WriteString("The ledger's stable result code (codes are only ever appended). Each code: number, name, " +
		"the HTTP status of a transaction rejected with it (POST /v1/txs), meaning. Reads raise some of them with " +
		"their own status (see each route's responses):\n\n")
	for _, c := range ledger.Codes() {
		names = append(names, c.String())
		fmt.Fprintf(&table, "- %d `%s` (HTTP %d): %s\n", c, c, api.HTTPStatus(c), meanings[c])
	}
	return obj{
		"type":        "object",
		"description": "normledger.v1.ErrorInfo: attached to every error as a detail of google.rpc.Status.",
		"properties": obj{
			"@type":     obj{"type": "string", "enum": []string{"type.googleapis.com/normledger.v1.ErrorInfo"}},
			"code":      obj{"type": "integer", "format": "int64", "description": table.String()},
			"codespace": obj{"type": "string", "enum": []string{ledger.Codespace}},
			"codeName":  obj{"type": "string", "enum": names},
		},
	}
}

// responses documents a route's errors by HTTP status, each with the
// ledger codes it carries.
func responses(path, method string, rs obj) obj {
	ref := obj{"$ref": "#/definitions/googleRpcStatus"}
	add := func(status int, what string, cs ...ledger.Code) {
		names := make([]string, len(cs))
		for i, c := range cs {
			names[i] = "`" + c.String() + "`"
		}
		rs[strconv.Itoa(status)] = obj{"description": what + " ErrorInfo codes: " + strings.Join(names, ", ") + ".", "schema": ref}
	}
	add(405, "The route does not take this method (the Allow header lists those it does).", ledger.CodeMethodNotAllowed)
	add(408, "The request did not arrive in time.", ledger.CodeRequestTimeout)
	add(500, "A fault of the node, not of the request.", ledger.CodeInternal)
	if method == "post" {
		var bad, unauth, denied, conflict []ledger.Code
		for _, c := range ledger.Codes() {
			switch api.HTTPStatus(c) {
			case 400:
				bad = append(bad, c)
			case 401:
				unauth = append(unauth, c)
			case 403:
				denied = append(denied, c)
			case 409:
				conflict = append(conflict, c)
			}
		}
		add(400, "The transaction or the request body is malformed or breaks a ledger rule.", bad...)
		add(401, "A signature or signing key is not valid.", unauth...)
		add(403, "The signer may not submit this record.", denied...)
		add(409, "A replay, a sequence out of order or a duplicate record.", conflict...)
		add(413, "The body or the transaction is too large.", ledger.CodeTxTooLarge)
		add(503, "The node cannot take transactions now (mempool full, catching up).", ledger.CodeUnavailable)
		return rs
	}
	if strings.HasPrefix(path, "/misp/") { // the feed's files take no parameters
		add(400, "A query string: the feed takes no parameters.", ledger.CodeBadFormat)
		add(404, "No such file in the feed (no_route), no event with this uuid (unknown_record), or no state to read (unavailable).",
			ledger.CodeNoRoute, ledger.CodeUnknownRecord, ledger.CodeUnavailable)
		add(429, "Over the read rate limit (retry after the Retry-After header's seconds), or more records than a feed is made from "+
			"(bad_format: export with normledger export misp --since).", ledger.CodeRateLimited, ledger.CodeBadFormat)
		add(503, "No attested state yet (the node is starting).", ledger.CodeUnavailable)
		return rs
	}
	add(400, "A parameter is unknown, malformed or out of range; the message names it.", ledger.CodeBadFormat,
		ledger.CodeBadEnum, ledger.CodeBadTime, ledger.CodeUnknownParameter)
	notFound := []ledger.Code{ledger.CodeHeightTooHigh, ledger.CodeUnavailable}
	switch {
	case strings.HasPrefix(path, "/v1/records/"), strings.HasPrefix(path, "/v1/txs/"), strings.HasPrefix(path, "/v1/pledges/"),
		strings.HasPrefix(path, "/v1/evidence/"), strings.HasPrefix(path, "/v1/sealed/"), strings.HasPrefix(path, "/v1/pings/"):
		notFound = append(notFound, ledger.CodeUnknownRecord)
	case strings.HasPrefix(path, "/v1/members/"), strings.HasPrefix(path, "/v1/compliance/"):
		notFound = append(notFound, ledger.CodeUnknownMember)
	case strings.HasPrefix(path, "/v1/obligations/"):
		notFound = append(notFound, ledger.CodeUnknownObligation)
	case strings.HasPrefix(path, "/v1/proposals/"):
		notFound = append(notFound, ledger.CodeUnknownProposal)
	case strings.HasPrefix(path, "/v1/cases/"):
		notFound = append(notFound, ledger.CodeUnknownCase)
	}
	add(404, "Nothing under this id (with prove=true the details carry the absence proof, see v1AbsenceDetail), "+
		"a height beyond the latest (height_too_high), or state this node does not keep (unavailable: pruned or before a state sync).", notFound...)
	add(429, "Over the read rate limit; retry after the Retry-After header's seconds.", ledger.CodeRateLimited)
	add(503, "No attested state yet (the node is starting).", ledger.CodeUnavailable)
	return rs
}

// addEnum lists the values a filter parameter accepts: each enum value by
// its short name and by its full protobuf name, as the node accepts both.
func addEnum(path string, p obj) {
	if p["in"] != "query" || path == "/v1/stix/bundle" { // its kind is a list of the exported kinds
		return
	}
	var short []string
	var d protoreflect.EnumDescriptor
	switch {
	case p["name"] == "kind":
		for _, k := range ledger.DefaultRegistry().Kinds() {
			short = append(short, k.Name)
		}
		d = pb.RecordKind(0).Descriptor()
	case p["name"] == "sector":
		d = pb.Sector(0).Descriptor()
	case p["name"] == "status" && path == "/v1/obligations":
		d = pb.ObligationStatus(0).Descriptor()
	case p["name"] == "status" && path == "/v1/proposals":
		d = pb.ProposalStatus(0).Descriptor()
	case p["name"] == "stage" && path == "/v1/cases":
		d = pb.CaseStage(0).Descriptor()
	default:
		return
	}
	if short == nil {
		short = enum.Names(d)
	}
	prefix := enum.Prefix(d)
	values := append([]string(nil), short...)
	for _, s := range short {
		values = append(values, prefix+strings.ToUpper(s))
	}
	p["enum"] = values
	desc, _ := p["description"].(string)
	p["description"] = strings.TrimSpace(desc + " Short or full name.")
}
