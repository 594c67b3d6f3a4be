package jobs

import (
	"strings"
	"testing"
)

// FuzzParseUnit: any unit file text parses or is refused, and never panics.
func FuzzParseUnit(f *testing.F) {
	for _, s := range []string{
		"[Unit]\nDescription=x\n[Timer]\nOnCalendar=daily\nPersistent=true\n[Install]\nWantedBy=timers.target\n",
		"[Service]\nExecStart=/usr/bin/a \\\n  --flag\nExecStart=\nExecStart=-/bin/b\n; comment\n# comment\n",
		"no section=here\n[Broken\n=novalue\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		var u unitFile
		parseUnit(strings.NewReader(text), &u)
	})
}
