package agent

import (
	"context"
	"slices"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// declaring is a collector that declares what it reads and follows.
type declaring struct{}

func (declaring) Collect(context.Context, *Env) (snapshot.Section, error) { return nil, nil }
func (declaring) Reads() []Path {
	return []Path{File("etc//hd-test.conf"), Folder("/etc/hd-test.d/", ".d")}
}
func (declaring) Follows() []Source { return []Source{Mounts} }

func init() { Register("test-declaring", func() Collector { return declaring{} }) }

// TestReads: declarations come back cleaned and absolute; a collector
// that declares nothing, or no collector, reads nothing.
func TestReads(t *testing.T) {
	got := Reads("test-declaring")
	want := []Path{{Name: "/etc/hd-test.conf"}, {Name: "/etc/hd-test.d", Dir: true, Subs: []string{".d"}}}
	if len(got) != len(want) || got[0].Name != want[0].Name || got[1].Name != want[1].Name || !got[1].Dir || !slices.Equal(got[1].Subs, want[1].Subs) {
		t.Errorf("Reads = %+v, want %+v", got, want)
	}
	if !got[1].Sub("override.service.d") || got[1].Sub(".d") || got[1].Sub("x.wants") {
		t.Errorf("Sub of %+v: a NAME.d folder is read, a bare suffix or another is not", got[1])
	}
	if r := Reads("test-ok"); r != nil {
		t.Errorf("a collector that declares nothing: %+v", r)
	}
	if r := Reads("no-such-collector"); r != nil {
		t.Errorf("no collector: %+v", r)
	}
	if f := Following(Mounts); !slices.Equal(f, []string{"test-declaring"}) {
		t.Errorf("Following(Mounts) = %v", f)
	}
	if f := Following(Docker); len(f) != 0 {
		t.Errorf("Following(Docker) = %v, want none here", f)
	}
}
