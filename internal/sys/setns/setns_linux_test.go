package setns

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

func ownNetNS(t *testing.T) string {
	link, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	return link
}

func TestRunEntersAndLeaves(t *testing.T) {
	nstest.RequireRoot(t)
	ns := nstest.New(t)
	outside := ownNetNS(t)
	var inside string
	if err := Run(ns.Path(), func() error { inside = ownNetNS(t); return nil }); err != nil {
		t.Fatal(err)
	}
	if inside == outside || !strings.HasPrefix(inside, "net:[") {
		t.Errorf("inside %q, outside %q: fn did not run in the namespace", inside, outside)
	}
	if now := ownNetNS(t); now != outside {
		t.Errorf("the caller moved to %q", now)
	}
	want := errors.New("from fn")
	if err := Run(ns.Path(), func() error { return want }); !errors.Is(err, want) {
		t.Errorf("err %v, want fn's error", err)
	}
	if err := Run(ns.Path(), func() error { panic("boom") }); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("a panic must come back as an error, got %v", err)
	}
	if err := Run("/nonexistent/ns", func() error { return nil }); err == nil {
		t.Error("a missing namespace must be an error")
	}
}
