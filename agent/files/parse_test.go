package files

import (
	"reflect"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		name, in, re string
		reveal       bool
		lines        []int
		count        int
		text         []string
	}{
		{"none", "a\nb\n", "^c", false, []int{}, 0, nil},
		{"numbers only", "a=1\nkey=s3cret\nkey=2", "^key=", false, []int{2, 3}, 2, nil},
		{"revealed", "a\r\nb\r\n", "^b$", true, []int{2}, 1, []string{"b"}},
		{"no final newline", "x", "x", false, []int{1}, 1, nil},
		{"bounded list", strings.Repeat("y\n", 25), "y", false, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 25, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := Match(strings.NewReader(c.in), c.re, c.reveal)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m.Lines, c.lines) || m.Count != c.count || !reflect.DeepEqual(m.Text, c.text) {
				t.Errorf("got %+v", m)
			}
		})
	}
	if _, err := Match(strings.NewReader(""), "(", false); err == nil {
		t.Error("a bad pattern is accepted")
	}
}

func TestParseIDs(t *testing.T) {
	got := ParseIDs(strings.NewReader("root:x:0:0::/root:/bin/sh\n#c:x:9\nbad\nfirst:x:7:\nsecond:x:7:\nn:x:-1:\n"))
	want := map[uint32]string{0: "root", 7: "first"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v", got)
	}
}

func FuzzMatch(f *testing.F) {
	f.Add("a\nkey=1\n", "^key=", true)
	f.Add("\r\n\n", "$", false)
	f.Fuzz(func(t *testing.T, in, re string, reveal bool) {
		m, err := Match(strings.NewReader(in), re, reveal)
		if err != nil {
			return
		}
		if len(m.Lines) > m.Count || len(m.Lines) > 10 || (!reveal && len(m.Text) > 0) {
			t.Fatalf("%+v", m)
		}
	})
}

func FuzzParseIDs(f *testing.F) {
	f.Add("root:x:0:0::/root:/bin/sh\n")
	f.Fuzz(func(t *testing.T, in string) {
		for _, name := range ParseIDs(strings.NewReader(in)) {
			if name == "" || strings.Contains(name, ":") {
				t.Fatalf("name %q", name)
			}
		}
	})
}
