package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	nlproto "github.com/normledger/normledger/proto"
	_ "github.com/normledger/normledger/proto/gen/normledger/v1" // registers normledger.v1
)

// swagger2 is the part of the Swagger 2.0 document the comparison reads.
type swagger2 struct {
	Paths map[string]map[string]struct {
		OperationID string `json:"operationId"`
		Parameters  []struct {
			Name string `json:"name"`
			In   string `json:"in"`
		} `json:"parameters"`
		Responses map[string]json.RawMessage `json:"responses"`
		OwnRoute  bool                       `json:"x-normledger-own-route"`
	} `json:"paths"`
	Definitions map[string]*struct {
		Properties map[string]struct {
			Type   string `json:"type"`
			Format string `json:"format"`
		} `json:"properties"`
	} `json:"definitions"`
}

// GET /openapi3.json serves the OpenAPI 3 form of the Swagger 2.0 document
// (/openapi.json): valid by kin-openapi's loader and validation, with the
// same paths, operations, parameters and responses, and every 64-bit
// integer a string, as protojson writes it.
func TestOpenAPI3Served(t *testing.T) {
	l := newTestLedger(t)
	srv := restServer(t, Config{}, l.server(&fakeChain{}))
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/openapi3.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := send(t, srv, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi3.json: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	want, err := nlproto.OpenAPI3()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, want) {
		t.Error("the served document is not proto.OpenAPI3()")
	}

	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(body)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("kin-openapi: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q", doc.OpenAPI)
	}

	var v2 swagger2
	if err := json.Unmarshal(nlproto.OpenAPI, &v2); err != nil {
		t.Fatal(err)
	}
	// Paths and operations: the same, each with its operationId, its
	// parameters (a body parameter becomes the request body) and its
	// responses.
	ops := func() []string {
		var out []string
		for path, item := range v2.Paths {
			for method := range item {
				out = append(out, strings.ToUpper(method)+" "+path)
			}
		}
		sort.Strings(out)
		return out
	}()
	var got []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			got = append(got, method+" "+path)
		}
	}
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(ops, "\n") {
		t.Fatalf("operations differ:\n2.0: %v\n3.0: %v", ops, got)
	}
	if len(ops) < 30 {
		t.Fatalf("only %d operations", len(ops))
	}
	for path, item := range v2.Paths {
		for method, op2 := range item {
			op3 := doc.Paths.Value(path).GetOperation(strings.ToUpper(method))
			what := strings.ToUpper(method) + " " + path
			if op3.OperationID != op2.OperationID || op3.OperationID == "" {
				t.Errorf("%s: operationId %q, 2.0 has %q", what, op3.OperationID, op2.OperationID)
			}
			var p2, p3 []string
			body := false
			for _, p := range op2.Parameters {
				if p.In == "body" {
					body = true
					continue
				}
				p2 = append(p2, p.In+":"+p.Name)
			}
			for _, p := range op3.Parameters {
				p3 = append(p3, p.Value.In+":"+p.Value.Name)
			}
			sort.Strings(p2)
			sort.Strings(p3)
			if fmt.Sprint(p2) != fmt.Sprint(p3) {
				t.Errorf("%s: parameters %v, 2.0 has %v", what, p3, p2)
			}
			if body != (op3.RequestBody != nil) {
				t.Errorf("%s: request body %v, 2.0 body parameter %v", what, op3.RequestBody != nil, body)
			}
			var r2, r3 []string
			for code := range op2.Responses {
				r2 = append(r2, code)
			}
			for code, r := range op3.Responses.Map() {
				r3 = append(r3, code)
				if r.Value == nil || r.Value.Description == nil || *r.Value.Description == "" {
					t.Errorf("%s %s: no description", what, code)
				}
				if code >= "400" && code != "default" && len(r.Value.Content) == 0 {
					t.Errorf("%s %s: an error response without a schema", what, code)
				}
			}
			sort.Strings(r2)
			sort.Strings(r3)
			if fmt.Sprint(r2) != fmt.Sprint(r3) {
				t.Errorf("%s: responses %v, 2.0 has %v", what, r3, r2)
			}
			if (op3.Extensions["x-normledger-own-route"] != nil) != op2.OwnRoute {
				t.Errorf("%s: the own-route mark is lost", what)
			}
		}
	}

	// 64-bit integers: every int64/uint64/fixed64 field of the messages is
	// a string with its format; the 2.0 document's string int64s stay so.
	checked := 0
	isLong := map[protoreflect.Kind]string{
		protoreflect.Int64Kind: "int64", protoreflect.Sint64Kind: "int64", protoreflect.Sfixed64Kind: "int64",
		protoreflect.Uint64Kind: "uint64", protoreflect.Fixed64Kind: "uint64",
	}
	var visit func(md protoreflect.MessageDescriptor)
	visit = func(md protoreflect.MessageDescriptor) {
		for i := 0; i < md.Messages().Len(); i++ {
			visit(md.Messages().Get(i))
		}
		name := "v1" + strings.ReplaceAll(strings.TrimPrefix(string(md.FullName()), "normledger.v1."), ".", "")
		s := doc.Components.Schemas[name]
		if s == nil || s.Value == nil {
			return
		}
		for i := 0; i < md.Fields().Len(); i++ {
			f := md.Fields().Get(i)
			format, long := isLong[f.Kind()]
			if !long || f.IsMap() {
				continue
			}
			p := s.Value.Properties[f.JSONName()]
			if p == nil || p.Value == nil {
				t.Errorf("%s.%s: not in the schema", name, f.JSONName())
				continue
			}
			v := p.Value
			if f.IsList() {
				if v.Items == nil || v.Items.Value == nil {
					t.Errorf("%s.%s: a list without items", name, f.JSONName())
					continue
				}
				v = v.Items.Value
			}
			if !v.Type.Is("string") || v.Format != format {
				t.Errorf("%s.%s (%s): type %v format %q, want string %s", name, f.JSONName(), f.Kind(), v.Type, v.Format, format)
			}
			checked++
		}
	}
	protoregistry.GlobalFiles.RangeFilesByPackage("normledger.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Messages().Len(); i++ {
			visit(fd.Messages().Get(i))
		}
		return true
	})
	if checked < 50 {
		t.Errorf("only %d 64-bit fields checked", checked)
	}
	for name, d := range v2.Definitions {
		for p, s := range d.Properties {
			if s.Type != "string" || (s.Format != "int64" && s.Format != "uint64") {
				continue
			}
			v := doc.Components.Schemas[name].Value.Properties[p].Value
			if !v.Type.Is("string") || v.Format != s.Format {
				t.Errorf("%s.%s: %v %q in OpenAPI 3, string %s in 2.0", name, p, v.Type, v.Format, s.Format)
			}
		}
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for _, p := range op.Parameters {
				if s := p.Value.Schema.Value; (s.Format == "int64" || s.Format == "uint64") && p.Value.Name == "height" && !s.Type.Is("string") {
					t.Errorf("%s %s: height is %v", method, path, s.Type)
				}
			}
		}
	}
}

// The routes the document marks as the node's own (TAXII, the MISP feed)
// pass the strict edge as its own routes: any query string (their
// handlers read it), every documented method.
func TestOwnRoutesPassTheEdge(t *testing.T) {
	var v2 swagger2
	if err := json.Unmarshal(nlproto.OpenAPI, &v2); err != nil {
		t.Fatal(err)
	}
	rs, err := loadRoutes()
	if err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`\{[^}]*\}`)
	n := 0
	for path, item := range v2.Paths {
		for method, op := range item {
			if !op.OwnRoute {
				continue
			}
			n++
			concrete := param.ReplaceAllString(path, "x-1")
			r, _ := rs.match(concrete)
			if r == nil {
				t.Errorf("%s %s: the edge has no route for %s", method, path, concrete)
				continue
			}
			if !r.anyQuery {
				t.Errorf("%s %s: the edge checks its query against the document (%s), not the handler", method, path, r.template())
			}
			if _, ok := r.methods[strings.ToUpper(method)]; !ok {
				t.Errorf("%s %s: the edge does not take %s there", method, path, method)
			}
		}
	}
	if n < 11 {
		t.Errorf("only %d own routes in the document", n)
	}
}

// The node answers what the OpenAPI 3 document says it does. For a request
// to each kind of route (the gateway's reads and its errors with their
// details, the STIX export, TAXII, the MISP feed), the answer's status is
// one the operation documents, its media type one documented for that
// status, and its JSON body validates against the documented schema
// (kin-openapi's VisitJSON: a 64-bit integer written as a number, a wrong
// type, an error detail that is neither an ErrorInfo nor an absence proof,
// all fail).
func TestOpenAPI3DescribesAnswers(t *testing.T) {
	l := newTestLedger(t)
	srv := restServer(t, Config{}, l.server(&fakeChain{}))
	spec, err := nlproto.OpenAPI3()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(spec)
	if err != nil {
		t.Fatal(err)
	}
	// get requests target (the path of route template, with a query) and
	// checks the answer against the document; it returns the JSON body.
	get := func(template, target, accept string, status int) any {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL+target, nil)
		if err != nil {
			t.Fatal(err)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, body := send(t, srv, req)
		what := "GET " + target
		if resp.StatusCode != status {
			t.Fatalf("%s: %d, want %d: %s", what, resp.StatusCode, status, body)
		}
		item := doc.Paths.Value(template)
		if item == nil || item.Get == nil {
			t.Fatalf("%s: the document has no GET %s", what, template)
		}
		r := item.Get.Responses.Status(resp.StatusCode)
		if r == nil || r.Value == nil {
			t.Errorf("%s: status %d is not documented", what, resp.StatusCode)
			return nil
		}
		ct := resp.Header.Get("Content-Type")
		mt := r.Value.Content.Get(ct)
		if mt == nil || mt.Schema == nil {
			var listed []string
			for k := range r.Value.Content {
				listed = append(listed, k)
			}
			t.Errorf("%s: %d as %q, the document lists %v", what, resp.StatusCode, ct, listed)
			return nil
		}
		if !strings.Contains(strings.Split(ct, ";")[0], "json") {
			if !mt.Schema.Value.Type.Is("string") {
				t.Errorf("%s: %s answer, documented as %v", what, ct, mt.Schema.Value.Type)
			}
			return nil
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s: %v: %s", what, err, body)
		}
		if err := mt.Schema.Value.VisitJSON(v, openapi3.MultiErrors()); err != nil {
			t.Errorf("%s: the %d answer does not fit the documented schema: %v", what, resp.StatusCode, err)
		}
		return v
	}
	field := func(v any, path ...string) any {
		for _, k := range path {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		return v
	}

	get("/v1/status", "/v1/status", "", 200)
	get("/v1/members", "/v1/members?prove=true", "", 200)
	get("/v1/members/{id}", "/v1/members/xaa?prove=true", "", 200)
	get("/v1/records", "/v1/records?limit=5&prove=true", "", 200)
	get("/v1/records/{id}", "/v1/records/"+l.ids[0]+"?prove=true", "", 200)
	get("/v1/obligations", "/v1/obligations", "", 200)
	get("/v1/log", "/v1/log?prove=true", "", 200)
	// Errors: the details are an ErrorInfo, and with prove an absence proof.
	absent := get("/v1/records/{id}", "/v1/records/"+strings.Repeat("0", 64)+"?prove=true", "", 404)
	if d, _ := field(absent, "details").([]any); len(d) != 2 {
		t.Errorf("a 404 with prove: details %v, want the ErrorInfo and the absence proof", d)
	}
	get("/v1/records", "/v1/records?bogus=1", "", 400)
	get("/v1/records", "/v1/records?height=99999", "", 404)

	get("/v1/stix/bundle", "/v1/stix/bundle", "", 200)
	get("/v1/stix/bundle", "/v1/stix/bundle?format=misp", "", 200)
	get("/v1/stix/bundle", "/v1/stix/bundle?format=xml", "", 400)

	get("/taxii2/", "/taxii2/", "", 200)
	get("/taxii2/api/", "/taxii2/api/", taxiiMedia, 200)
	cols := get("/taxii2/api/collections/", "/taxii2/api/collections/", "", 200)
	list, _ := field(cols, "collections").([]any)
	if len(list) == 0 {
		t.Fatal("no TAXII collections")
	}
	id, _ := field(list[0], "id").(string)
	get("/taxii2/api/collections/{id}/", "/taxii2/api/collections/"+id+"/", "", 200)
	page := get("/taxii2/api/collections/{id}/objects/", "/taxii2/api/collections/"+id+"/objects/?limit=3&match[type]=identity,incident", "", 200)
	objs, _ := field(page, "objects").([]any)
	if len(objs) == 0 {
		t.Fatalf("no objects: %v", page)
	}
	obj, _ := field(objs[0], "id").(string)
	get("/taxii2/api/collections/{id}/objects/{object_id}/", "/taxii2/api/collections/"+id+"/objects/"+obj+"/?match[version]=all", "", 200)
	get("/taxii2/api/collections/{id}/objects/{object_id}/versions/", "/taxii2/api/collections/"+id+"/objects/"+obj+"/versions/", "", 200)
	get("/taxii2/api/collections/{id}/manifest/", "/taxii2/api/collections/"+id+"/manifest/?limit=3&next="+
		url.QueryEscape(fmt.Sprint(field(page, "next"))), "", 200)
	get("/taxii2/api/collections/{id}/", "/taxii2/api/collections/no-such-collection/", "", 404)
	get("/taxii2/api/collections/{id}/objects/", "/taxii2/api/collections/"+id+"/objects/?colour=red", "", 400)
	get("/taxii2/api/collections/", "/taxii2/api/collections/", "text/html", 406)

	manifest := get("/misp/manifest.json", "/misp/manifest.json", "", 200)
	events, _ := manifest.(map[string]any)
	if len(events) == 0 {
		t.Fatal("an empty MISP feed")
	}
	for uuid := range events {
		get("/misp/{uuid}.json", "/misp/"+uuid+".json", "", 200)
	}
	get("/misp/hashes.csv", "/misp/hashes.csv", "", 200)
	get("/misp/{uuid}.json", "/misp/00000000-0000-4000-8000-000000000000.json", "", 404)
	get("/misp/manifest.json", "/misp/manifest.json?since=1", "", 400)
}
