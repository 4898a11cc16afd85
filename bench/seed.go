package bench

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	altcha "github.com/altcha-org/altcha-lib-go"

	"github.com/opendsar/dsar/store"
)

// SeedRequests adds n accepted requests to the queue with one INSERT ...
// generate_series per batch of 100,000: spread over statuses, types,
// requestor types and eight countries, one a second back from now. They
// have no workflow and no PII (only the queue reads them). progress, if not
// nil, is called after each batch.
func SeedRequests(ctx context.Context, db *store.DB, n int, progress func(done int)) error {
	const batch = 100_000
	const q = `INSERT INTO requests (id, accepted, status, request_type, requestor_type, country, submitted_at,
			deadline, original_deadline, deadline_rule, deadline_rule_name, email_hash, overdue)
		SELECT gen_random_uuid(), true,
			(ARRAY['pending_email_verification','awaiting_identity','identity_verified','in_progress',
				'ready_to_close','completed','rejected','expired'])[1 + g % 8],
			(ARRAY['complaint','correction','deletion','do_not_sell','info','opt_out'])[1 + (g / 8) % 6],
			(ARRAY['customer','employee','other'])[1 + (g / 48) % 3],
			(ARRAY['DE','FR','US','GB','BR','CA','IT','ES'])[1 + (g / 144) % 8],
			now() - g * interval '1 second',
			now() - g * interval '1 second' + interval '30 days',
			now() - g * interval '1 second' + interval '30 days',
			'gdpr', 'GDPR', decode(md5(g::text), 'hex'),
			g > 2592000
		FROM generate_series($1::bigint, $2::bigint) AS g`
	for from := 0; from < n; from += batch {
		to := min(from+batch, n) - 1
		if _, err := db.ExecContext(ctx, q, from, to); err != nil {
			return fmt.Errorf("bench: seed requests %d-%d: %w", from, to, err)
		}
		if progress != nil {
			progress(to + 1)
		}
	}
	if _, err := db.ExecContext(ctx, `ANALYZE requests`); err != nil {
		return fmt.Errorf("bench: analyze: %w", err)
	}
	return nil
}

// SolveCaptcha fetches a challenge from the service at base and solves it
// as the form's widget would, returning the form's captcha value.
func SolveCaptcha(ctx context.Context, c *http.Client, base string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/captcha", nil)
	res, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("bench: captcha: %w", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("bench: captcha: %d %s", res.StatusCode, b)
	}
	var ch struct {
		Algorithm string `json:"algorithm"`
		Challenge string `json:"challenge"`
		Salt      string `json:"salt"`
		Signature string `json:"signature"`
		MaxNumber int    `json:"maxnumber"`
	}
	if err := json.Unmarshal(b, &ch); err != nil {
		return "", fmt.Errorf("bench: captcha: %w", err)
	}
	return SolveChallenge(ch.Algorithm, ch.Challenge, ch.Salt, ch.Signature, ch.MaxNumber)
}

// SolveChallenge solves one ALTCHA challenge as the widget does and
// returns the form's captcha value (the base64 JSON payload).
func SolveChallenge(alg, challenge, salt, signature string, max int) (string, error) {
	sol, err := altcha.SolveChallenge(challenge, salt, altcha.Algorithm(alg), max, 0, nil)
	if err != nil || sol == nil {
		return "", fmt.Errorf("bench: solve captcha: %v", err)
	}
	raw, _ := json.Marshal(altcha.Payload{Algorithm: alg, Challenge: challenge, Number: int64(sol.Number),
		Salt: salt, Signature: signature})
	return base64.StdEncoding.EncodeToString(raw), nil
}

// Percentile is the p-th percentile (0-100) of ds, by nearest rank.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// Millis is d in milliseconds, for the JSON figures.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
