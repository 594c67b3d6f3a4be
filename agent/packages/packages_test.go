package packages

import (
	"context"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/debroot"
)

const sample = `Package: openssl
Status: install ok installed
Priority: optional
Architecture: amd64
Version: 3.0.15-1~deb12u1
Description: Secure Sockets Layer toolkit
 This package contains the openssl binary.
 .
 More text.

Package: libc6
Status: hold ok installed
Architecture: amd64
Multi-Arch: same
Version: 2.36-9+deb12u9

Package: libc6
Status: install ok installed
Architecture: i386
Version: 2.36-9+deb12u9

Package: nginx
Status: deinstall ok config-files
Architecture: amd64
Version: 1.22.1-9

Status: install ok installed
Version: 1

Package: broken
Status: install installed
`

func TestParseStatus(t *testing.T) {
	pkgs, errs := ParseStatus(strings.NewReader(sample))
	want := []snapshot.Package{
		{Name: "libc6", Arch: "amd64", Version: "2.36-9+deb12u9", Want: "hold", State: "installed"},
		{Name: "libc6", Arch: "i386", Version: "2.36-9+deb12u9", Want: "install", State: "installed"},
		{Name: "nginx", Arch: "amd64", Version: "1.22.1-9", Want: "deinstall", State: "config-files"},
		{Name: "openssl", Arch: "amd64", Version: "3.0.15-1~deb12u1", Want: "install", State: "installed"},
	}
	if len(pkgs) != len(want) {
		t.Fatalf("got %d packages, want %d: %+v", len(pkgs), len(want), pkgs)
	}
	for i := range want {
		if pkgs[i] != want[i] {
			t.Errorf("package %d: %+v, want %+v", i, pkgs[i], want[i])
		}
	}
	if !pkgs[0].Held() || pkgs[1].Held() || pkgs[2].Installed() {
		t.Error("held/installed misread")
	}
	if len(errs) != 2 || !strings.Contains(errs[0], "without Package") || !strings.Contains(errs[1], `package broken: Status "install installed"`) {
		t.Errorf("errors: %q", errs)
	}
}

// TestDebootstrappedRoot reads the dpkg database of a real Debian root
// through --root.
func TestDebootstrappedRoot(t *testing.T) {
	root := debroot.Cached(t)
	sec, err := collector{}.Collect(context.Background(), &agent.Env{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	p := sec.(*snapshot.Packages)
	if len(p.Packages) < 50 {
		t.Fatalf("only %d packages in a debootstrapped root", len(p.Packages))
	}
	for _, name := range []string{"dpkg", "libc6", "base-files"} {
		found := p.Named(name)
		if len(found) == 0 || !found[0].Installed() || found[0].Version == "" {
			t.Errorf("%s: %+v", name, found)
		}
	}
	if sec, err := (collector{}).Collect(context.Background(), &agent.Env{Root: t.TempDir()}); err != nil || !strings.Contains(sec.(*snapshot.Packages).Absent, "no package database") {
		t.Errorf("a root without dpkg: %v, want an empty section saying so", err)
	}
}

func FuzzParseStatus(f *testing.F) {
	f.Add(sample)
	f.Fuzz(func(t *testing.T, s string) {
		pkgs, _ := ParseStatus(strings.NewReader(s))
		for _, p := range pkgs {
			if p.Name == "" || p.State == "" {
				t.Fatalf("half a package: %+v", p)
			}
		}
	})
}
