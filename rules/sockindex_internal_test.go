package rules

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// TestIndexedEvaluationMatchesScan: a check judged through the
// evaluation's socket index says exactly what it says scanning every
// socket, evidence order included, on a port several sockets share.
func TestIndexedEvaluationMatchesScan(t *testing.T) {
	src := `
listener "any" { port = 80 }
listener "v6" {
  port = 80
  address = "::1"
}
listener "public" {
  port = 80
  address = "public"
}
listener "owned" {
  port = 80
  process = "nginx"
}
listener "other" {
  port = 80
  process = "apache2"
}
listener "gone" {
  port = 80
  expect = "absent"
}
listener "udp" {
  port = 80
  protocol = "udp"
}
listener "miss" { port = 81 }
listener "unowned" {
  port = 22
  process = "sshd"
}
accepting "web" { port = 80 }
accepting "all" {}
`
	p, diags := Load([]Source{{Name: "test.hcl", Text: []byte(src)}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	nginx := &snapshot.Process{PID: 812, Name: "nginx", Cmdline: "nginx: master process /usr/sbin/nginx"}
	other := &snapshot.Process{PID: 9, Name: "python3", Cmdline: "python3 -m http.server 80"}
	sk := func(proto, addr string, port uint16, p *snapshot.Process, queue uint32) snapshot.Socket {
		a := netip.MustParseAddr(addr)
		return snapshot.Socket{Protocol: proto, Family: snapshot.FamilyOf(a), Address: a, Port: port, Process: p, Backlog: 4, AcceptQueue: queue}
	}
	s := &snapshot.Snapshot{
		Schema:     snapshot.Schema,
		Collectors: []snapshot.CollectorStatus{{Name: snapshot.CollectorListeners, Status: snapshot.StatusOK}},
		Listeners: &snapshot.Listeners{Source: "sock_diag", Sockets: []snapshot.Socket{
			sk("tcp", "127.0.0.1", 80, other, 0),
			sk("tcp", "0.0.0.0", 22, nil, 0),
			sk("udp", "0.0.0.0", 80, nil, 0),
			sk("tcp", "::", 80, nginx, 4),
			sk("tcp", "0.0.0.0", 80, nginx, 0),
			sk("tcp", "10.0.0.1", 80, other, 4),
		}},
	}
	plan, diags := p.Compile(&s.Host, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	st := &evalState{}
	indexed := 0
	for _, c := range plan.Checks {
		se, ok := c.Check.(stateEvaluator)
		if !ok {
			continue
		}
		indexed++
		scan, ix := c.Check.Evaluate(s), se.evaluateWith(s, st)
		if !reflect.DeepEqual(scan, ix) {
			t.Errorf("%s: scanning every socket:\n%+v\nthrough the index:\n%+v", c.ID(), scan, ix)
		}
	}
	if indexed != len(plan.Checks) {
		t.Errorf("%d of %d checks went through the index", indexed, len(plan.Checks))
	}
}
