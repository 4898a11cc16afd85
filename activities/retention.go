package activities

import (
	"context"
	"time"

	"github.com/opendsar/dsar/store"
)

// retentionLimit bounds the rows of each kind one sweep deletes: the next
// sweep takes the rest.
const retentionLimit = 10000

// SweepRetention deletes what has outlived its retention.* period (never
// anything of a request under a legal hold, never an audit event) and
// records the counts in the audit trail (retention.swept), in one
// transaction.
func (a *Activities) SweepRetention(ctx context.Context) (store.SweepCounts, error) {
	r := a.Config.Retention
	c, err := a.DB.SweepRetention(ctx, time.Now().UTC(), store.RetentionPeriods{
		Records: r.Records, Messages: r.Messages, Packages: r.Packages, Sessions: r.Sessions, Tokens: r.Tokens,
		IdempotencyKeys: r.IdempotencyKeys, BlindIndex: r.BlindIndex,
	}, retentionLimit)
	return c, classify(err)
}
