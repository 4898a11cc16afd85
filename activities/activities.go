// Package activities holds everything the workflows do that touches the
// world: Postgres, mail, keys. One struct carries the dependencies, with a
// method per activity; workflows refer to them through a nil *Activities.
package activities

import (
	"log/slog"

	"go.temporal.io/sdk/client"

	"github.com/opendsar/dsar/config"
	"github.com/opendsar/dsar/crypto"
	"github.com/opendsar/dsar/mail"
	"github.com/opendsar/dsar/store"
)

// Activities are the request workflow's activities and their dependencies.
type Activities struct {
	DB        *store.DB
	Mailer    mail.Mailer
	Templates *mail.Templates
	Keys      *crypto.Keyring
	Config    *config.Config
	Temporal  client.Client // for activities that talk to Temporal (schedules, signals)
	Log       *slog.Logger
}
