package rules

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "accepting",
		Summary: "every TCP listener (optionally on one port or address scope) takes its connections: none has a full accept queue",
		Attributes: []hcl.AttributeSchema{
			{Name: "port"},
			{Name: "address"},
		},
		Needs:  []string{"listeners"},
		Decode: decodeAccepting,
	})
}

// acceptingCheck: no TCP listener in scope has stopped accepting. A socket
// that stays open while its owner no longer accepts passes every "is it
// listening" test; its full accept queue is what gives it away.
type acceptingCheck struct {
	port  uint16
	scope addressScope
}

func decodeAccepting(d *Decoder) Check {
	c := &acceptingCheck{scope: decodeScope(d, "address")}
	if d.Has("port") {
		c.port = d.Port("port")
	}
	return c
}

func (c *acceptingCheck) Evaluate(s *snapshot.Snapshot) Result {
	scope := "every TCP listener on " + c.scope.String()
	if c.port != 0 {
		scope = fmt.Sprintf("every listener on tcp/%d on %s", c.port, c.scope)
	}
	if s.Listeners.Source == "procfs" {
		return Errorf("cannot tell whether listeners accept: the sockets were read from /proc/net, which does not show the listen backlog (sock_diag was unavailable; run as root with the inet_diag module loaded)")
	}
	var inScope, stalled []snapshot.Socket
	for _, sock := range s.Listeners.Sockets {
		if sock.Protocol != "tcp" || (c.port != 0 && sock.Port != c.port) || !c.scope.matches(sock) {
			continue
		}
		inScope = append(inScope, sock)
		if sock.Stalled() {
			stalled = append(stalled, sock)
		}
	}
	r := Result{Expected: scope + " accepts connections"}
	if len(stalled) == 0 {
		r.Status = finding.Pass
		r.Observed = fmt.Sprintf("%d listener(s), none stalled", len(inScope))
		r.Explanation = r.Observed
		return r
	}
	r.Status = finding.Fail
	r.Observed = fmt.Sprintf("%d of %d listener(s) stalled", len(stalled), len(inScope))
	r.Explanation = stalledExplanation(stalled)
	r.Remediation = stalledRemediation(stalled)
	return r
}

// stalledRemediation is the fix for listeners whose owner stopped calling
// accept, naming the owners when known.
func stalledRemediation(socks []snapshot.Socket) string {
	var owners []string
	for _, sock := range socks {
		if p := sock.Process; p != nil {
			o := fmt.Sprintf("%s pid %d", p.Name, p.PID)
			if p.Unit != "" {
				o += " (" + p.Unit + ")"
			}
			if !slices.Contains(owners, o) {
				owners = append(owners, o)
			}
		}
	}
	who := "the owning process"
	if len(owners) > 0 {
		who = "the owner, " + strings.Join(owners, " and ") + ","
	}
	return who + " stopped calling accept (a dead thread or a deadlock): restart it and find out why it stopped"
}
