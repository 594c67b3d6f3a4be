package netfilter

import (
	"reflect"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// TestWithoutBaseChains: a program without some base chains simulates as
// the compilation of the firewall with those chains removed does.
func TestWithoutBaseChains(t *testing.T) {
	for name, fw := range map[string]*snapshot.Firewall{"docker": dockerLike(), "ufw": ufwLike(), "native": nativeLike()} {
		isNAT := func(c *snapshot.Chain) bool { return c.Type == "nat" }
		removed := *fw
		removed.Tables = nil
		for _, tb := range fw.Tables {
			nt := tb
			nt.Chains = nil
			for _, c := range tb.Chains {
				if !(c.Base() && isNAT(&c)) {
					nt.Chains = append(nt.Chains, c)
				}
			}
			removed.Tables = append(removed.Tables, nt)
		}
		got, want := Compile(fw).WithoutBaseChains(isNAT), Compile(&removed)
		if len(got.hooks) != len(want.hooks) {
			t.Errorf("%s: hooks %d, want %d", name, len(got.hooks), len(want.hooks))
		}
		for _, p := range []Packet{in("tcp", 8080), in("tcp", 8081), in("tcp", 22), in("udp", 53), in("tcp", 80),
			{Direction: Forward, Protocol: "tcp", Src: remote, Dst: ctrIP, SrcPort: 1234, DstPort: 81}} {
			g, w := got.Simulate(p), want.Simulate(p)
			if g.Verdict != w.Verdict || g.Final != w.Final || !reflect.DeepEqual(Explain(g, p), Explain(w, p)) {
				t.Errorf("%s %+v:\n got %v %s\nwant %v %s", name, p, g.Verdict, Explain(g, p), w.Verdict, Explain(w, p))
			}
		}
	}
	// And it does leave the DNAT out: the published port is judged by INPUT.
	if r := Compile(dockerLike()).WithoutBaseChains(func(c *snapshot.Chain) bool { return c.Type == "nat" }).Simulate(in("tcp", 8080)); r.Final.Dst != hostIP {
		t.Errorf("without nat, 8080 went to %v", r.Final.Dst)
	}
}
