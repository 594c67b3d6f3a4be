package main

import (
	"strings"
	"testing"
)

// TestFactsCutShort: a run whose --timeout expires before the host's facts
// are read says so (which facts, the deadline, what to raise) and exits 3;
// before, the policy was compiled on an empty FQDN and the built-in
// dns.hcl was blamed with exit 2.
func TestFactsCutShort(t *testing.T) {
	for _, cmd := range [][]string{{"check"}, {"snapshot"}} {
		code, _, stderr := runIn(append(cmd, "--timeout", "1ns")...)
		if code != exitIncomplete {
			t.Errorf("%s: exit %d, want 3:\n%s", cmd[0], code, stderr)
		}
		for _, w := range []string{"the host's facts (hostname, FQDN, addresses) could not be read", "--timeout of 1ns expired", "raise --timeout"} {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: stderr lacks %q:\n%s", cmd[0], w, stderr)
			}
		}
		if strings.Contains(stderr, "dns.hcl") {
			t.Errorf("%s: the built-in policy is blamed:\n%s", cmd[0], stderr)
		}
	}
}
