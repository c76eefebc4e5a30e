package proto

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

func decode(t *testing.T, bz []byte) obj {
	t.Helper()
	var doc obj
	if err := json.Unmarshal(bz, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// The conversion succeeds, validates under kin-openapi, and gives the same
// bytes every time (the served document does not change between nodes or
// restarts).
func TestOpenAPI3Converts(t *testing.T) {
	bz, err := OpenAPI3()
	if err != nil {
		t.Fatal(err)
	}
	again, err := convertOpenAPI3(OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bz, again) {
		t.Fatal("two conversions of the same document differ")
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(bz)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/" {
		t.Errorf("servers %v, want the relative /", doc.Servers)
	}
	if doc.Info == nil || doc.Info.Title == "" || doc.Info.License == nil || doc.Info.License.URL == "" {
		t.Errorf("info %+v", doc.Info)
	}
}

// What fixOpenAPI3 corrects: the media types of error responses, the
// error details' payloads, components nothing uses.
func TestOpenAPI3Fixes(t *testing.T) {
	bz, err := OpenAPI3()
	if err != nil {
		t.Fatal(err)
	}
	doc := decode(t, bz)
	v2 := decode(t, OpenAPI)
	schemas := doc["components"].(obj)["schemas"].(obj)
	if _, ok := schemas["protobufAny"]; ok {
		t.Error("google.protobuf.Any is still a component: the error details should name their payloads")
	}
	ownMedia := 0
	for path, item := range doc["paths"].(obj) {
		for method, o := range item.(obj) {
			op := o.(obj)
			if sec, ok := op["security"].([]any); !ok || len(sec) != 0 {
				t.Errorf("%s %s: security %v, want [] (no credentials)", method, path, op["security"])
			}
			produces, _ := v2["paths"].(obj)[path].(obj)[method].(obj)["produces"].([]any)
			for code, r := range op["responses"].(obj) {
				content, _ := r.(obj)["content"].(obj)
				for mt, m := range content {
					ref, _ := m.(obj)["schema"].(obj)["$ref"].(string)
					isError := ref == schemaPrefix+"googleRpcStatus"
					switch {
					case isError && mt != "application/json":
						t.Errorf("%s %s %s: the edge's error as %s", method, path, code, mt)
					case !isError && len(produces) > 0 && !contains(produces, mt):
						t.Errorf("%s %s %s: %s, not one of the operation's %v", method, path, code, mt, produces)
					}
				}
				if len(produces) > 0 && !strings.HasPrefix(code, "4") && !strings.HasPrefix(code, "5") && code != "default" {
					ownMedia++
				}
			}
		}
	}
	if ownMedia == 0 {
		t.Error("no operation with its own media types was checked")
	}
	details := schemas["googleRpcStatus"].(obj)["properties"].(obj)["details"].(obj)["items"].(obj)
	oneOf, _ := details["oneOf"].([]any)
	disc, _ := details["discriminator"].(obj)
	if len(oneOf) != 2 || disc["propertyName"] != "@type" {
		t.Fatalf("error details: %v", details)
	}
	mapping := disc["mapping"].(obj)
	for _, name := range []string{"v1ErrorInfo", "v1AbsenceDetail"} {
		props := schemas[name].(obj)["properties"].(obj)
		for _, v := range props["@type"].(obj)["enum"].([]any) {
			if mapping[v.(string)] != schemaPrefix+name {
				t.Errorf("discriminator maps %s to %v, want %s", v, mapping[v.(string)], name)
			}
		}
	}
	// Every schema is reachable from the operations.
	var used []string
	for name := range schemas {
		if !strings.Contains(string(bz), `"`+schemaPrefix+name+`"`) {
			used = append(used, name)
		}
	}
	sort.Strings(used)
	if len(used) > 0 {
		t.Errorf("schemas nothing refers to: %v", used)
	}
}

// The 2.0 document's descriptions beside references (a field's comment
// beside its message type) survive the conversion.
func TestOpenAPI3KeepsFieldDescriptions(t *testing.T) {
	bz, err := OpenAPI3()
	if err != nil {
		t.Fatal(err)
	}
	v3 := decode(t, bz)["components"].(obj)["schemas"].(obj)
	n := 0
	for name, d := range decode(t, OpenAPI)["definitions"].(obj) {
		props, _ := d.(obj)["properties"].(obj)
		for p, s := range props {
			desc, _ := s.(obj)["description"].(string)
			if desc == "" {
				continue
			}
			n++
			got, _ := v3[name].(obj)["properties"].(obj)[p].(obj)["description"].(string)
			if got != desc {
				t.Errorf("%s.%s: description %q, want %q", name, p, got, desc)
			}
		}
	}
	if n < 100 {
		t.Errorf("only %d described properties checked", n)
	}
}

func contains(l []any, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}
