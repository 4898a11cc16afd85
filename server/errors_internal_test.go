package server

import (
	"errors"
	"fmt"
	"testing"

	"go.temporal.io/api/serviceerror"

	"github.com/opendsar/dsar"
)

func TestDependencyErrorsAreUnavailable(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("server: query request x: %w", serviceerror.NewUnavailable("connection refused")),
		fmt.Errorf("server: query request x: %w", serviceerror.NewDeadlineExceeded("query timed out")),
		serviceerror.NewResourceExhausted(0, "busy"),
	} {
		got := unavailable(err)
		if dsar.ErrorCode(got) != dsar.EUNAVAILABLE || !errors.Is(got, err) {
			t.Errorf("unavailable(%v) = %v, want EUNAVAILABLE wrapping it", err, got)
		}
	}
	for _, err := range []error{
		errors.New("a bug"),
		serviceerror.NewInvalidArgument("bad"),
		dsar.Errorf(dsar.ECONFLICT, "closed"),
	} {
		if got := unavailable(err); got != err {
			t.Errorf("unavailable(%v) = %v, want it unchanged", err, got)
		}
	}
}
