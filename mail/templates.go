package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"strings"
	texttemplate "text/template"
)

//go:embed templates
var templateFS embed.FS

// Templates renders the service's mails. Each kind of mail NAME has
// templates/NAME.html and templates/NAME.txt; the text one defines
// "subject". All are parsed at start-up, so a missing or broken template
// fails there, not at the first send.
type Templates struct {
	html map[string]*htmltemplate.Template
	text map[string]*texttemplate.Template
}

// LoadTemplates parses every embedded template.
func LoadTemplates() (*Templates, error) {
	t := &Templates{html: map[string]*htmltemplate.Template{}, text: map[string]*texttemplate.Template{}}
	layout, err := fs.ReadFile(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("mail: layout: %w", err)
	}
	entries, err := fs.ReadDir(templateFS, "templates")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".txt")
		if !ok {
			continue
		}
		txt, err := texttemplate.ParseFS(templateFS, "templates/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("mail: template %s: %w", e.Name(), err)
		}
		if txt.Lookup("subject") == nil {
			return nil, fmt.Errorf("mail: template %s defines no subject", e.Name())
		}
		body, err := fs.ReadFile(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("mail: template %s has no HTML part", name)
		}
		h, err := htmltemplate.New("layout").Parse(string(layout))
		if err == nil {
			_, err = h.New("body").Parse(string(body))
		}
		if err != nil {
			return nil, fmt.Errorf("mail: template %s.html: %w", name, err)
		}
		t.html[name], t.text[name] = h, txt
	}
	return t, nil
}

// Render fills the templates of one kind of mail with data and returns a
// message to addressee `to`, without an idempotency key (the caller sets it).
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
