// Package codedoc reads the ledger's result codes as ledger/codes.go
// declares them: each code constant's name, number and line comment (what
// it means), which the docs' code table (docs_test.go) and the OpenAPI
// document (internal/openapigen) are generated from. It parses the source,
// so it imports only the standard library.
package codedoc

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
)

// Const is one code constant.
type Const struct {
	Name  string // its identifier, e.g. CodeBadSignature
	Value uint32
	// Meaning is its line comment, trimmed ("" when it has none).
	Meaning string
}

// Parse reads the constants of type Code that file declares, in order. Each
// must be a plain number: codes are appended, never computed.
func Parse(file string) ([]Const, error) {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	var out []Const
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			if typ, ok := vs.Type.(*ast.Ident); !ok || typ.Name != "Code" || len(vs.Names) != 1 || len(vs.Values) != 1 {
				continue
			}
			lit, ok := vs.Values[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.INT {
				return nil, fmt.Errorf("%s: %s must be a plain number (codes are appended, never computed)", file, vs.Names[0].Name)
			}
			n, err := strconv.ParseUint(lit.Value, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", file, vs.Names[0].Name, err)
			}
			c := Const{Name: vs.Names[0].Name, Value: uint32(n)}
			if vs.Comment != nil {
				c.Meaning = strings.TrimSpace(vs.Comment.Text())
			}
			out = append(out, c)
		}
	}
	return out, nil
}
