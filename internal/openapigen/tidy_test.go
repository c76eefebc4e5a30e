package main

import (
	"encoding/json"
	"strings"
	"testing"

	nlproto "github.com/normledger/normledger/proto"
)

func TestFirstSentence(t *testing.T) {
	for _, c := range []struct{ in, first, rest string }{
		{"One record by id. A missing id is NOT_FOUND.", "One record by id.", "A missing id is NOT_FOUND."},
		{"Cases (docs/cases.md): by party, by stage, or all.", "Cases (docs/cases.md): by party, by stage, or all.", ""},
		{"The read's type (e.g. GetRecordResponse) is kept. Then more.", "The read's type (e.g. GetRecordResponse) is kept.", "Then more."},
		{"Proof of key e/<id>. with a lower case after.", "Proof of key e/<id>. with a lower case after.", ""},
	} {
		first, rest, _ := firstSentence(c.in)
		if first != c.first || rest != c.rest {
			t.Errorf("%q: %q + %q, want %q + %q", c.in, first, rest, c.first, c.rest)
		}
	}
	if got := words("GetPledgeCompliance"); got != "Get pledge compliance" {
		t.Errorf("words: %q", got)
	}
}

// What tidy promises, in the committed document (which CI regenerates and
// compares): linters' needs met in the Swagger 2.0 document itself.
func TestDocumentTidy(t *testing.T) {
	var doc obj
	if err := json.Unmarshal(nlproto.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["basePath"] != "/" {
		t.Errorf("basePath %v", doc["basePath"])
	}
	if lic := doc["info"].(obj)["license"].(obj); lic["url"] == nil || lic["name"] == nil {
		t.Errorf("license %v", lic)
	}
	tags := map[string]bool{}
	for _, tg := range doc["tags"].([]any) {
		if tg.(obj)["description"] == "" {
			t.Errorf("tag %v without a description", tg)
		}
		tags[tg.(obj)["name"].(string)] = true
	}
	for path, item := range doc["paths"].(obj) {
		for method, o := range item.(obj) {
			op, what := o.(obj), method+" "+path
			if s, _ := op["summary"].(string); s == "" || strings.Contains(s, "\n") {
				t.Errorf("%s: summary %q", what, s)
			}
			if sec, ok := op["security"].([]any); !ok || len(sec) != 0 {
				t.Errorf("%s: security %v", what, op["security"])
			}
			for _, tg := range op["tags"].([]any) {
				if !tags[tg.(string)] {
					t.Errorf("%s: tag %v is not defined", what, tg)
				}
			}
			own := strings.HasPrefix(path, "/taxii2/") || strings.HasPrefix(path, "/misp/")
			if (op[ownRouteExt] == true) != own {
				t.Errorf("%s: %s is %v", what, ownRouteExt, op[ownRouteExt])
			}
		}
	}
	var siblings func(where string, v any)
	siblings = func(where string, v any) {
		switch x := v.(type) {
		case obj:
			if _, ok := x["$ref"]; ok && len(x) > 1 {
				t.Errorf("%s: keys beside $ref: %v", where, x)
			}
			for k, e := range x {
				siblings(where+"/"+k, e)
			}
		case []any:
			for _, e := range x {
				siblings(where, e)
			}
		}
	}
	siblings("", doc)
	bz := string(nlproto.OpenAPI)
	for name, d := range doc["definitions"].(obj) {
		if !strings.Contains(bz, `"#/definitions/`+name+`"`) && !isAnyPayload(d.(obj)) {
			t.Errorf("definition %s: nothing refers to it", name)
		}
	}
}
