package snapshot

import (
	"slices"
	"testing"
)

// TestPackageObjectsInstallOnly: rpm installs several kernels (and
// gpg-pubkey entries) of one name and architecture; each keeps an object
// of its own, told apart by version, so a diff misses none.
func TestPackageObjectsInstallOnly(t *testing.T) {
	p := &Packages{Source: SourceRPM, Packages: []Package{
		{Name: "bash", Arch: "x86_64", Version: "5.1.8-9.el9", Want: "install", State: "installed"},
		{Name: "kernel", Arch: "x86_64", Version: "5.14.0-427.el9", Want: "install", State: "installed"},
		{Name: "kernel", Arch: "x86_64", Version: "5.14.0-503.el9", Want: "install", State: "installed"},
	}}
	var ids []string
	for _, o := range p.Objects() {
		ids = append(ids, o.ID)
	}
	want := []string{"bash:x86_64", "kernel:x86_64 5.14.0-427.el9", "kernel:x86_64 5.14.0-503.el9"}
	if !slices.Equal(ids, want) {
		t.Errorf("object IDs %q, want %q", ids, want)
	}
}
