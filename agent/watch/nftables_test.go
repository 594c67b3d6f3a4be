package watch

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// TestNFTables changes the ruleset of a fresh network namespace with nft
// and iptables-nft, and a second namespace's too: only the watched
// namespace's changes come out, each naming the firewall.
func TestNFTables(t *testing.T) {
	nstest.RequireCommand(t, "nft")
	nstest.RequireCommand(t, "iptables-nft")
	watched, other := nstest.New(t), nstest.New(t)
	ch := startSource(t, Options{Env: agent.Env{NetNS: watched.Path()}}, newNFTables)

	// The other namespace changes first: were its changes seen, they would
	// come before the watched namespace's.
	other.Run(t, "nft", "add table inet elsewhere")
	watched.Run(t, "nft", "add table inet t")
	e, before := waitEvent(t, ch, "table added", about("firewall", "table inet t: table added", "(by nft)"))
	for _, b := range append(before, e) {
		if strings.Contains(b.Detail, "elsewhere") {
			t.Errorf("an event from another namespace: %+v", b)
		}
	}
	if e.Source != "nftables" || !slices.Equal(e.Collectors, []string{"firewall"}) {
		t.Errorf("event %+v: want source nftables, collector firewall", e)
	}

	watched.Run(t, "nft", "add chain inet t out { type filter hook output priority 0 ; }")
	waitEvent(t, ch, "chain added", about("firewall", "table inet t: chain out added"))
	watched.Run(t, "nft", "add rule inet t out tcp dport 587 drop")
	waitEvent(t, ch, "rule added", about("firewall", "table inet t: rule added to chain out"))
	watched.Run(t, "nft", "flush chain inet t out")
	waitEvent(t, ch, "chain flushed", about("firewall", "table inet t: rule deleted from chain out"))

	// A burst: 300 rules in one transaction (as ufw or nft -f load them)
	// is one event.
	var script strings.Builder
	script.WriteString("add chain inet t bulk\n")
	for i := range 300 {
		fmt.Fprintf(&script, "add rule inet t bulk tcp dport %d drop\n", 1000+i)
	}
	cmd := watched.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v: %s", err, out)
	}
	watched.Run(t, "nft", "add table inet marker")
	_, before = waitEvent(t, ch, "the marker", about("firewall", "table inet marker: table added"))
	bulk := 0
	for _, b := range before {
		if strings.Contains(b.Detail, "chain bulk") {
			bulk++
			if !strings.Contains(b.Detail, "table inet t: rule added to chain bulk") {
				t.Errorf("the burst's event %q does not name its rules", b.Detail)
			}
		}
	}
	if bulk != 1 {
		t.Errorf("%d events for one transaction of 300 rules, want 1: %v", bulk, before)
	}

	// iptables-nft is nf_tables underneath.
	other.Run(t, "iptables-nft", "-A", "OUTPUT", "-p", "tcp", "--dport", "25", "-j", "DROP")
	watched.Run(t, "iptables-nft", "-A", "OUTPUT", "-p", "tcp", "--dport", "587", "-j", "DROP")
	e, before = waitEvent(t, ch, "iptables-nft rule", about("firewall", "table ip filter: rule added to chain OUTPUT"))
	for _, b := range append(before, e) {
		if strings.Contains(b.Detail, "elsewhere") {
			t.Errorf("an event from another namespace: %+v", b)
		}
	}
	// Only one iptables-nft change happened in the watched namespace: a
	// second rule event would be the other namespace's.
	other.Run(t, "nft", "delete table inet elsewhere")
	watched.Run(t, "nft", "delete table inet t")
	e, before = waitEvent(t, ch, "table deleted", about("firewall", "table inet t: table deleted"))
	for _, b := range append(before, e) {
		if strings.Contains(b.Detail, "elsewhere") || strings.Contains(b.Detail, "rule added to chain OUTPUT") {
			t.Errorf("an event from another namespace: %+v", b)
		}
	}
}

func TestParseNFT(t *testing.T) {
	// nfgenmsg (inet, version 0, res_id 0), then NFTA_RULE_TABLE "t" and
	// NFTA_RULE_CHAIN "out".
	msg := []byte{1, 0, 0, 0, 6, 0, 1, 0, 't', 0, 0, 0, 8, 0, 2, 0, 'o', 'u', 't', 0}
	c, ok := parseNFT(6, msg)
	if !ok || c.table != "table inet t" || c.what != "rule added to chain out" {
		t.Errorf("parseNFT = %+v, %v", c, ok)
	}
	if _, ok := parseNFT(6, msg[:2]); ok {
		t.Error("a truncated message parsed")
	}
	if _, ok := parseNFT(0x11, msg); ok {
		t.Error("a trace message counted as a change")
	}
	if c, ok := parseNFT(0x30, msg); !ok || c.what != "change (nf_tables message 48)" || c.table != "table inet t" {
		t.Errorf("a message kind newer than the code: %+v, %v; want a change of table inet t", c, ok)
	}
}
