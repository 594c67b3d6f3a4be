package firewall

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// ipsetCommands create one set of each type the kernel keeps members of in
// its own way: hosts, networks with an exception, ports with protocols,
// interfaces (a wildcard, a bridge port), timeouts, IPv6, lists of sets.
var ipsetCommands = [][]string{
	{"create", "hosts", "hash:ip"}, {"add", "hosts", "10.200.0.130"}, {"add", "hosts", "10.201.0.3"},
	{"create", "nets", "hash:net"}, {"add", "nets", "10.201.0.0/16"}, {"add", "nets", "10.201.0.0/30", "nomatch"},
	{"create", "svc", "hash:ip,port"}, {"add", "svc", "10.200.0.1,tcp:8080"}, {"add", "svc", "10.200.0.1,udp:9000"},
	{"create", "ifnets", "hash:net,iface"}, {"add", "ifnets", "10.200.0.128/26,vh"}, {"add", "ifnets", "10.201.0.0/24,physdev:veth+"},
	{"create", "ports", "bitmap:port", "range", "1-10000"}, {"add", "ports", "22"}, {"add", "ports", "993"},
	{"create", "banned", "hash:ip", "timeout", "600"}, {"add", "banned", "10.201.0.9"},
	{"create", "nets6", "hash:net", "family", "inet6"}, {"add", "nets6", "fd00:201::/112"},
	{"create", "pairs", "hash:ip,port,ip"}, {"add", "pairs", "10.200.0.1,tcp:5432,10.200.0.131"},
	{"create", "either", "list:set"}, {"add", "either", "hosts"}, {"add", "either", "nets"},
}

func loadIPSets(t *testing.T, ns *nstest.NS) {
	t.Helper()
	for _, c := range ipsetCommands {
		ns.Run(t, "ipset", c...)
	}
}

// TestCollectIPSets reads real ipsets over netlink.
func TestCollectIPSets(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireCommand(t, "ipset")
	ns := nstest.New(t)
	loadIPSets(t, ns)
	sec, err := (&Collector{}).Collect(context.Background(), &agent.Env{NetNS: ns.Path()})
	var partial *agent.PartialError
	if err != nil && !errors.As(err, &partial) {
		t.Fatalf("collect: %v", err)
	}
	fw := sec.(*snapshot.Firewall)
	got := map[string]snapshot.IPSet{}
	for _, s := range fw.IPSets {
		got[s.Name] = s
	}
	mem := func(key ...string) snapshot.IPSetMember { return snapshot.IPSetMember{Key: key} }
	want := []snapshot.IPSet{
		{Name: "hosts", Type: "hash:ip", Family: "inet", Members: []snapshot.IPSetMember{mem("10.200.0.130"), mem("10.201.0.3")}},
		{Name: "nets", Type: "hash:net", Family: "inet", Members: []snapshot.IPSetMember{mem("10.201.0.0/16"), {Key: []string{"10.201.0.0/30"}, NoMatch: true}}},
		{Name: "svc", Type: "hash:ip,port", Family: "inet", Members: []snapshot.IPSetMember{mem("10.200.0.1", "tcp:8080"), mem("10.200.0.1", "udp:9000")}},
		{Name: "ifnets", Type: "hash:net,iface", Family: "inet", Members: []snapshot.IPSetMember{mem("10.200.0.128/26", "vh"), mem("10.201.0.0/24", "physdev:veth+")}},
		{Name: "ports", Type: "bitmap:port", Members: []snapshot.IPSetMember{mem("22"), mem("993")}},
		{Name: "banned", Type: "hash:ip", Family: "inet", Timeout: 600, Members: []snapshot.IPSetMember{mem("10.201.0.9")}},
		{Name: "nets6", Type: "hash:net", Family: "inet6", Members: []snapshot.IPSetMember{mem("fd00:201::/112")}},
		{Name: "pairs", Type: "hash:ip,port,ip", Family: "inet", Members: []snapshot.IPSetMember{mem("10.200.0.1", "tcp:5432", "10.200.0.131")}},
		{Name: "either", Type: "list:set", Members: []snapshot.IPSetMember{mem("hosts"), mem("nets")}},
	}
	if len(fw.IPSets) != len(want) {
		t.Errorf("%d ipsets, want %d: %+v", len(fw.IPSets), len(want), fw.IPSets)
	}
	for _, w := range want {
		g := got[w.Name]
		sortMembers(g.Members)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("ipset %s:\n got %+v\nwant %+v", w.Name, g, w)
		}
	}
}

// sortMembers orders members by their keys, as ipsetCommands adds them (the
// kernel lists a hash in its own order).
func sortMembers(ms []snapshot.IPSetMember) {
	sort.Slice(ms, func(i, j int) bool { return strings.Join(ms[i].Key, ",") < strings.Join(ms[j].Key, ",") })
}
