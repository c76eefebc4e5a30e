package proto

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
)

// OpenAPI3 is the OpenAPI 3.0 form of OpenAPI (the Swagger 2.0 document),
// converted in process by kin-openapi's openapi2conv and completed by
// fixOpenAPI3 where the conversion loses what the 2.0 document says. It is
// converted on first use and the bytes kept; the error is a fault of the
// generated document (the tests convert it).
var OpenAPI3 = sync.OnceValues(func() ([]byte, error) { return convertOpenAPI3(OpenAPI) })

// convertOpenAPI3 converts a Swagger 2.0 document and checks the result
// with kin-openapi's own validation (every $ref resolved, every schema,
// parameter and response well formed).
func convertOpenAPI3(swagger []byte) ([]byte, error) {
	var doc2 openapi2.T
	if err := json.Unmarshal(swagger, &doc2); err != nil {
		return nil, fmt.Errorf("openapi 2.0 document: %w", err)
	}
	doc3, err := openapi2conv.ToV3(&doc2)
	if err != nil {
		return nil, fmt.Errorf("converting to openapi 3: %w", err)
	}
	bz, err := json.Marshal(doc3)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(bz))
	dec.UseNumber()
	var doc obj
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if err := fixOpenAPI3(&doc2, doc); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	// What is served is what was validated: the bytes, loaded afresh.
	check, err := openapi3.NewLoader().LoadFromData(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("openapi 3 document: %w", err)
	}
	if err := check.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi 3 document: %w", err)
	}
	return out.Bytes(), nil
}

type obj = map[string]any

const schemaPrefix = "#/components/schemas/"

// fixOpenAPI3 corrects and completes the converted document (doc, as
// JSON) from the 2.0 one. Each rule is derived from the documents, none
// names a route:
//
//   - media types: openapi2conv gives every response of an operation
//     without its own produces application/json, not the document's
//     produces; and it gives the error responses of an operation that has
//     its own (the STIX export's, TAXII's, the MISP feed's hashes.csv) that
//     operation's media types, while every error the edge writes is the
//     document's (application/json). The error schema is the one the
//     operations' default responses name (google.rpc.Status).
//   - error details: the 2.0 document can only say that an error's details
//     are google.protobuf.Any; OpenAPI 3 can say which: oneOf the Any
//     payloads the document defines (a definition whose @type is an enum of
//     type URLs), discriminated by @type.
//   - openapi2conv's x-originalParamName on request bodies goes.
//   - components nothing refers to are removed (google.protobuf.Any, once
//     the details name their payloads).
//   - the server (basePath "/" of the 2.0 document) is described.
func fixOpenAPI3(doc2 *openapi2.T, doc obj) error {
	paths, _ := doc["paths"].(obj)
	schemas, _ := doc["components"].(obj)["schemas"].(obj)
	if paths == nil || schemas == nil {
		return fmt.Errorf("openapi 3 document: no paths or no schemas")
	}
	docProduces := doc2.Produces
	if len(docProduces) == 0 {
		docProduces = []string{"application/json"}
	}
	errorSchemas := map[string]bool{}
	for _, item := range doc2.Paths {
		for _, op := range item.Operations() {
			if op.Responses == nil {
				continue
			}
			if d := op.Responses.Value("default"); d != nil && d.Schema != nil && d.Schema.Ref != "" {
				errorSchemas[strings.Replace(d.Schema.Ref, "#/definitions/", schemaPrefix, 1)] = true
			}
		}
	}
	if len(errorSchemas) == 0 {
		return fmt.Errorf("openapi 2.0 document: no default (error) response names a schema")
	}
	for path, item := range doc2.Paths {
		for method, op2 := range item.Operations() {
			op, _ := paths[path].(obj)[strings.ToLower(method)].(obj)
			if op == nil {
				return fmt.Errorf("openapi 3 document: %s %s was lost in the conversion", method, path)
			}
			rs, _ := op["responses"].(obj)
			for _, r := range rs {
				content, _ := r.(obj)["content"].(obj)
				if len(content) == 0 {
					continue
				}
				var schema any
				for _, mt := range content {
					schema = mt.(obj)["schema"]
					break
				}
				s, _ := schema.(obj)
				ref, _ := s["$ref"].(string)
				want := op2.Produces
				if len(want) == 0 || errorSchemas[ref] {
					want = docProduces
				}
				fixed := obj{}
				for _, m := range want {
					fixed[m] = obj{"schema": schema}
				}
				r.(obj)["content"] = fixed
			}
			// openapi2conv's note of the body parameter's name, for a way
			// back to 2.0: nothing a client of this document needs.
			if rb, ok := op["requestBody"].(obj); ok {
				delete(rb, "x-originalParamName")
			}
		}
	}

	// The Any payloads, by the @type values they carry.
	mapping := obj{}
	var payloads []string
	for name, s := range schemas {
		props, _ := s.(obj)["properties"].(obj)
		t, _ := props["@type"].(obj)
		enum, _ := t["enum"].([]any)
		for _, v := range enum {
			mapping[fmt.Sprint(v)] = schemaPrefix + name
		}
		if len(enum) > 0 {
			payloads = append(payloads, schemaPrefix+name)
		}
	}
	sort.Strings(payloads)
	if len(payloads) > 0 {
		var oneOf []any
		for _, p := range payloads {
			oneOf = append(oneOf, obj{"$ref": p})
		}
		for ref := range errorSchemas {
			replaceAny(schemas[strings.TrimPrefix(ref, schemaPrefix)], obj{"oneOf": oneOf,
				"discriminator": obj{"propertyName": "@type", "mapping": mapping}})
		}
	}

	pruneSchemas(doc, schemas)

	if servers, _ := doc["servers"].([]any); len(servers) == 1 {
		if s, _ := servers[0].(obj); s["url"] == "/" && s["description"] == nil {
			s["description"] = "The node that serves this document (its REST address)."
		}
	}
	return nil
}

// anyRef is how the converted document refers to google.protobuf.Any.
const anyRef = schemaPrefix + "protobufAny"

// replaceAny replaces the references to google.protobuf.Any within v
// (not through other references) by with.
func replaceAny(v any, with obj) {
	switch x := v.(type) {
	case obj:
		for k, e := range x {
			if m, ok := e.(obj); ok && len(m) == 1 && m["$ref"] == anyRef {
				x[k] = with
				continue
			}
			replaceAny(e, with)
		}
	case []any:
		for i, e := range x {
			if m, ok := e.(obj); ok && len(m) == 1 && m["$ref"] == anyRef {
				x[i] = with
				continue
			}
			replaceAny(e, with)
		}
	}
}

// pruneSchemas removes the component schemas no reference reaches from
// outside the schemas (paths, parameters, request bodies...).
func pruneSchemas(doc, schemas obj) {
	keep := map[string]bool{}
	var visit func(v any)
	var ref func(s string)
	visit = func(v any) {
		switch x := v.(type) {
		case obj:
			for k, e := range x {
				if s, ok := e.(string); ok && k == "$ref" {
					ref(s)
					continue
				}
				if m, ok := e.(obj); ok && k == "mapping" && x["propertyName"] != nil { // a discriminator: value -> schema reference
					for _, s := range m {
						ref(fmt.Sprint(s))
					}
					continue
				}
				visit(e)
			}
		case []any:
			for _, e := range x {
				visit(e)
			}
		}
	}
	ref = func(s string) {
		if name, ok := strings.CutPrefix(s, schemaPrefix); ok && !keep[name] {
			keep[name] = true
			visit(schemas[name])
		}
	}
	for k, v := range doc {
		if k != "components" {
			visit(v)
		}
	}
	for k, v := range doc["components"].(obj) {
		if k != "schemas" {
			visit(v)
		}
	}
	for name := range schemas {
		if !keep[name] {
			delete(schemas, name)
		}
	}
}
