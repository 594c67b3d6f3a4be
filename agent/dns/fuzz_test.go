package dns

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// FuzzParseResolvConf feeds text to parseResolvConf: whatever it says, a
// query's bounds stay within the clamps and at most three servers are kept;
// an options line appended last sets timeout and attempts, clamped.
func FuzzParseResolvConf(f *testing.F) {
	for _, s := range []string{
		"",
		"# generated\nsearch example.com\nnameserver 192.0.2.53 # primary\nnameserver 2001:db8::53\n; old\nnameserver bogus\n",
		"nameserver 10.0.0.1\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nnameserver 10.0.0.4\n",
		"nameserver 127.0.0.53\noptions edns0 trust-ad timeout:1 attempts:3\nsearch .\n",
		"options timeout:4\noptions timeout:0 attempts:0\n",
		"nameserver fe80::1%eth0\noptions timeout:30 attempts:5 rotate\n",
		"options timeout:99999999999 attempts:-9223372036854775808\n",
	} {
		f.Add(s, 3, 1)
	}
	f.Fuzz(func(t *testing.T, text string, timeout, attempts int) {
		rc, err := parseResolvConf(strings.NewReader(text))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("error without a message")
			}
			return
		}
		checkBounds(t, rc)
		for _, a := range rc.nameservers {
			if !a.IsValid() {
				t.Fatalf("invalid nameserver in %v", rc.nameservers)
			}
		}
		last := fmt.Sprintf("\noptions timeout:%d attempts:%d\n", timeout, attempts)
		rc, err = parseResolvConf(strings.NewReader(text + last))
		wantTimeout := time.Duration(min(max(timeout, 1), int(maxTimeout/time.Second))) * time.Second
		if err == nil && (rc.timeout != wantTimeout || rc.attempts != min(max(attempts, 1), maxAttempts)) {
			t.Fatalf("%q appended: timeout %s, attempts %d", last, rc.timeout, rc.attempts)
		}
	})
}

func checkBounds(t *testing.T, rc resolvConf) {
	t.Helper()
	if len(rc.nameservers) > maxNameservers || rc.timeout < time.Second || rc.timeout > maxTimeout ||
		rc.attempts < 1 || rc.attempts > maxAttempts {
		t.Fatalf("out of bounds: %d servers, timeout %s, %d attempts", len(rc.nameservers), rc.timeout, rc.attempts)
	}
}

// FuzzParseHosts feeds text to parseHosts: every entry has a valid, unmapped
// address, at least one name without blanks, and its own line number.
func FuzzParseHosts(f *testing.F) {
	f.Add("127.0.0.1\tlocalhost\n127.0.1.1 web1.example.com web1 # debian\n\n# 10.0.0.9 commented.example.com\nnot-an-ip name\n10.0.0.5 app.example.com\n::ffff:10.0.0.6 mapped\n10.0.0.7\n")
	f.Add("::1     localhost ip6-localhost ip6-loopback\nff02::1 ip6-allnodes\nfe80::1%eth0 router\n")
	f.Fuzz(func(t *testing.T, text string) {
		entries, err := parseHosts(strings.NewReader(text))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("error without a message")
			}
			return
		}
		last := 0
		for _, e := range entries {
			if !e.IP.IsValid() || e.IP.Is4In6() || len(e.Names) == 0 || e.Line <= last {
				t.Fatalf("entry %+v after line %d", e, last)
			}
			last = e.Line
			for _, n := range e.Names {
				if n == "" || strings.ContainsAny(n, " \t#") {
					t.Fatalf("name %q", n)
				}
			}
		}
	})
}
