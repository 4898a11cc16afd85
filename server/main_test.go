package server

import (
	"os"
	"testing"

	"github.com/opendsar/dsar/testenv"
)

// TestMain stops the Temporal dev server the package's tests started. It is
// the one TestMain of the server tests (internal and external files alike).
func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
