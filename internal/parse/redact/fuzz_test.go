package redact

import (
	"strings"
	"testing"
)

// FuzzCmdline: redaction never panics, and a secret written as a
// --password=VALUE option never survives it.
func FuzzCmdline(f *testing.F) {
	for _, s := range []string{"mysqldump --password=s3cret db", "curl -H 'Authorization: Bearer abc' https://x", "pg_dump postgres://u:pw@h/db",
		"backup.sh", "AWS_SECRET_ACCESS_KEY=k aws s3 cp a b", ""} {
		f.Add(s, "hunter2value")
	}
	f.Fuzz(func(t *testing.T, cmd, secret string) {
		Cmdline(cmd)
		if len(secret) < 8 || strings.ContainsAny(secret, " \t\n'\"=\\$`;|&<>()") {
			return
		}
		if out := Cmdline("tool --password=" + secret + " rest"); strings.Contains(out, secret) {
			t.Errorf("the password survived: %q", out)
		}
	})
}
