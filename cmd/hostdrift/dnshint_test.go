package main

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/report"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// shellWords splits a command line the way a POSIX shell would for the
// quoting the remediations use: words separated by spaces, single quotes
// kept literal.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("unbalanced quote in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// checkSnapshot runs check on a saved snapshot with the built-in policy and
// returns the JSON report and the exit code.
func checkSnapshot(t *testing.T, snap *snapshot.Snapshot, extra ...string) (*report.Report, int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "snap.json")
	b, _ := json.Marshal(snap)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	args := append([]string{"check", "--snapshot", path, "--policy", "builtin:default", "--format", "json"}, extra...)
	code := run(args, nil, &stdout, &stderr)
	var r report.Report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("exit %d, no JSON report: %v\nstderr: %s", code, err, stderr.String())
	}
	return &r, code
}

// TestDNSNATHintIsAccepted: behind NAT, the FQDN resolves to a public
// address the host does not hold. The fail's remediation names a command
// line; run as given (with the address filled in) it is accepted, and the
// check passes.
func TestDNSNATHintIsAccepted(t *testing.T) {
	const public = "203.0.113.7"
	snap := scenarios()["clean.exit0"]
	for i, q := range snap.DNS.Queries {
		if q.Type == snapshot.TypeA {
			snap.DNS.Queries[i].Records = []snapshot.AddressRecord{{IP: netip.MustParseAddr(public), TTL: 300}}
		}
	}
	r, code := checkSnapshot(t, snap)
	var hint string
	for _, f := range r.Findings {
		if f.Check == "dns.fqdn-resolves-to-host" {
			if f.Status != "fail" {
				t.Fatalf("behind NAT without the variable: %s %s, want fail", f.Status, f.Explanation)
			}
			hint = f.Remediation
		}
	}
	if code != exitDrift {
		t.Errorf("exit %d, want 1", code)
	}
	_, cmdline, ok := strings.Cut(hint, "`")
	cmdline, _, ok2 := strings.Cut(cmdline, "`")
	if !ok || !ok2 {
		t.Fatalf("the remediation names no command line: %q", hint)
	}
	words := shellWords(t, strings.ReplaceAll(cmdline, "ADDRESS", public))
	if len(words) < 2 || words[0] != "hostdrift" || words[1] != "check" {
		t.Fatalf("the suggested command is not hostdrift check: %q", cmdline)
	}
	r, code = checkSnapshot(t, snap, words[2:]...)
	if code == exitUsage {
		t.Fatalf("the suggested %q exits 2", cmdline)
	}
	for _, f := range r.Findings {
		if f.Check == "dns.fqdn-resolves-to-host" && f.Status != "pass" {
			t.Errorf("with %q: %s %s, want pass", cmdline, f.Status, f.Explanation)
		}
	}
}
