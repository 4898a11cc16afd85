// Package gosrc reads a package's own Go source, for tests that check
// every constant of a kind is wired up (each audit action, alert kind and
// timeline event has its label).
package gosrc

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
)

// Const is a string constant: its name and value.
type Const struct {
	Name, Value string
}

// StringConsts returns the string constants declared in file whose names
// start with prefix, in source order.
func StringConsts(file, prefix string) ([]Const, error) {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
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
			v := s.(*ast.ValueSpec)
			for i, name := range v.Names {
				if i >= len(v.Values) || !strings.HasPrefix(name.Name, prefix) {
					continue
				}
				lit, ok := v.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				value, err := strconv.Unquote(lit.Value)
				if err != nil {
					return nil, err
				}
				out = append(out, Const{Name: name.Name, Value: value})
			}
		}
	}
	return out, nil
}
