package jobs

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/godbus/dbus/v5"
)

// TestUnknownProperty checks which failures of Properties.Get count as
// a property this systemd lacks (left out, as GetAll would) and which are
// kept as the unit's error.
func TestUnknownProperty(t *testing.T) {
	unknown := dbus.Error{Name: "org.freedesktop.DBus.Error.UnknownProperty", Body: []any{"Unknown property"}}
	other := dbus.Error{Name: "org.freedesktop.DBus.Error.UnknownObject", Body: []any{"Unknown object"}}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"reply value", unknown, true},
		{"reply pointer", &unknown, true},
		{"wrapped", fmt.Errorf("read: %w", unknown), true},
		{"other D-Bus error", other, false},
		{"deadline", context.DeadlineExceeded, false},
		{"plain", errors.New("org.freedesktop.DBus.Error.UnknownProperty"), false},
	} {
		if got := unknownProperty(tc.err); got != tc.want {
			t.Errorf("%s: unknownProperty(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
