package rules

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "process",
		Summary: "processes with a name or command line run on this host (in its PID and mount namespaces): at least, at most N, as a user",
		Attributes: []hcl.AttributeSchema{
			{Name: "name"},
			{Name: "command"},
			{Name: "user"},
			{Name: "min"},
			{Name: "max"},
		},
		AttributeDocs: map[string]string{
			"name":    "the process's name as the kernel keeps it (comm: the program's file name, cut to 15 bytes)",
			"command": "a regular expression (RE2) the command line must match; secrets in it are redacted before matching",
			"user":    "the user it runs as (real uid), by name or uid",
			"min":     "at least this many must run (default 1)",
			"max":     "at most this many may run; 0 with min = 0: none may run",
		},
		Needs:  []string{snapshot.CollectorProcesses},
		Decode: decodeProcess,
	})
}

// processCheck counts the host's processes that match.
type processCheck struct {
	name    string
	command *regexp.Regexp
	user    string
	min     int
	max     int // -1: no bound
}

// commLen is how much of a name the kernel keeps.
const commLen = 15

func decodeProcess(d *Decoder) Check {
	c := &processCheck{name: d.String("name", ""), user: d.String("user", ""), min: d.Int("min", 1, 0, 1<<20), max: d.Int("max", -1, 0, 1<<20)}
	if len(c.name) > commLen {
		c.name = c.name[:commLen]
	}
	if s := d.String("command", ""); s != "" {
		re, err := regexp.Compile(s)
		if err != nil {
			d.Errorf("command", "Invalid regular expression", "%q: %s.", s, err)
		}
		c.command = re
	}
	if !d.Has("name") && !d.Has("command") {
		d.Errorf("name", "Missing name or command", "a process check names the process (name) or matches its command line (command), or both.")
	}
	if c.max >= 0 && c.min > c.max {
		if d.Has("min") {
			d.Errorf("min", "Contradictory counts", "min %d is more than max %d.", c.min, c.max)
		} else {
			c.min = 0 // max = 0 alone: none may run
		}
	}
	return c
}

func (c *processCheck) what() string {
	var p []string
	if c.name != "" {
		p = append(p, "named "+c.name)
	}
	if c.command != nil {
		p = append(p, "with a command matching /"+c.command.String()+"/")
	}
	if c.user != "" {
		p = append(p, "as "+c.user)
	}
	return strings.Join(p, " ")
}

func (c *processCheck) matches(p snapshot.RunningProcess) bool {
	if c.name != "" && p.Name != c.name {
		return false
	}
	if c.command != nil && !c.command.MatchString(p.Command) {
		return false
	}
	if c.user != "" && !idIs(c.user, p.User, p.UID) {
		return false
	}
	return true
}

func (c *processCheck) expected() string {
	switch {
	case c.max == 0:
		return "no process " + c.what() + " runs"
	case c.max > 0 && c.min == c.max:
		return fmt.Sprintf("exactly %d %s %s", c.min, plural(c.min, "process", "processes"), c.what())
	case c.max > 0:
		return fmt.Sprintf("%d to %d processes %s", c.min, c.max, c.what())
	}
	return fmt.Sprintf("at least %d %s %s", c.min, plural(c.min, "process", "processes"), c.what())
}

func (c *processCheck) Evaluate(s *snapshot.Snapshot) Result {
	if s.Processes == nil {
		return Errorf("the snapshot holds no processes section")
	}
	r := Result{Expected: c.expected()}
	var host, other, unknown []snapshot.RunningProcess
	for _, p := range s.Processes.Processes {
		if !c.matches(p) {
			continue
		}
		switch {
		case p.Host:
			host = append(host, p)
		case p.NSError != "":
			unknown = append(unknown, p)
		default:
			other = append(other, p)
		}
	}
	n := len(host)
	r.Observed = fmt.Sprintf("%d %s", n, plural(n, "process", "processes"))
	if n > 0 {
		r.Observed += ": " + procList(host)
	}
	elsewhere := ""
	if len(other) > 0 {
		elsewhere = fmt.Sprintf("; %d more in other PID or mount namespaces (containers), which do not count: %s", len(other), procList(other))
	}
	switch {
	case n < c.min && n+len(unknown) >= c.min:
		return Errorf("%d %s %s, too few; %d more match whose namespaces could not be read (%s)", n, plural(n, "process runs", "processes run"), c.what(), len(unknown), unknown[0].NSError)
	case n < c.min:
		r.Status = finding.Fail
		r.Explanation = fmt.Sprintf("%s %s %s on this host, fewer than %d: %s%s", countText(n), c.what(), plural(n, "runs", "run"), c.min, procList(host), elsewhere)
		if n == 0 {
			r.Explanation = fmt.Sprintf("no process %s runs on this host%s", c.what(), elsewhere)
		}
		r.Remediation = "start it, and find out from its service's or supervisor's log why it stopped"
	case c.max >= 0 && n > c.max:
		r.Status = finding.Fail
		r.Explanation = fmt.Sprintf("%s %s %s on this host, more than %d: %s", countText(n), c.what(), plural(n, "runs", "run"), c.max, procList(host))
		r.Remediation = "stop the ones that should not run, and find what starts them (their parent, unit or cron job)"
		if c.max == 0 {
			r.Explanation = fmt.Sprintf("%s %s %s on this host, and none may: %s", countText(n), c.what(), plural(n, "runs", "run"), procList(host))
		}
	default:
		r.Status = finding.Pass
		r.Explanation = fmt.Sprintf("%s %s %s on this host", countText(n), c.what(), plural(n, "runs", "run"))
		if n > 0 {
			r.Explanation += ": " + procList(host)
		}
		r.Explanation += elsewhere
	}
	return r
}

func countText(n int) string {
	if n == 1 {
		return "1 process"
	}
	return strconv.Itoa(n) + " processes"
}

// procList names up to five processes: "pid 812 nginx (www-data)".
func procList(ps []snapshot.RunningProcess) string {
	var out []string
	for i, p := range ps {
		if i == 5 {
			out = append(out, fmt.Sprintf("and %d more", len(ps)-5))
			break
		}
		out = append(out, fmt.Sprintf("pid %d %s (%s)", p.PID, p.Name, idName(p.User, p.UID)))
	}
	return strings.Join(out, ", ")
}
