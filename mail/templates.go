package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"strings"
	texttemplate "text/template"

	"github.com/opendsar/dsar/locale"
)

//go:embed templates
var templateFS embed.FS

// Templates renders the service's mails. Each kind of mail NAME has
// templates/NAME.html and templates/NAME.txt, in English; the text one
// defines "subject". A translation is the same pair under templates/LANG/
// (de, fr, es), a whole letter rather than a list of phrases, so that it
// reads as one. All are parsed at start-up, so a missing or broken template
// fails there, not at the first send. A mail without a translation is sent
// in English; TestEveryMailTranslated lists none missing.
type Templates struct {
	html map[string]*htmltemplate.Template // by lang + "/" + name; English by name alone
	text map[string]*texttemplate.Template
}

// LoadTemplates parses every embedded template, in every language.
func LoadTemplates() (*Templates, error) {
	t := &Templates{html: map[string]*htmltemplate.Template{}, text: map[string]*texttemplate.Template{}}
	for _, l := range locale.Langs {
		dir, prefix := "templates/"+string(l), string(l)+"/"
		if l == locale.English {
			dir, prefix = "templates", ""
		}
		layout, err := fs.ReadFile(templateFS, dir+"/layout.html")
		if err != nil {
			return nil, fmt.Errorf("mail: %s layout: %w", l, err)
		}
		entries, err := fs.ReadDir(templateFS, dir)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			name, ok := strings.CutSuffix(e.Name(), ".txt")
			if !ok {
				continue
			}
			txt, err := texttemplate.ParseFS(templateFS, dir+"/"+e.Name())
			if err != nil {
				return nil, fmt.Errorf("mail: template %s%s: %w", prefix, e.Name(), err)
			}
			if txt.Lookup("subject") == nil {
				return nil, fmt.Errorf("mail: template %s%s defines no subject", prefix, e.Name())
			}
			body, err := fs.ReadFile(templateFS, dir+"/"+name+".html")
			if err != nil {
				return nil, fmt.Errorf("mail: template %s%s has no HTML part", prefix, name)
			}
			h, err := htmltemplate.New("layout").Parse(string(layout))
			if err == nil {
				_, err = h.New("body").Parse(string(body))
			}
			if err != nil {
				return nil, fmt.Errorf("mail: template %s%s.html: %w", prefix, name, err)
			}
			t.html[prefix+name], t.text[prefix+name] = h, txt
		}
	}
	return t, nil
}

// Has reports whether mail name has its own template in language l (not
// the English fallback).
func (t *Templates) Has(l locale.Lang, name string) bool {
	key := name
	if l != locale.English {
		key = string(l) + "/" + name
	}
	_, ok := t.html[key]
	return ok
}

// RenderIn is Render in language l: the translation of the mail, or the
// English one when it has none.
func (t *Templates) RenderIn(l locale.Lang, name, to string, data any) (Message, error) {
	if l = l.Or(); l != locale.English && t.Has(l, name) {
		name = string(l) + "/" + name
	}
	return t.Render(name, to, data)
}

// Render fills the English templates of one kind of mail with data and
// returns a message to addressee `to`, without an idempotency key (the
// caller sets it). Staff mail is English; requester mail goes through
// RenderIn.
func (t *Templates) Render(name, to string, data any) (Message, error) {
	h, ok := t.html[name]
	if !ok {
		return Message{}, fmt.Errorf("mail: no template %q", name)
	}
	var subj, text, html bytes.Buffer
	if err := t.text[name].ExecuteTemplate(&subj, "subject", data); err != nil {
		return Message{}, fmt.Errorf("mail: %s subject: %w", name, err)
	}
	if err := t.text[name].Execute(&text, data); err != nil {
		return Message{}, fmt.Errorf("mail: %s text: %w", name, err)
	}
	if err := h.Execute(&html, data); err != nil {
		return Message{}, fmt.Errorf("mail: %s html: %w", name, err)
	}
	return Message{
		To:      to,
		Subject: strings.TrimSpace(subj.String()),
		Text:    strings.TrimSpace(text.String()) + "\n",
		HTML:    html.String(),
	}, nil
}
