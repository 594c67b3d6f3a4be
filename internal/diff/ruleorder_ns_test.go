package diff_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/agent/firewall"
	"github.com/hostdrift/hostdrift/internal/diff"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// readFirewall takes a snapshot of the namespace's firewall.
func readFirewall(t *testing.T, ns *nstest.NS) *snapshot.Snapshot {
	t.Helper()
	sec, err := (&firewall.Collector{}).Collect(context.Background(), &agent.Env{NetNS: ns.Path()})
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	s := &snapshot.Snapshot{Schema: snapshot.Schema, TakenAt: time.Now(),
		Collectors: []snapshot.CollectorStatus{{Name: snapshot.CollectorFirewall, Status: snapshot.StatusOK}}}
	sec.Attach(s)
	return s
}

// TestRuleOrderChanges: in real nftables and iptables chains, a rule
// inserted above others, appended, moved or deleted is that one change:
// the rules around it keep their order among the rules both sides hold,
// so their new neighbour is no change of theirs. Before, an insertion
// was one added rule and one changed (the rule below it, a new follows).
func TestRuleOrderChanges(t *testing.T) {
	nstest.RequireCommand(t, "nft")
	nstest.RequireCommand(t, "iptables-nft")
	for _, c := range []struct {
		name  string
		setup [][]string
		steps []struct {
			name string
			cmds [][]string
			want []string
		}
	}{
		{name: "nftables",
			setup: [][]string{{"nft", "add table inet t; add chain inet t c; add rule inet t c tcp dport 22 accept; add rule inet t c tcp dport 80 accept; add rule inet t c tcp dport 443 accept"}},
			steps: []struct {
				name string
				cmds [][]string
				want []string
			}{
				{"insert", [][]string{{"nft", "insert rule inet t c index 1 tcp dport 8080 accept"}}, []string{
					"firewall rule added: nftables inet t c: tcp dport 8080 accept"}},
				{"append", [][]string{{"nft", "add rule inet t c tcp dport 993 accept"}}, []string{
					"firewall rule added: nftables inet t c: tcp dport 993 accept"}},
				{"move", [][]string{{"sh", "-c", `nft delete rule inet t c handle $(nft -a list chain inet t c | sed -n 's/.*dport 443 accept # handle \([0-9]*\)$/\1/p') && nft insert rule inet t c tcp dport 443 accept`}}, []string{
					"firewall rule changed: nftables inet t c: tcp dport 443 accept (follows tcp dport 80 accept -> (start of chain))"}},
				{"delete", [][]string{{"sh", "-c", `nft delete rule inet t c handle $(nft -a list chain inet t c | sed -n 's/.*dport 8080 accept # handle \([0-9]*\)$/\1/p')`}}, []string{
					"firewall rule removed: nftables inet t c: tcp dport 8080 accept"}},
			}},
		{name: "iptables",
			setup: [][]string{{"iptables-nft", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"},
				{"iptables-nft", "-A", "INPUT", "-p", "tcp", "--dport", "80", "-j", "ACCEPT"},
				{"iptables-nft", "-A", "INPUT", "-p", "tcp", "--dport", "443", "-j", "ACCEPT"}},
			steps: []struct {
				name string
				cmds [][]string
				want []string
			}{
				{"insert", [][]string{{"iptables-nft", "-I", "INPUT", "2", "-p", "tcp", "--dport", "8080", "-j", "ACCEPT"}}, []string{
					"firewall rule added: iptables-nft ip filter INPUT: -A INPUT -p tcp -m tcp --dport 8080 -j ACCEPT"}},
				{"append", [][]string{{"iptables-nft", "-A", "INPUT", "-p", "tcp", "--dport", "993", "-j", "ACCEPT"}}, []string{
					"firewall rule added: iptables-nft ip filter INPUT: -A INPUT -p tcp -m tcp --dport 993 -j ACCEPT"}},
				{"move", [][]string{{"iptables-nft", "-D", "INPUT", "-p", "tcp", "--dport", "443", "-j", "ACCEPT"},
					{"iptables-nft", "-I", "INPUT", "1", "-p", "tcp", "--dport", "443", "-j", "ACCEPT"}}, []string{
					"firewall rule changed: iptables-nft ip filter INPUT: -A INPUT -p tcp -m tcp --dport 443 -j ACCEPT (follows -A INPUT -p tcp -m tcp --dport 80 -j ACCEPT -> (start of chain))"}},
				{"delete", [][]string{{"iptables-nft", "-D", "INPUT", "-p", "tcp", "--dport", "8080", "-j", "ACCEPT"}}, []string{
					"firewall rule removed: iptables-nft ip filter INPUT: -A INPUT -p tcp -m tcp --dport 8080 -j ACCEPT"}},
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ns := nstest.New(t)
			for _, cmd := range c.setup {
				ns.Run(t, cmd[0], cmd[1:]...)
			}
			prev := readFirewall(t, ns)
			for _, st := range c.steps {
				for _, cmd := range st.cmds {
					ns.Run(t, cmd[0], cmd[1:]...)
				}
				cur := readFirewall(t, ns)
				d := diff.Compare(prev, cur, diff.Options{Areas: []string{snapshot.AreaFirewall}})
				var got []string
				for _, ch := range d.Changes {
					got = append(got, ch.Summary())
				}
				if g, w := strings.Join(got, "\n"), strings.Join(st.want, "\n"); g != w {
					t.Errorf("%s: diff:\n%s\nwant:\n%s", st.name, g, w)
				}
				prev = cur
			}
		})
	}
}
