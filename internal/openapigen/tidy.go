package main

import (
	"sort"
	"strings"
	"unicode"
)

// What linters of OpenAPI documents (redocly's recommended rules,
// proto/redocly.yaml) rightly ask of the document and protoc-gen-openapiv2
// does not write, completed here for both the Swagger 2.0 document and,
// through it, the OpenAPI 3 one.

// repository is where the source and its terms are (the module path).
const repository = "https://github.com/normledger/normledger"

func tidy(doc obj) {
	// The API is served from the root of the node's REST address: the
	// OpenAPI 3 form gets the relative server "/" from this.
	doc["basePath"] = "/"
	if info, ok := doc["info"].(obj); ok {
		if lic, ok := info["license"].(obj); ok && lic["url"] == nil {
			lic["url"] = repository
		}
	}
	for _, ops := range doc["paths"].(obj) {
		for _, op := range ops.(obj) {
			o := op.(obj)
			// No route takes HTTP credentials: transactions carry their
			// own signatures. An empty list says so (rather than leaving
			// security undeclared).
			if o["security"] == nil {
				o["security"] = []any{}
			}
			tidySummary(o)
		}
	}
	anyPayloadsRequireType(doc["definitions"].(obj))
	refSiblings(doc["definitions"])
	refSiblings(doc["paths"])
	pruneDefinitions(doc)
}

// refSiblings: beside a $ref, other keys are ignored (JSON Reference; both
// OpenAPI versions say so), and kin-openapi's conversion drops them. The
// generator writes a message field's comment beside the reference to the
// field's type, and "type": "object" beside references in arrays: the
// description moves into an allOf of the one reference (so it is kept),
// the type goes (the referenced schema has it).
func refSiblings(v any) {
	switch x := v.(type) {
	case obj:
		if r, ok := x["$ref"]; ok && len(x) > 1 {
			if x["type"] == "object" {
				delete(x, "type")
			}
			if len(x) > 1 {
				delete(x, "$ref")
				x["allOf"] = []any{obj{"$ref": r}}
			}
			return
		}
		for _, e := range x {
			refSiblings(e)
		}
	case []any:
		for _, e := range x {
			refSiblings(e)
		}
	}
}

// tidySummary makes an operation's summary one line and one sentence:
// protoc-gen-openapiv2 takes a method's whole first comment paragraph,
// line breaks included. The sentences after the first go to the
// description. A method without a comment gets its name in words
// (LedgerService_GetMember: "Get member").
func tidySummary(o obj) {
	s, _ := o["summary"].(string)
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		id, _ := o["operationId"].(string)
		_, name, _ := strings.Cut(id, "_")
		s = words(name) + "."
	}
	if first, rest, ok := firstSentence(s); ok {
		s = first
		if d, _ := o["description"].(string); d != "" {
			rest += "\n\n" + d
		}
		o["description"] = rest
	}
	o["summary"] = s
}

// firstSentence splits s after its first sentence: a period followed by a
// space and a capital letter ("e.g. X" does not end one).
func firstSentence(s string) (first, rest string, ok bool) {
	for i := 0; i+2 < len(s); i++ {
		if s[i] != '.' || s[i+1] != ' ' || !unicode.IsUpper(rune(s[i+2])) {
			continue
		}
		if strings.HasSuffix(s[:i+1], "e.g.") || strings.HasSuffix(s[:i+1], "i.e.") {
			continue
		}
		return s[:i+1], s[i+2:], true
	}
	return s, "", false
}

// words turns a method name into a phrase: GetPledgeCompliance -> "Get
// pledge compliance".
func words(name string) string {
	var b strings.Builder
	for i, c := range name {
		if i > 0 && unicode.IsUpper(c) {
			b.WriteByte(' ')
			c = unicode.ToLower(c)
		}
		b.WriteRune(c)
	}
	return b.String()
}

// isAnyPayload says a definition is one of the concrete messages an error's
// google.protobuf.Any details hold: its @type is an enum of type URLs.
func isAnyPayload(def obj) bool {
	props, _ := def["properties"].(obj)
	t, _ := props["@type"].(obj)
	_, ok := t["enum"]
	return ok
}

// anyPayloadsRequireType: a packed Any always carries its @type, which
// the OpenAPI 3 form discriminates on (proto/openapi3.go).
func anyPayloadsRequireType(defs obj) {
	for _, d := range defs {
		if def := d.(obj); isAnyPayload(def) {
			def["required"] = []string{"@type"}
		}
	}
}

// pruneDefinitions removes the definitions nothing refers to (the
// generator writes google.protobuf.NullValue for Struct, which the JSON
// mapping never uses), keeping the Any payloads the error details name.
func pruneDefinitions(doc obj) {
	defs := doc["definitions"].(obj)
	keep := map[string]bool{}
	var visit func(v any)
	visit = func(v any) {
		switch x := v.(type) {
		case obj:
			for k, e := range x {
				if s, ok := e.(string); ok && k == "$ref" && strings.HasPrefix(s, "#/definitions/") {
					name := strings.TrimPrefix(s, "#/definitions/")
					if !keep[name] {
						keep[name] = true
						visit(defs[name])
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
	visit(doc["paths"])
	var payloads []string
	for name, d := range defs {
		if isAnyPayload(d.(obj)) {
			payloads = append(payloads, name)
		}
	}
	sort.Strings(payloads)
	for _, name := range payloads {
		keep[name] = true
		visit(defs[name])
	}
	for name := range defs {
		if !keep[name] {
			delete(defs, name)
		}
	}
}
