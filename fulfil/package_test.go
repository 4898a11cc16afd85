package fulfil_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"html/template"
	"io"
	"net/url"
	"path"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/opendsar/dsar/fulfil"
)

// exports are file contents by id, opened as the store would.
type exports map[string][]byte

func (e exports) open(id string) (io.ReadCloser, error) {
	b, ok := e[id]
	if !ok {
		return nil, fmt.Errorf("no file %s", id)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (e exports) file(id, name, contentType string, content []byte) fulfil.File {
	e[id] = content
	s := sha256.Sum256(content)
	return fulfil.File{ID: id, Name: name, ContentType: contentType, Size: int64(len(content)), SHA256: hex.EncodeToString(s[:])}
}

// innerZip is an export that is a zip itself, of very compressible text.
func innerZip(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	w, err := z.Create("orders.csv")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(bytes.Repeat([]byte("order,alice@example.net,42.00\n"), 20000)); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// built is a package written and opened again.
type built struct {
	m       *fulfil.Manifest
	z       *zip.Reader
	entries map[string]*zip.File
	index   string
	data    fulfil.Manifest
}

func build(t *testing.T, m *fulfil.Manifest, e exports) built {
	t.Helper()
	var buf bytes.Buffer
	if err := fulfil.Write(&buf, m, e.open); err != nil {
		t.Fatal(err)
	}
	z, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	b := built{m: m, z: z, entries: map[string]*zip.File{}}
	for _, f := range z.File {
		if b.entries[f.Name] != nil {
			t.Errorf("two entries named %q", f.Name)
		}
		b.entries[f.Name] = f
	}
	b.index = string(b.read(t, fulfil.IndexName))
	if err := json.Unmarshal(b.read(t, fulfil.ManifestName), &b.data); err != nil {
		t.Fatalf("data.json: %v", err)
	}
	return b
}

func (b built) read(t *testing.T, name string) []byte {
	t.Helper()
	f := b.entries[name]
	if f == nil {
		t.Fatalf("no entry %q in %v", name, b.names())
	}
	r, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return data
}

func (b built) names() []string {
	var out []string
	for _, f := range b.z.File {
		out = append(out, f.Name)
	}
	return out
}

func TestWriteBuildsTheAnswer(t *testing.T) {
	at := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	e := exports{}
	csv := []byte("email,name\nalice@example.net,Alice Liddell\n")
	inner := innerZip(t)
	hostile := []string{
		"../../etc/passwd",
		`..\..\Windows\system.ini`,
		"/absolute/path.txt",
		"nested/dir/notes.txt",
		"bell\x07and\nnewline\r.txt",
		"tab\tname\x00.txt",
		"..",
		".",
		"",
		"   ",
		`<script>alert(1)</script>.txt`,
		`what?"*:|.txt`,
		strings.Repeat("ü", 300) + ".txt",
		"export.csv", // the same as the CRM's first file
		"export.csv",
		"export-2.csv",
	}
	crm := fulfil.Source{Name: "CRM", Outcome: "data_found", OutcomeLabel: "Data found",
		Files: []fulfil.File{e.file("f0", "export.csv", "text/csv", csv)}}
	for i, name := range hostile {
		crm.Files = append(crm.Files, e.file(fmt.Sprintf("h%d", i), name, "text/plain", []byte(fmt.Sprintf("file %d\n", i))))
	}
	records := int64(3)
	m := &fulfil.Manifest{Reference: "REQ-ABCD-1234", RequestType: "Access to my data", Company: "Acme", GeneratedAt: at,
		Sources: []fulfil.Source{
			crm,
			{Name: "Billing/../..", Outcome: "data_found", OutcomeLabel: "Data found", RecordCount: &records, CompletedAt: &at,
				Files: []fulfil.File{e.file("z", "orders.zip", "application/zip", inner)}},
			{Name: "CRM", Outcome: "no_data", OutcomeLabel: "No data found"}, // another source with the same name
		}}
	b := build(t, m, e)

	// Every entry is a plain relative path under files/, or one of the
	// package's own two, and no two are the same.
	for _, f := range b.z.File {
		n := f.Name
		switch {
		case n == fulfil.ManifestName || n == fulfil.IndexName:
		case !strings.HasPrefix(n, "files/"), path.Clean(n) != n, strings.Contains(n, "\\"), strings.Contains(n, ".."),
			!utf8.ValidString(n), strings.ContainsFunc(n, unicode.IsControl), strings.ContainsAny(n, `<>:"|?*`):
			t.Errorf("unsafe entry name %q", n)
		}
		if parts := strings.Split(n, "/"); len(parts) > 3 {
			t.Errorf("entry %q is nested deeper than files/<source>/<file>", n)
		}
		for _, part := range strings.Split(n, "/") {
			if r := []rune(part); len(r) > 110 {
				t.Errorf("entry %q has a part of %d characters", n, len(r))
			}
			if strings.Trim(part, ". ") != part || part == "" {
				t.Errorf("entry %q has a part %q that is empty or starts or ends with a dot or space", n, part)
			}
		}
		if !f.Modified.Equal(at) {
			t.Errorf("entry %q dated %v, want the package's date %v", n, f.Modified, at)
		}
	}
	if want := 1 + len(hostile) + 1 + 2; len(b.z.File) != want {
		t.Errorf("%d entries, want %d: %q", len(b.z.File), want, b.names())
	}

	// data.json is m, with each file's path filled in, and each entry's
	// size and hash are what it says.
	if b.data.Reference != m.Reference || b.data.Company != "Acme" || !b.data.GeneratedAt.Equal(at) || len(b.data.Sources) != 3 {
		t.Fatalf("data.json: %+v", b.data)
	}
	dirs := map[string]bool{}
	for i, s := range b.data.Sources {
		if s.Files == nil {
			t.Errorf("source %d: files is null, not []", i)
		}
		for j, f := range s.Files {
			orig := m.Sources[i].Files[j]
			if f.Path == "" || f.Path != orig.Path || f.Name != orig.Name || f.SHA256 != orig.SHA256 || f.Size != orig.Size {
				t.Errorf("data.json file %d/%d: %+v, written as %+v", i, j, f, orig)
			}
			dirs[path.Dir(f.Path)] = true
			ent := b.entries[f.Path]
			if ent == nil {
				t.Errorf("data.json names %q, not in the zip", f.Path)
				continue
			}
			content := b.read(t, f.Path)
			sum := sha256.Sum256(content)
			if int64(len(content)) != f.Size || int64(ent.UncompressedSize64) != f.Size || hex.EncodeToString(sum[:]) != f.SHA256 {
				t.Errorf("%s: %d bytes, sha256 %x; data.json says %d, %s", f.Path, len(content), sum, f.Size, f.SHA256)
			}
			if !bytes.Equal(content, e[orig.ID]) {
				t.Errorf("%s is not the file uploaded as %q", f.Path, f.Name)
			}
			// index.html lists it by name (escaped) and links its path.
			if !strings.Contains(b.index, template.HTMLEscapeString(strings.ReplaceAll(f.Name, "\x00", "\uFFFD"))) && f.Name != "" {
				t.Errorf("index.html does not mention %q", f.Name)
			}
			if !strings.Contains(b.index, f.SHA256) {
				t.Errorf("index.html does not give the hash of %q", f.Name)
			}
		}
	}
	if len(dirs) != 2 {
		t.Errorf("files of two sources in %d directories: %v", len(dirs), dirs)
	}
	if strings.Contains(b.index, "<script>alert(1)</script>") {
		t.Error("index.html holds a file name as markup")
	}
	for _, s := range m.Sources {
		if !strings.Contains(b.index, template.HTMLEscapeString(s.Name)) {
			t.Errorf("index.html does not name the source %q", s.Name)
		}
	}

	// The CRM's export.csv keeps its name; its duplicates get others.
	crmFiles := b.data.Sources[0].Files
	if crmFiles[0].Path != "files/CRM/export.csv" {
		t.Errorf("the first export.csv is at %q", crmFiles[0].Path)
	}
	for i, f := range crmFiles[1:] {
		if f.Path == crmFiles[0].Path {
			t.Errorf("hostile name %d (%q) shares the path %q", i, hostile[i], f.Path)
		}
	}
	if p := crmFiles[1].Path; p != "files/CRM/passwd" {
		t.Errorf("../../etc/passwd is at %q", p)
	}
	if p := crmFiles[4].Path; p != "files/CRM/notes.txt" {
		t.Errorf("nested/dir/notes.txt is at %q", p)
	}
	long := crmFiles[13].Path
	if !strings.HasSuffix(long, ".txt") || utf8.RuneCountInString(path.Base(long)) > 100 {
		t.Errorf("a name of 304 characters became %q", long)
	}
	if b.data.Sources[2].Files == nil || len(b.data.Sources[2].Files) != 0 {
		t.Errorf("a source with no files: %+v", b.data.Sources[2].Files)
	}
	if !strings.Contains(b.index, "No data found") || !strings.Contains(b.index, "REQ-ABCD-1234") {
		t.Error("index.html lacks the outcome of a source without files, or the reference")
	}

	// The zip export is stored as it is: not deflated again, never unpacked.
	zf := b.data.Sources[1].Files[0]
	ent := b.entries[zf.Path]
	if ent.Method != zip.Store {
		t.Errorf("the zip export is compressed again (method %d)", ent.Method)
	}
	raw, err := ent.OpenRaw()
	if err != nil {
		t.Fatal(err)
	}
	rawBytes, _ := io.ReadAll(raw)
	if !bytes.Equal(rawBytes, inner) || ent.CompressedSize64 != uint64(len(inner)) {
		t.Errorf("the zip export's stored bytes (%d) differ from the upload (%d)", len(rawBytes), len(inner))
	}
	for _, f := range b.z.File {
		if path.Base(f.Name) == "orders.csv" {
			t.Errorf("the zip export was unpacked into %q", f.Name)
		}
	}
	if ent := b.entries[crmFiles[0].Path]; ent.Method != zip.Deflate {
		t.Errorf("the CSV export is not compressed (method %d)", ent.Method)
	}
}

// TestWriteNamesDifferInCaseToo: a requester on Windows or macOS unpacks
// the package onto a file system that ignores case; two exports whose
// names differ only in case would overwrite each other there.
func TestWriteNamesDifferInCaseToo(t *testing.T) {
	e := exports{}
	m := &fulfil.Manifest{Reference: "REQ-1", GeneratedAt: time.Now(), Sources: []fulfil.Source{
		{Name: "CRM", Files: []fulfil.File{
			e.file("a", "Export.csv", "text/csv", []byte("a\n")),
			e.file("b", "export.csv", "text/csv", []byte("b\n")),
			e.file("c", "EXPORT.CSV", "text/csv", []byte("c\n")),
		}},
		{Name: "crm", Files: []fulfil.File{e.file("d", "x.csv", "text/csv", []byte("d\n"))}},
	}}
	b := build(t, m, e)
	seen := map[string]string{}
	for _, f := range b.z.File {
		k := strings.ToLower(f.Name)
		if prev, ok := seen[k]; ok {
			t.Errorf("entries %q and %q are the same file where case is ignored", prev, f.Name)
		}
		seen[k] = f.Name
	}
}

func TestWriteRefusesAChangedFile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content []byte
	}{
		{"a byte changed", []byte("email,name\nalice@example.net,Alice Liddelm\n")},
		{"longer", []byte("email,name\nalice@example.net,Alice Liddell\nmore\n")},
		{"shorter", []byte("email,name\n")},
		{"empty", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := exports{}
			f := e.file("f", "export.csv", "text/csv", []byte("email,name\nalice@example.net,Alice Liddell\n"))
			e["f"] = tc.content
			m := &fulfil.Manifest{Reference: "REQ-1", GeneratedAt: time.Now(), Sources: []fulfil.Source{{Name: "CRM", Files: []fulfil.File{f}}}}
			err := fulfil.Write(io.Discard, m, e.open)
			if !errors.Is(err, fulfil.ErrChanged) {
				t.Fatalf("got %v, want ErrChanged", err)
			}
		})
	}
	t.Run("stored type", func(t *testing.T) {
		e := exports{}
		f := e.file("f", "a.pdf", "application/pdf", []byte("%PDF-1.7 original"))
		e["f"] = []byte("%PDF-1.7 tampered")
		m := &fulfil.Manifest{GeneratedAt: time.Now(), Sources: []fulfil.Source{{Name: "Docs", Files: []fulfil.File{f}}}}
		if err := fulfil.Write(io.Discard, m, e.open); !errors.Is(err, fulfil.ErrChanged) {
			t.Fatalf("got %v, want ErrChanged", err)
		}
	})
	t.Run("open fails", func(t *testing.T) {
		e := exports{}
		f := e.file("f", "a.csv", "text/csv", []byte("x"))
		delete(e, "f")
		m := &fulfil.Manifest{GeneratedAt: time.Now(), Sources: []fulfil.Source{{Name: "CRM", Files: []fulfil.File{f}}}}
		err := fulfil.Write(io.Discard, m, e.open)
		if err == nil || errors.Is(err, fulfil.ErrChanged) {
			t.Fatalf("a file that cannot be opened: got %v, want an error that is not ErrChanged (a retry may fix it)", err)
		}
	})
}

func TestWriteWithNoSources(t *testing.T) {
	m := &fulfil.Manifest{Reference: "REQ-1", GeneratedAt: time.Now()}
	b := build(t, m, exports{})
	if len(b.z.File) != 2 || !strings.Contains(b.index, "No system held data about you") {
		t.Errorf("entries %q; index %q", b.names(), b.index)
	}
}

// TestIndexLinksOpenTheFiles: each link in index.html, resolved as a
// browser does against the unpacked package, names its file.
func TestIndexLinksOpenTheFiles(t *testing.T) {
	e := exports{}
	var files []fulfil.File
	for i, name := range []string{"plain.csv", "with space.csv", "100%.csv", "report#1.csv", "é; 'q'.csv", "a&b=c.csv"} {
		files = append(files, e.file(fmt.Sprint(i), name, "text/csv", []byte(name)))
	}
	m := &fulfil.Manifest{Reference: "REQ-1", GeneratedAt: time.Now(), Sources: []fulfil.Source{{Name: "CRM & co", Files: files}}}
	b := build(t, m, e)
	hrefs := regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(b.index, -1)
	if len(hrefs) != len(files) {
		t.Fatalf("%d links for %d files", len(hrefs), len(files))
	}
	base, _ := url.Parse("file:///home/alice/package/index.html")
	for i, h := range hrefs {
		ref, err := url.Parse(html.UnescapeString(h[1]))
		if err != nil {
			t.Errorf("link %q: %v", h[1], err)
			continue
		}
		got := strings.TrimPrefix(base.ResolveReference(ref).Path, "/home/alice/package/")
		if want := b.data.Sources[0].Files[i].Path; got != want {
			t.Errorf("the link to %q (href %q) opens %q", want, h[1], got)
		}
	}
}
