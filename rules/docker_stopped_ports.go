package rules

import (
	"fmt"
	"strings"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "docker_stopped_ports",
		Summary: "every container that publishes ports is running (a stopped one leaves its port unanswered)",
		Needs:   []string{snapshot.CollectorDocker},
		Decode:  func(*Decoder) Check { return dockerStoppedCheck{} },
	})
}

// dockerStoppedCheck: a container that publishes ports is there to answer
// on them; stopped, its port is silently closed.
type dockerStoppedCheck struct{}

func (dockerStoppedCheck) Evaluate(s *snapshot.Snapshot) Result {
	const expected = "every container that publishes ports is running"
	if r, done := noEngine(s, expected); done {
		return r
	}
	var stopped, names []string
	for _, c := range s.Docker.Containers {
		if c.Running() || len(c.Ports) == 0 {
			continue
		}
		names = append(names, c.Name)
		stopped = append(stopped, fmt.Sprintf("container %s publishes %s but is %s: nothing answers on those ports", c.Name, describePorts(c.Ports), c.State))
	}
	r := Result{Expected: expected}
	if len(stopped) == 0 {
		r.Status, r.Observed, r.Explanation = finding.Pass, "all running", "every container that publishes ports is running"
		return r
	}
	r.Status, r.Observed = finding.Fail, "not running: "+strings.Join(names, ", ")
	r.Explanation = strings.Join(stopped, "; ")
	r.Remediation = "start them (docker start NAME) and find out why they stopped (docker logs NAME), or remove the containers that are no longer needed (docker rm NAME)"
	return r
}
