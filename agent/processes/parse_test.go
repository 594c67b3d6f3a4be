package processes

import (
	"strings"
	"testing"
)

func TestStatusUID(t *testing.T) {
	for in, want := range map[string]int{
		"Name:\tsleep\nUid:\t1000\t1000\t1000\t1000\n": 1000,
		"Uid:\t0\t0\t0\t0\n":                           0,
		"Name:\tx\n":                                   -1,
		"Uid:\n":                                       -1,
		"Uid:\t-3\t0\n":                                -1,
	} {
		uid, ok := StatusUID(strings.NewReader(in))
		if (want < 0) == ok || (ok && int(uid) != want) {
			t.Errorf("%q: %d %v, want %d", in, uid, ok, want)
		}
	}
}

func TestCommand(t *testing.T) {
	for in, want := range map[string]string{
		"":                                 "",
		"sleep\x00600\x00":                 "sleep 600",
		"app\x00--password\x00hunter2\x00": "app --password REDACTED",
		"psql\x00postgres://u:pw@db/x\x00": "psql postgres://u:REDACTED@db/x",
		"a b\x00c":                         "a b c",
		strings.Repeat("x", MaxCommand+10) + "\x00": strings.Repeat("x", MaxCommand) + "…",
	} {
		if got := Command([]byte(in)); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func FuzzCommand(f *testing.F) {
	f.Add([]byte("app\x00--token=abc\x00"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if s := Command(raw); len(s) > MaxCommand+len("…") {
			t.Fatalf("%d bytes", len(s))
		}
	})
}

func FuzzStatusUID(f *testing.F) {
	f.Add("Uid:\t0\t0\t0\t0\n")
	f.Fuzz(func(t *testing.T, in string) { StatusUID(strings.NewReader(in)) })
}
