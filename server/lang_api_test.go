package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
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

// TestEmbedKeepsTheLanguagePicker: the form embedded in the company's site
// can still be switched to another language.
func TestEmbedKeepsTheLanguagePicker(t *testing.T) {
	e := newStaffEnv(t, nil)
	res, err := http.Get(e.http.URL + "/embed?lang=fr")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	if !bytes.Contains(b.Bytes(), []byte(`id="lang-picker"`)) || !bytes.Contains(b.Bytes(), []byte(`lang="fr"`)) {
		t.Errorf("the embedded form has no language picker, or is not in French")
	}
	if bytes.Contains(b.Bytes(), []byte("hidefooter")) == false {
		t.Errorf("the captcha widget shows its English footer")
	}
}

// TestRateLimitedPagesAnswerAPage: a requester's page refused for too
// many attempts answers a page in their language, not JSON.
func TestRateLimitedPagesAnswerAPage(t *testing.T) {
	e := newStaffEnv(t, map[string]any{"intake.rate_per_minute": 1})
	var last *http.Response
	for i := 0; i < 5; i++ {
		req, _ := http.NewRequest(http.MethodGet, e.http.URL+"/portal/accounts/new?token=x", nil)
		req.Header.Set("Accept-Language", "de")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusTooManyRequests {
			last = res
			break
		}
	}
	if last == nil {
		t.Fatal("no attempt was refused")
	}
	req, _ := http.NewRequest(http.MethodGet, e.http.URL+"/portal/accounts/new?token=x", nil)
	req.Header.Set("Accept-Language", "de")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	if res.StatusCode != http.StatusTooManyRequests || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") ||
		!bytes.Contains(b.Bytes(), []byte("Zu viele Versuche")) || res.Header.Get("Retry-After") == "" {
		t.Errorf("the refused page: %d %s %q", res.StatusCode, res.Header.Get("Content-Type"), b.String())
	}
}
