package policygen

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

func fixture() *snapshot.Snapshot {
	a := netip.MustParseAddr
	return &snapshot.Snapshot{
		Host: snapshot.Host{Hostname: "web1", FQDN: "web1"},
		Collectors: []snapshot.CollectorStatus{
			{Name: "host", Status: snapshot.StatusOK}, {Name: "listeners", Status: snapshot.StatusOK},
			{Name: "dns", Status: snapshot.StatusOK},
		},
		Listeners: &snapshot.Listeners{Sockets: []snapshot.Socket{
			{Protocol: "tcp", Family: snapshot.IPv4, Address: a("0.0.0.0"), Port: 22, Process: &snapshot.Process{Name: "sshd", Unit: "ssh.service"}},
			{Protocol: "tcp", Family: snapshot.IPv4, Address: a("0.0.0.0"), Port: 22, Process: &snapshot.Process{Name: "sshd"}}, // a second sshd socket
			{Protocol: "udp", Family: snapshot.IPv4, Address: a("0.0.0.0"), Port: 41234},                                        // ephemeral
			{Protocol: "tcp", Family: snapshot.IPv4, Address: a("127.0.0.1"), Port: 6379},
		}},
		DNS: &snapshot.DNS{},
	}
}

// A proposal that does not hold is written commented out with the reason;
// one that holds is active; the whole text is a valid policy.
func TestSettleAndWrite(t *testing.T) {
	s := fixture()
	cands := Propose(s, []string{snapshot.AreaListeners})
	if len(cands) != 2 {
		t.Fatalf("proposed %d listener checks, want 2 (duplicates and ephemeral ports left out): %+v", len(cands), cands)
	}
	// The redis listener goes away before the proposals are tried.
	s.Listeners.Sockets = s.Listeners.Sockets[:3]
	settled := Settle(cands, s)
	var b strings.Builder
	if err := Write(&b, Header{Host: "web1", Version: "test"}, settled); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, want := range []string{
		"# tcp on 0.0.0.0 port 22: sshd (ssh.service)\nlistener \"tcp-22-sshd\" {",
		"  process  = \"sshd\"",
		"# Not true on this host now, so left out: fail:",
		"# listener \"tcp-6379\" {",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("policy lacks %q:\n%s", want, text)
		}
	}
	pol, diags := rules.Load([]rules.Source{{Name: "init.hcl", Text: []byte(text)}})
	if diags.HasErrors() {
		t.Fatalf("the written policy does not parse: %s\n%s", diags.Error(), text)
	}
	plan, diags := pol.Compile(&s.Host, nil)
	if diags.HasErrors() || len(plan.Checks) != 1 {
		t.Fatalf("the written policy compiles to %v checks: %v", plan, diags)
	}
}

func TestLabel(t *testing.T) {
	for in, want := range map[string]string{
		"tcp-22-sshd":          "tcp-22-sshd",
		"tcp-80-nginx: worker": "tcp-80-nginx-worker",
		"--":                   "check",
		"udp-53-systemd/res":   "udp-53-systemd-res",
	} {
		if got := Label(in); got != want {
			t.Errorf("Label(%q) = %q, want %q", in, got, want)
		}
	}
}
