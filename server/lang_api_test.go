package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
)

// TestRequesterAPIAnswersInTheirLanguage: the portal's API, which its
// pages' script calls, gives its refusals in the requester's language
// (Accept-Language, or the picker's cookie); without one, in English.
func TestRequesterAPIAnswersInTheirLanguage(t *testing.T) {
	e := newStaffEnv(t, nil)
	ask := func(header, cookie string) (string, string) {
		req, err := http.NewRequest(http.MethodPost, e.http.URL+"/api/v1/portal/sign-in-links", bytes.NewReader([]byte(`{"email": ""}`)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if header != "" {
			req.Header.Set("Accept-Language", header)
		}
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: langCookie, Value: cookie})
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body ErrorBody
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("status %d, %v", res.StatusCode, err)
		}
		return body.Error.Fields["email"], res.Header.Get("Content-Language")
	}
	if got, lang := ask("de-DE,de;q=0.9", ""); got != "ist erforderlich" || lang != "de" {
		t.Errorf("in German: %q (%s)", got, lang)
	}
	if got, _ := ask("de-DE", "es"); got != "es obligatorio" {
		t.Errorf("with the picker's Spanish: %q", got)
	}
	if got, _ := ask("", ""); got != "is required" {
		t.Errorf("without a language: %q", got)
	}
}

// TestCaptchaWidgetSpeaksThePageLanguage: the anti-spam widget on the form
// is given its words in the page's language.
func TestCaptchaWidgetSpeaksThePageLanguage(t *testing.T) {
	e := newStaffEnv(t, nil)
	res, err := http.Get(e.http.URL + "/?lang=de")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	if !bytes.Contains(b.Bytes(), []byte("Ich bin kein Roboter")) || bytes.Contains(b.Bytes(), []byte("not a robot")) {
		t.Errorf("the German form's captcha widget is not given German words")
	}
}
