package e2e_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// mail is one mail in the dev outbox.
type outboxMail struct {
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html"`
}

// mailAbout waits for a mail to addr whose subject contains subject and
// returns it.
func (e *env) mailAbout(addr, subject string) outboxMail {
	e.t.Helper()
	var found outboxMail
	e.eventually("a mail to "+addr+" about "+subject, func() bool {
		var box struct{ Items []outboxMail }
		e.want(e.get("/dev/mailbox.json?to="+addr, ""), http.StatusOK, "mailbox").json(e.t, &box)
		i := slices.IndexFunc(box.Items, func(m outboxMail) bool { return strings.Contains(m.Subject, subject) })
		if i >= 0 {
			found = box.Items[i]
		}
		return i >= 0
	})
	return found
}

// page GETs a page with headers and fails unless it answers 200.
func (e *env) page(path string, headers map[string]string) string {
	e.t.Helper()
	a := e.want(e.do(call{method: http.MethodGet, path: path, headers: headers}), http.StatusOK, "GET "+path)
	return string(a.body)
}

// has fails unless text holds every one of want, and none of unwanted.
func has(t *testing.T, what, text string, want []string, unwanted ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
	for _, u := range unwanted {
		if strings.Contains(text, u) {
			t.Errorf("%s still says %q (English):\n%s", what, u, text)
		}
	}
}

// TestGermanRequesterIsAnsweredInGerman follows a requester whose browser
// asks for German (Accept-Language: de-DE) through the whole service: the
// form, the verification mail, the portal invitation, the portal and the
// completion mail are German, though staff act from English browsers.
func TestGermanRequesterIsAnsweredInGerman(t *testing.T) {
	e := start(t, nil)
	c := e.crew()
	de := map[string]string{"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}

	form := e.page("/", de)
	has(t, "the form", form, []string{`<html lang="de">`, "Datenschutzanfrage stellen", "Wohnsitzland", "Anfrage absenden",
		`name="language" value="de"`, ">Deutschland</option>"}, "Submit request", "Country of residence", "First name")

	p := person{first: "Greta", last: "Gruber", email: "greta@example.de", description: "Welche Daten haben Sie?"}
	body, ct := validForm(p, e.captcha(), photo(t)).encode()
	var sub struct{ ID string }
	e.want(e.do(call{method: http.MethodPost, path: "/api/v1/requests", ctype: ct, body: body, headers: de}), http.StatusAccepted, "submit").json(t, &sub)
	id := sub.ID

	verify := e.mailAbout(p.email, "Bitte bestätigen Sie Ihre E-Mail-Adresse")
	has(t, "the verification mail", verify.Text, []string{"Guten Tag,", "Datenschutzanfrage (Auskunft)", "gültig"},
		"Hello", "Please confirm", "The link works once")
	tok := tokenRE.FindStringSubmatch(verify.Text)[1]
	e.want(e.postJSON("/api/v1/email-verifications", "", map[string]string{"token": tok}), http.StatusOK, "verify")

	invite := e.mailAbout(p.email, "Verfolgen Sie Ihre Datenschutzanfrage")
	has(t, "the portal invitation", invite.Text, []string{"Guten Tag Greta,", "Passwort"}, "Hello", "set a password")
	const pw = "korrektes Pferd Batterie Heftklammer"
	e.want(e.postJSON("/api/v1/portal/accounts", "", map[string]string{"token": tokenRE.FindStringSubmatch(invite.Text)[1], "password": pw}),
		http.StatusCreated, "portal account")
	login := e.want(e.postJSON("/api/v1/portal/sessions", "", map[string]string{"email": p.email, "password": pw}), http.StatusCreated, "portal login")
	cookies := (&http.Response{Header: login.header}).Cookies()
	if len(cookies) == 0 {
		t.Fatal("the portal login sets no cookie")
	}
	portal := map[string]string{"Accept-Language": de["Accept-Language"], "Cookie": cookies[0].Name + "=" + cookies[0].Value}
	list := e.page("/portal", portal)
	has(t, "the portal's list", list, []string{"Ihre Datenschutzanfragen", "Auskunft", "Eingereicht am", "Abmelden"}, "Your privacy requests", "Log out")
	one := e.page("/portal/requests/"+id, portal)
	has(t, "the request's page", one, []string{"Ihre Anfrage: Auskunft", "Wir prüfen Ihre Identität", "Schreiben Sie uns",
		time.Now().UTC().Format("2006")}, "Write to us", "Your Info request", "We are checking")

	// Staff act with no language of their own (the API's English).
	path := "/api/v1/requests/" + id
	e.act(path+"/identity-verification", c.owner, map[string]any{"verified": true, "note": "Ausweis passt"})
	e.act(path+"/assignments", c.owner, map[string]any{"data_source_ids": []string{c.source}})
	e.eventually("the source owner sees the task", func() bool { return e.get(path, c.sam).status == http.StatusOK })
	e.act(path+"/tasks/"+c.source+"/completion", c.sam, map[string]any{"note": "nothing", "outcome": "no_data"})
	e.act(path+"/package/approval", c.owner, map[string]any{})
	e.act(path+"/completion", c.owner, map[string]any{"note": "done"})

	done := e.mailAbout(p.email, "Ihre Datenschutzanfrage ist abgeschlossen")
	has(t, "the completion mail", done.Text, []string{"Guten Tag Greta,", "abgeschlossen", "die zuständige Datenschutz-Aufsichtsbehörde"},
		"Hello", "We have finished", "supervisory authority")
	has(t, "the completion mail's HTML", done.HTML, []string{`<html lang="de">`}, "Privacy notice")
}

// TestLanguagePickerAndAFrenchRequestStaysFrench: the picker's ?lang=
// switches the page and is remembered in a cookie over Accept-Language; an
// unknown language is 400; a request made in French gets its later mail
// (a rejection by staff from an English browser) in French.
func TestLanguagePickerAndAFrenchRequestStaysFrench(t *testing.T) {
	e := start(t, nil)
	c := e.crew()
	de := map[string]string{"Accept-Language": "de-DE"}

	a := e.want(e.do(call{method: http.MethodGet, path: "/?lang=fr", headers: de}), http.StatusOK, "picker")
	has(t, "the form after picking French", string(a.body), []string{`<html lang="fr">`, "Envoyer la demande", `hreflang="de"`,
		`aria-current="true">Français`}, "Anfrage absenden", "Submit request")
	var cookie string
	for _, ck := range (&http.Response{Header: a.header}).Cookies() {
		if ck.Name == "lang" {
			cookie = ck.Name + "=" + ck.Value
		}
	}
	if cookie != "lang=fr" {
		t.Fatalf("the picker set cookie %q, want lang=fr", cookie)
	}
	again := e.page("/", map[string]string{"Accept-Language": "de-DE", "Cookie": cookie})
	has(t, "the form with the cookie", again, []string{"Envoyer la demande"}, "Anfrage absenden")
	e.want(e.do(call{method: http.MethodGet, path: "/?lang=xx"}), http.StatusUnprocessableEntity, "an unknown language")
	en := e.page("/?lang=en", de)
	has(t, "the form after picking English", en, []string{"Submit a privacy request"}, "Datenschutzanfrage stellen")

	// A request made in French (the form's language field), then rejected by
	// staff whose browser is English.
	p := person{first: "Fanny", last: "Favre", email: "fanny@example.fr", description: "Quelles données ?"}
	id := e.submit(validForm(p, e.captcha(), photo(t)).with("language", "fr"))
	verify := e.mailAbout(p.email, "Veuillez confirmer votre adresse e-mail")
	e.want(e.postJSON("/api/v1/email-verifications", "", map[string]string{"token": tokenRE.FindStringSubmatch(verify.Text)[1]}), http.StatusOK, "verify")
	e.act("/api/v1/requests/"+id+"/rejection", c.owner, map[string]any{"reasons": []string{"identity_not_verified"}, "note": "no match"})
	rejected := e.mailAbout(p.email, "Concernant votre demande")
	has(t, "the rejection mail", rejected.Text, []string{"Bonjour Fanny,", "Nous n'avons pas pu vérifier votre identité",
		"l'autorité de contrôle compétente"}, "Hello", "We could not verify")

	bad := e.do(submitCall(validForm(person{first: "X", last: "Y", email: "x@example.org", description: "d"}, e.captcha(), photo(t)).with("language", "it"), ""))
	var eb errorBody
	e.want(bad, http.StatusUnprocessableEntity, "an unknown language at intake").json(t, &eb)
	if eb.Error.Fields["language"] == "" {
		t.Errorf("an unknown language names no field: %s", bad.body)
	}
}
