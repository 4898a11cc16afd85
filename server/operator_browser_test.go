package server

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/opendsar/dsar"
)

// TestOperatorLandsOnOperations: an operator signing in to the console is
// sent to the Temporal UI, not shown the queue they may not read.
func TestOperatorLandsOnOperations(t *testing.T) {
	e := newStaffEnv(t, nil)
	op, _ := e.user(dsar.RoleOperator)
	b := newConsoleBrowser(t)
	b.signIn(e.http.URL+"/console", op.Email, "correct horse battery")
	b.step("see the operations page", chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('h1')].some(h => h.textContent.trim() === 'Operations')`))
	if page := b.text("main"); !strings.Contains(page, "Temporal UI") || strings.Contains(page, "Not for your role") {
		t.Errorf("the operator's landing page says %q", page)
	}
}
