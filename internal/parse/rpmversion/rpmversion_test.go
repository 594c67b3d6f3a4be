package rpmversion

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
	"github.com/hostdrift/hostdrift/internal/testkit/rpmroot"
)

// tricky are version pairs where rpm's rules differ from a naive reading.
var tricky = [][2]string{
	{"1.0~rc1", "1.0"},
	{"1.0~rc1", "1.0~rc2"},
	{"1.0~~", "1.0~"},
	{"1.0~", "1.0"},
	{"1.0^git1", "1.0"},
	{"1.0^git1", "1.0.1"},
	{"1.0^git1", "1.0^git2"},
	{"1.0^", "1.0"},
	{"1.0~rc1^git1", "1.0~rc1"},
	{"1.0^git1~pre", "1.0^git1"},
	{"1.0a", "1.0"},
	{"1.0a", "1.0.a"},
	{"1.0", "1.0a"},
	{"2:1.0", "1:2.0"},
	{"0:1.0", "1.0"},
	{"1:1.0", "1.0"},
	{"1.0-1", "1.0-1.el9"},
	{"1.0", "1.0-1"},
	{"1.0-2", "1.0-10"},
	{"1.05", "1.5"},
	{"1.010", "1.9"},
	{"alpha", "beta"},
	{"1.0.0", "1.0"},
	{"1.0", "1_0"},
	{"1.0", "1..0"},
	{"2.0", "2a"},
	{"1.2.3", "1.2.3"},
	{"5.4p1", "5.4.1"},
	{"1.0rc1", "1.0"},
	{"FC5", "fc4"},
	{"1b.fc17", "1.fc17"},
	{"3.0.9-1.el9_4", "3.0.9-1.el9"},
	{"0.9.8zh", "1.0.0"},
}

// TestCompareAgreesWithRPM asks rpm itself (its Lua rpm.vercmp, which
// parses [epoch:]version[-release] and compares with rpmverCmp) about each
// pair of tricky and checks Compare gives the same answer.
func TestCompareAgreesWithRPM(t *testing.T) {
	nstest.RequireCommand(t, "rpm")
	var lua strings.Builder
	for _, p := range tricky {
		fmt.Fprintf(&lua, "print(rpm.vercmp(%q, %q) .. \" \") ", p[0], p[1])
	}
	out, err := exec.Command("rpm", "--eval", "%{lua: "+lua.String()+"}").CombinedOutput()
	if err != nil {
		t.Fatalf("rpm --eval: %v: %s", err, out)
	}
	lines := strings.Fields(string(out))
	if len(lines) != len(tricky) {
		t.Fatalf("rpm printed %d answers for %d pairs: %q", len(lines), len(tricky), out)
	}
	t.Logf("%-16s %-16s %5s %9s", "A", "B", "rpm", "hostdrift")
	for i, p := range tricky {
		want, err := strconv.Atoi(lines[i])
		if err != nil {
			t.Fatalf("rpm's answer for %q vs %q: %q", p[0], p[1], lines[i])
		}
		a, errA := Parse(p[0])
		b, errB := Parse(p[1])
		if errA != nil || errB != nil {
			t.Fatalf("Parse(%q), Parse(%q): %v, %v", p[0], p[1], errA, errB)
		}
		got := Compare(a, b)
		t.Logf("%-16s %-16s %5d %9d", p[0], p[1], want, got)
		if got != want {
			t.Errorf("Compare(%q, %q) = %d; rpm says %d", p[0], p[1], got, want)
		}
		if back := Compare(b, a); back != -want {
			t.Errorf("Compare(%q, %q) = %d; rpm says %d", p[1], p[0], back, -want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Version
		err  string
	}{
		{"1.0", Version{Version: "1.0"}, ""},
		{"2:1.0-3.el9", Version{Epoch: 2, HasEpoch: true, Version: "1.0", Release: "3.el9"}, ""},
		{"1.0-1-2", Version{}, "not allowed"},
		{"", Version{}, "empty version"},
		{"x:1.0", Version{}, "epoch"},
		{"1.0-", Version{}, "empty release"},
		{"3:-1", Version{}, "empty version"},
		{"1.0 beta", Version{}, "not allowed"},
		{"1,0", Version{}, "not allowed"},
	} {
		got, err := Parse(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Parse(%q) = %v, %v; want an error with %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
		if got.String() != c.in {
			t.Errorf("Parse(%q).String() = %q", c.in, got.String())
		}
	}
}

func TestConstraintMatch(t *testing.T) {
	for _, c := range []struct {
		op, want, have string
		ok             bool
	}{
		{"=", "1.0", "1.0-3.el9", true}, // no release named: any release
		{"=", "1.0-3.el9", "1.0-3.el9", true},
		{"=", "1.0-2", "1.0-3.el9", false},
		{">", "1.0", "1.0-3.el9", false},
		{">=", "1.0~rc1", "1.0-1", true},
		{"<", "1.0", "1.0~rc1-1", true},
		{"<", "1.0.1", "1.0^git1-1", true},
		{">", "1.0", "1.0^git1-1", true},
		{">=", "2.0", "1:1.0-1", true}, // the epoch wins
		{"!=", "1.0", "1.0-5", false},
	} {
		v, _ := Parse(c.want)
		h, _ := Parse(c.have)
		if got := (Constraint{Op: c.op, Version: v}).Match(h); got != c.ok {
			t.Errorf("%s %s matches %s = %v, want %v", c.op, c.want, c.have, got, c.ok)
		}
	}
}

// TestConstraintAgreesWithRPM asks rpm whether each installed package
// satisfies a constraint (a package that requires "NAME OP VERSION" can be
// installed: every package provides NAME = EPOCH:VERSION-RELEASE) and
// checks Match agrees, releases left out and epochs missing included.
func TestConstraintAgreesWithRPM(t *testing.T) {
	root := t.TempDir()
	rpmroot.Build(t,
		rpmroot.Package{Name: "openssl", Epoch: "1", Version: "3.0.7", Release: "27.el9"},
		rpmroot.Package{Name: "tool", Version: "2.0~rc1", Release: "1"},
		rpmroot.Package{Name: "snap", Version: "1.0^git20240101", Release: "3.fc40"},
	).Install(t, root, "", "")
	installed := map[string]string{"openssl": "1:3.0.7-27.el9", "tool": "2.0~rc1-1", "snap": "1.0^git20240101-3.fc40"}
	for _, c := range []struct{ name, op, version string }{
		{"openssl", "=", "1:3.0.7"},
		{"openssl", "=", "3.0.7"},
		{"openssl", ">=", "3.1"},
		{"openssl", "<", "2:1.0"},
		{"openssl", "=", "1:3.0.7-27.el9"},
		{"openssl", "=", "1:3.0.7-28.el9"},
		{"openssl", ">", "1:3.0.7"},
		{"openssl", ">=", "1:3.0.7"},
		{"openssl", "<=", "1:3.0.7-27"},
		{"tool", ">=", "2.0"},
		{"tool", ">", "1.9"},
		{"tool", "<", "2.0"},
		{"tool", "=", "2.0~rc1"},
		{"snap", ">", "1.0"},
		{"snap", "<", "1.0.1"},
		{"snap", ">=", "1.0^git2024"},
		{"snap", "<", "1.0^git20240102"},
	} {
		want := rpmroot.Satisfied(t, root, c.name+" "+c.op+" "+c.version)
		v, _ := Parse(c.version)
		have, _ := Parse(installed[c.name])
		got := Constraint{Op: c.op, Version: v}.Match(have)
		t.Logf("%s %s: %s %s %s: rpm %v, hostdrift %v", c.name, installed[c.name], c.name, c.op, c.version, want, got)
		if got != want {
			t.Errorf("%s %s satisfies %s %s: hostdrift says %v, rpm %v", c.name, installed[c.name], c.op, c.version, got, want)
		}
	}
}
