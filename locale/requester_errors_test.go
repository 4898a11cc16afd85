package locale_test

import (
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/opendsar/dsar/locale"
)

// requesterErrorFiles are the files whose errors a requester reads (the
// form's and the portal's API and pages translate them with locale.Error),
// relative to the module root.
var requesterErrorFiles = []string{
	"server/captcha.go",
	"server/upload.go",
	"server/intake.go",
	"server/errors.go",
	"server/logins.go",
	"server/hashing.go",
	"server/messages.go",
	"server/ratelimit.go",
	"store/intake.go",
	"store/tokens.go",
	"store/portal.go",
	"store/messages.go",
	"passwords/passwords.go",
}

// messageFuncs are functions of those files whose string results are
// messages a requester reads (a password's fault, shown by its field).
var messageFuncs = map[string][]string{
	"passwords/passwords.go": {"Check"},
}

// notForRequesters are messages of those files a requester never reads,
// keyed by file and the English text (a format string as written) or, for
// what the test cannot evaluate, the expression; each with why.
var notForRequesters = map[string]string{
	// Staff adding a message to a request whose email is not verified: the
	// requester has no portal until it is.
	"store/messages.go: the request is %s: the requester's email is not verified, so there is nobody to talk to yet": "staff only",
	// AcceptRequest on a request this process just stored: an internal
	// inconsistency naming an id, not an answer to act on.
	"store/intake.go: no request %s": "internal",
	// The messages of validate (server/validate.go), copied field by
	// field; they are literals there.
	"server/intake.go: why": "copied from validate",
}

// sizeSamples are what humanBytes and sizeText write.
var sizeSamples = []string{"10 MiB", "1.5 MiB", "512 KiB", "300 bytes"}

// TestRequesterErrorsTranslated parses the requester-facing files and fails
// for each message they give a requester that locale.Error cannot
// translate: the fields of dsar.Invalid, the format of dsar.Errorf (filled
// with sample arguments), errors.New, and the Message and Fields of a
// dsar.Error or ErrorDetail literal.
func TestRequesterErrorsTranslated(t *testing.T) {
	root := moduleRoot(t)
	s := &errScan{t: t, fset: token.NewFileSet(), consts: map[string]map[string]ast.Expr{},
		funcs: map[string]map[string]*ast.FuncDecl{}, files: map[string]*ast.File{}}
	for _, rel := range requesterErrorFiles {
		f, err := parser.ParseFile(s.fset, filepath.Join(root, rel), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		s.files[rel] = f
		dir := filepath.Dir(rel)
		if s.consts[dir] == nil {
			s.consts[dir], s.funcs[dir] = map[string]ast.Expr{}, map[string]*ast.FuncDecl{}
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.GenDecl:
				if d.Tok != token.CONST {
					continue
				}
				for _, spec := range d.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if i < len(vs.Values) {
							s.consts[dir][n.Name] = vs.Values[i]
						}
					}
				}
			case *ast.FuncDecl:
				if d.Recv == nil {
					s.funcs[dir][d.Name.Name] = d
				}
			}
		}
	}
	for _, rel := range requesterErrorFiles {
		s.scanFile(rel)
	}
	if s.count < 50 {
		t.Errorf("only %d messages found: is the scan still reading the files?", s.count)
	}
	sort.Strings(s.unknown)
	for _, u := range s.unknown {
		t.Error(u)
	}
	for k := range notForRequesters {
		if !s.allowed[k] {
			t.Errorf("notForRequesters lists %q, which the files no longer hold", k)
		}
	}
}

func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = up
	}
}

type errScan struct {
	t       *testing.T
	fset    *token.FileSet
	files   map[string]*ast.File
	consts  map[string]map[string]ast.Expr      // by directory
	funcs   map[string]map[string]*ast.FuncDecl // by directory
	unknown []string
	allowed map[string]bool
	count   int

	rel     string
	closure map[*ast.Object]closureParam // parameters of func literals named by :=
	pending map[closureParam]bool        // those whose arguments are messages
}

type closureParam struct {
	name  string
	index int
}

func (s *errScan) scanFile(rel string) {
	f := s.files[rel]
	s.rel, s.closure, s.pending = rel, map[*ast.Object]closureParam{}, map[closureParam]bool{}
	if s.allowed == nil {
		s.allowed = map[string]bool{}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		if as, ok := n.(*ast.AssignStmt); ok && len(as.Lhs) == len(as.Rhs) {
			for i, r := range as.Rhs {
				fl, ok := r.(*ast.FuncLit)
				id, ok2 := as.Lhs[i].(*ast.Ident)
				if !ok || !ok2 {
					continue
				}
				idx := 0
				for _, field := range fl.Type.Params.List {
					for _, name := range field.Names {
						if name.Obj != nil {
							s.closure[name.Obj] = closureParam{id.Name, idx}
						}
						idx++
					}
				}
			}
		}
		return true
	})
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			switch qualified(n.Fun) {
			case "dsar.Invalid":
				if len(n.Args) == 1 {
					s.fields(f, n.Args[0])
				}
			case "dsar.Errorf":
				if len(n.Args) >= 2 {
					s.check(n.Args[1], s.format(n.Args[1], n.Args[2:]))
				}
			case "errors.New":
				if len(n.Args) == 1 {
					s.sink(n.Args[0])
				}
			}
		case *ast.CompositeLit:
			switch qualified(n.Type) {
			case "dsar.Error":
				for _, e := range n.Elts {
					kv, ok := e.(*ast.KeyValueExpr)
					if !ok {
						continue
					}
					switch qualified(kv.Key) {
					case "Message":
						s.sink(kv.Value)
					case "Fields":
						s.fields(f, kv.Value)
					}
				}
			case "ErrorDetail":
				for _, e := range n.Elts {
					if kv, ok := e.(*ast.KeyValueExpr); ok && qualified(kv.Key) == "Message" {
						if _, lit := kv.Value.(*ast.BasicLit); lit {
							s.sink(kv.Value)
						}
					}
				}
			}
		case *ast.FuncDecl:
			for _, name := range messageFuncs[rel] {
				if n.Name.Name != name || n.Body == nil {
					continue
				}
				ast.Inspect(n.Body, func(m ast.Node) bool {
					if r, ok := m.(*ast.ReturnStmt); ok && len(r.Results) == 1 {
						if lit, ok := r.Results[0].(*ast.BasicLit); ok && lit.Value == `""` {
							return true
						}
						s.sink(r.Results[0])
					}
					return true
				})
			}
		}
		return true
	})
	// The arguments of closures that pass a parameter on as a message
	// (bad("..."), gone("..."), limited(field, "...")).
	ast.Inspect(f, func(n ast.Node) bool {
		c, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		id, ok := c.Fun.(*ast.Ident)
		if !ok {
			return true
		}
		for p := range s.pending {
			if p.name == id.Name && p.index < len(c.Args) {
				s.sink(c.Args[p.index])
			}
		}
		return true
	})
}

// fields checks the values of a map of field errors: a literal, or a map
// variable whose literal values and index assignments are checked.
func (s *errScan) fields(f *ast.File, e ast.Expr) {
	switch e := e.(type) {
	case *ast.CompositeLit:
		for _, el := range e.Elts {
			if kv, ok := el.(*ast.KeyValueExpr); ok {
				s.sink(kv.Value)
			}
		}
	case *ast.Ident:
		if e.Obj == nil {
			s.check(e, nil)
			return
		}
		if _, ok := e.Obj.Decl.(*ast.Field); ok {
			return // a function's parameter: checked where it is built
		}
		ast.Inspect(f, func(n ast.Node) bool {
			as, ok := n.(*ast.AssignStmt)
			if !ok {
				return true
			}
			for i, l := range as.Lhs {
				if i >= len(as.Rhs) {
					break
				}
				switch l := l.(type) {
				case *ast.Ident:
					if l.Obj == e.Obj {
						if cl, ok := as.Rhs[i].(*ast.CompositeLit); ok {
							s.fields(f, cl)
						}
					}
				case *ast.IndexExpr:
					if x, ok := l.X.(*ast.Ident); ok && x.Obj == e.Obj {
						s.sink(as.Rhs[i])
					}
				}
			}
			return true
		})
	default:
		s.check(e, nil)
	}
}

// sink checks a message expression.
func (s *errScan) sink(e ast.Expr) {
	if id, ok := e.(*ast.Ident); ok && id.Obj != nil {
		if cp, ok := s.closure[id.Obj]; ok {
			s.pending[cp] = true
			return
		}
	}
	s.check(e, s.eval(e))
}

// check reports the texts of e that locale.Error does not know; texts nil
// means e could not be evaluated.
func (s *errScan) check(e ast.Expr, texts []string) {
	s.count++
	pos := s.fset.Position(e.Pos())
	where := s.rel + ":" + strconv.Itoa(pos.Line)
	key := s.rel + ": " + source(s.fset, e)
	if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
		if v, err := strconv.Unquote(lit.Value); err == nil {
			key = s.rel + ": " + v
		}
	}
	if _, ok := notForRequesters[key]; ok {
		s.allowed[key] = true
		return
	}
	if texts == nil {
		s.unknown = append(s.unknown, where+": cannot evaluate the message "+source(s.fset, e))
		return
	}
	for _, text := range texts {
		if !locale.ErrorKnown(text) {
			s.unknown = append(s.unknown, where+": no translation of "+strconv.Quote(text))
		}
	}
}

// eval lists the texts e can be, or nil.
func (s *errScan) eval(e ast.Expr) []string {
	dir := filepath.Dir(s.rel)
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return nil
		}
		v, err := strconv.Unquote(e.Value)
		if err != nil {
			return nil
		}
		return []string{v}
	case *ast.ParenExpr:
		return s.eval(e.X)
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return nil
		}
		l, r := s.eval(e.X), s.eval(e.Y)
		if l == nil || r == nil {
			return nil
		}
		var out []string
		for _, a := range l {
			for _, b := range r {
				out = append(out, a+b)
			}
		}
		return out
	case *ast.Ident:
		if v, ok := s.consts[dir][e.Name]; ok {
			return s.eval(v)
		}
	case *ast.CallExpr:
		switch name := qualified(e.Fun); name {
		case "fmt.Sprintf":
			if len(e.Args) >= 1 {
				return s.format(e.Args[0], e.Args[1:])
			}
		case "strconv.Itoa":
			return []string{"12", "1000"}
		case "humanBytes", "sizeText":
			return sizeSamples
		default:
			// A function of the package that returns literals
			// (jsonKind).
			fd, ok := s.funcs[dir][name]
			if !ok || fd.Body == nil {
				return nil
			}
			var out []string
			failed := false
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				if _, ok := n.(*ast.FuncLit); ok {
					return false
				}
				if r, ok := n.(*ast.ReturnStmt); ok && len(r.Results) == 1 {
					v := s.eval(r.Results[0])
					if v == nil {
						failed = true
					}
					out = append(out, v...)
				}
				return true
			})
			if failed || len(out) == 0 {
				return nil
			}
			return out
		}
	}
	return nil
}

// format fills the format string f as fmt would with sample values of
// args: numbers for %d, and for %s what the argument can be.
func (s *errScan) format(f ast.Expr, args []ast.Expr) []string {
	formats := s.eval(f)
	if formats == nil {
		return nil
	}
	var out []string
	for _, format := range formats {
		texts, arg := []string{""}, 0
		for i := 0; i < len(format); i++ {
			if format[i] != '%' || i+1 == len(format) {
				texts = appendAll(texts, format[i:i+1])
				continue
			}
			i++
			var fill []string
			switch format[i] {
			case '%':
				fill = []string{"%"}
			case 'd':
				fill = []string{"12", "1000", "52428800"}
				arg++
			case 's', 'v':
				if arg >= len(args) {
					return nil
				}
				fill = s.eval(args[arg])
				arg++
			}
			if fill == nil {
				return nil
			}
			var next []string
			for _, t := range texts {
				for _, v := range fill {
					next = append(next, t+v)
				}
			}
			texts = next
		}
		out = append(out, texts...)
	}
	return out
}

func appendAll(texts []string, tail string) []string {
	for i := range texts {
		texts[i] += tail
	}
	return texts
}

// qualified is the name of an identifier or pkg.Name selector, else "".
func qualified(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		if x, ok := e.X.(*ast.Ident); ok {
			return x.Name + "." + e.Sel.Name
		}
	case *ast.StarExpr:
		return qualified(e.X)
	}
	return ""
}

func source(fset *token.FileSet, e ast.Expr) string {
	var b strings.Builder
	_ = printer.Fprint(&b, fset, e)
	return b.String()
}

// TestErrorPatterns checks messages filled with a number or a size are
// translated with them written for the language.
func TestErrorPatterns(t *testing.T) {
	for _, c := range []struct {
		l             locale.Lang
		english, want string
	}{
		{locale.German, "must be at most 1.5 MiB", "darf höchstens 1,5 MiB groß sein"},
		{locale.French, "the identity document is larger than 10 MiB", "La pièce d'identité dépasse 10 MiB."},
		{locale.German, "the body is larger than 1000 bytes", "Der Inhalt ist größer als 1.000 Byte."},
		{locale.Spanish, "must be at least 12 characters", "debe tener al menos 12 caracteres"},
		{locale.French, "at most 512 KiB of files a day on one request; please try again tomorrow",
			"au maximum 512 KiB de fichiers par jour pour une demande ; veuillez réessayer demain"},
		{locale.English, "at most 5 files per message", "at most 5 files per message"},
		{locale.German, "must be at most 10 parsecs", "must be at most 10 parsecs"},
	} {
		if got := locale.Error(c.l, c.english); got != c.want {
			t.Errorf("%s %q: %q, want %q", c.l, c.english, got, c.want)
		}
	}
	if locale.ErrorKnown("must be at most 10 parsecs") {
		t.Error("a size in parsecs is known")
	}
}
