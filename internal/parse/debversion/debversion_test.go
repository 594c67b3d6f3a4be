package debversion

import "testing"

// Cases from dpkg's own test suite (t-version.c) and Debian policy 5.6.12.
func TestCompare(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0", 0},
		{"1.0", "1.0-0", 0},
		{"0:1.0", "1.0", 0},
		{"1:1.0", "2.0", 1},
		{"1.0", "1.1", -1},
		{"1.10", "1.9", 1},
		{"1.0~rc1", "1.0", -1},
		{"1.0~~", "1.0~", -1},
		{"1.0~", "1.0", -1},
		{"1.0", "1.0a", -1},
		{"1.0a", "1.0+", -1},
		{"1.0+", "1.0.", -1},
		{"1.0-1", "1.0-2", -1},
		{"1.0-1", "1.0-1.1", -1},
		{"1.0-1~bpo1", "1.0-1", -1},
		{"3.0.11-1~deb12u2", "3.0.11", 1},
		{"3.0.15-1~deb12u1", "3.0.16-1~deb12u1", -1},
		{"2:9.18.28-1~deb12u2", "1:9.20", 1},
		{"1.001", "1.1", 0},
		{"1.2.3", "1.2.3.0", -1},
		{"a", "a", 0}, // compareString only; Parse refuses it
		{"252.33-1~deb12u1", "252.30-1~deb12u2", 1},
	} {
		a, b := Version{Upstream: c.a}, Version{Upstream: c.b}
		if va, err := Parse(c.a); err == nil {
			a = va
		}
		if vb, err := Parse(c.b); err == nil {
			b = vb
		}
		if got := Compare(a, b); got != c.want {
			t.Errorf("Compare(%s, %s) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := Compare(b, a); got != -c.want {
			t.Errorf("Compare(%s, %s) = %d, want %d", c.b, c.a, got, -c.want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in, want string
		bad      bool
	}{
		{in: "1:2.3-4", want: "1:2.3-4"},
		{in: "0:2.3", want: "2.3"},
		{in: "1.2-3-4", want: "1.2-3-4"},
		{in: "", bad: true},
		{in: "x:1.0", bad: true},
		{in: "abc", bad: true},
		{in: "1.0-", bad: true},
		{in: "1.0 beta", bad: true},
	} {
		v, err := Parse(c.in)
		if (err != nil) != c.bad {
			t.Errorf("Parse(%q): error %v, want bad=%v", c.in, err, c.bad)
			continue
		}
		if err == nil && v.String() != c.want {
			t.Errorf("Parse(%q) = %q, want %q", c.in, v, c.want)
		}
	}
}

func TestConstraint(t *testing.T) {
	for _, c := range []struct {
		cons, v string
		want    bool
	}{
		{">= 3.0.11", "3.0.11-1~deb12u2", true},
		{">= 3.0.11", "3.0.9-1", false},
		{">=3.0.11", "3.0.11", true},
		{"<< 4", "3.9", true},
		{"<< 4", "4", false},
		{"> 4", "4", false},
		{"> 4", "4.0.1", true},
		{"= 1.0", "1.0-0", true},
		{"1.0", "1.0", true},
		{"!= 1.0", "1.1", true},
		{"<= 1.0", "1.0~rc1", true},
	} {
		k, err := ParseConstraint(c.cons)
		if err != nil {
			t.Fatalf("%q: %v", c.cons, err)
		}
		v, _ := Parse(c.v)
		if got := k.Match(v); got != c.want {
			t.Errorf("%q matches %s = %v, want %v", c.cons, c.v, got, c.want)
		}
	}
	for _, bad := range []string{">=", ">= x", "~> 1.0"} {
		if _, err := ParseConstraint(bad); err == nil {
			t.Errorf("ParseConstraint(%q) accepted", bad)
		}
	}
}

// FuzzCompare: Parse never panics, and Compare is antisymmetric and
// reflexive on what it accepts.
func FuzzCompare(f *testing.F) {
	f.Add("1:2.3~rc1-4", "2.3")
	f.Add("1.0", "1.0-0")
	f.Fuzz(func(t *testing.T, a, b string) {
		va, errA := Parse(a)
		vb, errB := Parse(b)
		ParseConstraint(a)
		if errA != nil || errB != nil {
			return
		}
		if Compare(va, va) != 0 {
			t.Fatalf("%q != itself", a)
		}
		if Compare(va, vb) != -Compare(vb, va) {
			t.Fatalf("Compare(%q, %q) not antisymmetric", a, b)
		}
	})
}
