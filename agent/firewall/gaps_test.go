package firewall

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// TestNoUndeclaredGap loads the rule forms of testdata/gaps into the kernel
// with nft and iptables, reads them back, and fails on any rule the
// simulator cannot decide whatever the packet (a may-match, a field or
// value it does not interpret, an unknown verdict) while the rule's
// Unsupported is empty, unless the reason is one of snapshot.MayFamilies.
// It logs, per source, how many rules are decoded, honestly undecidable,
// and unsupported.
func TestNoUndeclaredGap(t *testing.T) {
	nstest.RequireRoot(t)
	for _, c := range []string{"nft", "iptables-nft", "ip6tables-nft", "iptables-legacy", "ip6tables-legacy"} {
		nstest.RequireCommand(t, c)
	}
	ns := nstest.New(t)
	nftLoad(t, ns, `table inet gaps {
	set s4 { type ipv4_addr; flags dynamic; elements = { 10.0.0.1 } }
	set s6 { type ipv6_addr; elements = { fd00::1 } }
	set sp { type ipv4_addr . inet_service; elements = { 10.0.0.1 . 22 } }
	map m4 { type ipv4_addr : verdict; elements = { 10.0.0.1 : drop } }
	chain c { }
	chain input { type filter hook input priority 0; policy accept; jump c; }
}
`)
	loaded := map[string]int{}
	for _, line := range corpus(t, "inet.nft") {
		if out, err := ns.Command("nft", "add rule inet gaps c "+line).CombinedOutput(); err != nil {
			t.Logf("nft rejects %q: %s", line, strings.TrimSpace(string(out)))
			continue
		}
		loaded["nftables"]++
	}
	for _, src := range []struct{ file, tool string }{
		{"ip4.ipt", "iptables-nft"}, {"ip6.ipt", "ip6tables-nft"}, {"ip4.ipt", "iptables-legacy"}, {"ip6.ipt", "ip6tables-legacy"},
	} {
		for _, line := range corpus(t, src.file) {
			args, err := splitArgs("-A INPUT " + line)
			if err != nil {
				t.Fatalf("%s: %q: %v", src.file, line, err)
			}
			if out, err := ns.Command(src.tool, args...).CombinedOutput(); err != nil {
				t.Logf("%s rejects %q: %s", src.tool, line, strings.TrimSpace(string(out)))
				continue
			}
			loaded[src.tool]++
		}
	}

	fw := collectIn(t, ns)
	counts := map[string]*ruleTally{}
	for ti := range fw.Tables {
		tb := &fw.Tables[ti]
		key := tb.Backend + " " + tb.Family
		for ci := range tb.Chains {
			c := &tb.Chains[ci]
			if tb.Name == "gaps" && c.Name != "c" {
				continue
			}
			for ri := range c.Rules {
				r := &c.Rules[ri]
				if counts[key] == nil {
					counts[key] = &ruleTally{}
				}
				if os.Getenv("HOSTDRIFT_GAPS_DUMP") != "" {
					t.Logf("%s | %s | %+v | %q", key, r.Text, r.Matches, r.Unsupported)
				}
				counts[key].add(t, fw, tb, r, key)
			}
		}
	}
	reasons := map[string]int{}
	for _, c := range counts {
		for r, n := range c.reasons {
			reasons[r] += n
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "loaded: %v\n%-28s %6s %8s %7s %12s\n", loaded, "source", "rules", "decoded", "honest", "unsupported")
	var keys []string
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c := counts[k]
		fmt.Fprintf(&b, "%-28s %6d %8d %7d %12d\n", k, c.rules, c.decoded, c.honest, c.unsupported)
	}
	var rs []string
	for r, n := range reasons {
		rs = append(rs, fmt.Sprintf("%4d %s", n, r))
	}
	sort.Strings(rs)
	t.Logf("%s%s", b.String(), strings.Join(rs, "\n"))
}

// corpus reads the rule lines of a testdata/gaps file.
func corpus(t *testing.T, name string) []string {
	t.Helper()
	data, err := os.ReadFile("testdata/gaps/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}
