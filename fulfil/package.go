// Package fulfil assembles an access request's answer: the zip the
// requester downloads, holding every exported file, a machine-readable
// manifest (data.json) and a summary for people (index.html). It streams:
// each file is copied from its reader into the zip as it is read, so
// memory stays bounded whatever the exports weigh.
package fulfil

import (
	"archive/zip"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode"

	"github.com/opendsar/dsar/locale"
)

// Manifest is data.json: what the package holds and where it came from.
type Manifest struct {
	Reference   string    `json:"reference"`
	RequestType string    `json:"request_type"`
	Company     string    `json:"company"`
	GeneratedAt time.Time `json:"generated_at"`
	Sources     []Source  `json:"sources"`
}

// Source is one data source's part of the answer.
type Source struct {
	Name         string     `json:"name"`
	Outcome      string     `json:"outcome"`
	OutcomeLabel string     `json:"outcome_label"`
	RecordCount  *int64     `json:"record_count,omitempty"`
	CompletedAt  *time.Time `json:"completed_at,omitempty"`
	Files        []File     `json:"files"`
}

// File is one exported file in the package. ID names it to the opener and
// is not written.
type File struct {
	ID          string `json:"-"`
	Name        string `json:"name"` // as uploaded
	Path        string `json:"path"` // inside the zip
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
}

// ErrChanged is a file whose content is not what was uploaded: no retry
// can fix it.
var ErrChanged = errors.New("fulfil: a file is not the one that was uploaded")

// Names of the package's own entries.
const (
	ManifestName = "data.json"
	IndexName    = "index.html"
	filesDir     = "files"
)

// Opener opens a file's content by its id.
type Opener func(id string) (io.ReadCloser, error)

// Write writes the package for m to w: every file (read through open, its
// size and SHA-256 checked against m as it is copied), then data.json and
// index.html. It fills in each file's Path.
func Write(w io.Writer, m *Manifest, open Opener) error {
	z := zip.NewWriter(w)
	used := map[string]bool{strings.ToLower(ManifestName): true, strings.ToLower(IndexName): true}
	for i := range m.Sources {
		s := &m.Sources[i]
		if s.Files == nil {
			s.Files = []File{}
		}
		dir := unique(used, path.Join(filesDir, safeName(s.Name, "source")))
		for j := range s.Files {
			f := &s.Files[j]
			f.Path = unique(used, path.Join(dir, safeName(f.Name, "file")))
			if err := copyFile(z, f, m.GeneratedAt, open); err != nil {
				return err
			}
		}
	}
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := entry(z, ManifestName, m.GeneratedAt, zip.Deflate, func(w io.Writer) error {
		_, err := w.Write(append(manifest, '\n'))
		return err
	}); err != nil {
		return err
	}
	if err := entry(z, IndexName, m.GeneratedAt, zip.Deflate, func(w io.Writer) error {
		return index.Execute(w, m)
	}); err != nil {
		return err
	}
	return z.Close()
}

// copyFile copies one file into the zip, checking it is what the manifest
// says. Files that are compressed already (archives, images, PDF) are
// stored as they are: never unpacked, never compressed twice.
func copyFile(z *zip.Writer, f *File, at time.Time, open Opener) error {
	r, err := open(f.ID)
	if err != nil {
		return err
	}
	defer r.Close()
	method := zip.Deflate
	if compressed(f.ContentType) {
		method = zip.Store
	}
	return entry(z, f.Path, at, method, func(w io.Writer) error {
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(w, h), r)
		if err != nil {
			return fmt.Errorf("fulfil: copy file %s: %w", f.ID, err)
		}
		if sum := hex.EncodeToString(h.Sum(nil)); n != f.Size || sum != f.SHA256 {
			// The file's id, never its name: the error reaches logs and the
			// workflow's state.
			return fmt.Errorf("%w: file %s (%d bytes, sha256 %s; expected %d, %s)", ErrChanged, f.ID, n, sum, f.Size, f.SHA256)
		}
		return nil
	})
}

func entry(z *zip.Writer, name string, at time.Time, method uint16, write func(io.Writer) error) error {
	w, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: at})
	if err != nil {
		return err
	}
	return write(w)
}

func compressed(contentType string) bool {
	switch contentType {
	case "application/zip", "application/gzip", "application/x-gzip", "application/pdf",
		"image/png", "image/jpeg", "image/gif", "image/webp":
		return true
	}
	return false
}

// safeName makes a name fit for a zip entry on any system: no directory
// parts, no control or reserved characters, not empty, not too long.
func safeName(name, fallback string) string {
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r), strings.ContainsRune(`<>:"/\|?*`, r):
			return '_'
		}
		return r
	}, name)
	name = strings.Trim(name, ". ")
	if name == "" {
		name = fallback
	}
	if r := []rune(name); len(r) > 100 {
		ext := path.Ext(name)
		if len([]rune(ext)) > 10 {
			ext = ""
		}
		name = string(r[:100-len([]rune(ext))]) + ext
	}
	return name
}

// unique returns p, or p with a counter before its extension when p is
// taken, and marks it taken.
// Names differing only in case count as the same: unpacked on a system
// that ignores case, one would overwrite the other.
func unique(used map[string]bool, p string) string {
	candidate := p
	ext := path.Ext(p)
	for i := 2; used[strings.ToLower(candidate)]; i++ {
		candidate = fmt.Sprintf("%s-%d%s", strings.TrimSuffix(p, ext), i, ext)
	}
	used[strings.ToLower(candidate)] = true
	return candidate
}

//go:embed index.html.tmpl
var indexText string

var index = template.Must(template.New("index").Funcs(template.FuncMap{
	"bytes": func(n int64) string { return locale.SizeSI(locale.English, n) },
	"date":  func(t time.Time) string { return t.UTC().Format("2 January 2006") },
	"href":  href,
}).Parse(indexText))

// href is an entry's relative link: each path segment escaped, so that a
// name with "#" or "?" still opens its file.
func href(p string) template.URL {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return template.URL(strings.Join(parts, "/")) //nolint:gosec // a relative path built from escaped segments
}
