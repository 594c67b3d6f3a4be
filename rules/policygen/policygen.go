// Package policygen writes a first policy from what a host does now: its
// listeners, the firewall's verdicts on the ports in use, its DNS names.
// Every proposed check is tried against the snapshot before it is written:
// one that does not hold today is written commented out with the reason, so
// a check run right after `policy init` reports no drift.
package policygen

import (
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/netfilter"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

// Candidate is one proposed check. Its alternatives are bodies to try in
// order (expect = "allow", then "deny"); the first that passes is written.
type Candidate struct {
	Area         string
	Kind         string
	Name         string
	Comment      string
	Alternatives [][]Attr
	// Weakening marks alternatives that each require less than the one
	// before: the next is tried only when one cannot be evaluated here
	// (no running systemd, say), never when it fails, so that today's
	// failure is never written down as the norm.
	Weakening bool
}

// Attr is one attribute: its name and its value as an HCL expression.
type Attr struct {
	Name string
	Expr string
}

// Str quotes s as an HCL string.
func Str(s string) string {
	return string(hclwrite.TokensForValue(cty.StringVal(s)).Bytes())
}

// Int writes an integer.
func Int(n int) string { return strconv.Itoa(n) }

// Areas returns the areas policy init can write, in output order.
func Areas() []string {
	out := make([]string, 0, len(proposers))
	for _, p := range proposers {
		out = append(out, p.area)
	}
	return out
}

// proposers are the per-area generators; each reads only its own section.
var proposers = []struct {
	area    string
	summary string
	propose func(s *snapshot.Snapshot) []Candidate
}{
	{snapshot.AreaListeners, "What listens, where, and which program serves it.", proposeListeners},
	{snapshot.AreaFirewall, "What the firewall lets in to the ports in use, and out to the ports its rules name.", proposeFirewall},
	{snapshot.AreaDNS, "The host's own names resolve to the addresses it holds.", proposeDNS},
	{snapshot.AreaDocker, "Docker's networks, and where containers publish their ports.", proposeDocker},
	{snapshot.AreaCron, "Each cron job can run, and its output reaches someone.", proposeCron},
	{snapshot.AreaTimers, "Each systemd timer can run, triggers, and its last run succeeded.", proposeTimers},
	{snapshot.AreaMounts, "The file systems /etc/fstab mounts, with their options, and space left.", proposeMounts},
	{snapshot.AreaInterfaces, "The network interfaces that are up, with their MTU.", proposeInterfaces},
	{snapshot.AreaServices, "Each enabled systemd service stays enabled and running.", proposeServices},
	{snapshot.AreaSysctl, "The kernel parameters /etc sets keep their values, now and after a reboot.", proposeSysctl},
}

// maxJobs bounds the cron and timer checks policy init writes: beyond it
// the default policy's catch-all checks cover the rest.
const maxJobs = 200

// Propose lists the candidate checks for the chosen areas (all when empty).
func Propose(s *snapshot.Snapshot, areas []string) []Candidate {
	var out []Candidate
	for _, p := range proposers {
		if len(areas) > 0 && !slices.Contains(areas, p.area) {
			continue
		}
		out = append(out, p.propose(s)...)
	}
	return out
}

// Wants is what the candidates ask the collectors to look at (the DNS
// names), so the snapshot they are tried on holds the answers.
func Wants(cands []Candidate, host *snapshot.Host) snapshot.Wants {
	var w snapshot.Wants
	for _, c := range cands {
		plan, err := compile(c, 0, host)
		if err != nil {
			continue
		}
		pw := plan.Wants()
		w.DNS = append(w.DNS, pw.DNS...)
	}
	return w
}

// Settled is a candidate tried on a snapshot: Chosen is the alternative that
// passed, or -1 with Reason saying why none did.
type Settled struct {
	Candidate
	Chosen int
	Reason string
}

// Settle tries each candidate's alternatives on the snapshot.
func Settle(cands []Candidate, s *snapshot.Snapshot) []Settled {
	out := make([]Settled, 0, len(cands))
	for _, c := range cands {
		st := Settled{Candidate: c, Chosen: -1}
		for i := range c.Alternatives {
			plan, err := compile(c, i, &s.Host)
			if err != nil {
				st.Reason = err.Error()
				continue
			}
			f := plan.Evaluate(s, time.Now())[0]
			if f.Status == finding.Pass {
				st.Chosen, st.Reason = i, ""
				break
			}
			if st.Reason == "" || f.Status == finding.Fail {
				st.Reason = string(f.Status) + ": " + f.Explanation
			}
			if c.Weakening && f.Status == finding.Fail {
				break
			}
		}
		out = append(out, st)
	}
	return out
}

func compile(c Candidate, alt int, host *snapshot.Host) (*rules.Plan, error) {
	var b strings.Builder
	writeBlock(&b, c, alt, "")
	pol, diags := rules.Load([]rules.Source{{Name: "policy-init", Text: []byte(b.String())}})
	if diags.HasErrors() {
		return nil, fmt.Errorf("internal error, the proposed check does not parse: %s", diags.Error())
	}
	plan, diags := pol.Compile(host, nil)
	if diags.HasErrors() {
		return nil, fmt.Errorf("the proposed check does not fit this host: %s", diags.Error())
	}
	return plan, nil
}

// Header describes the host the policy was written from.
type Header struct {
	Host    string
	TakenAt time.Time
	Version string
}

// Write renders the settled candidates as a commented policy, grouped by area.
func Write(w io.Writer, h Header, settled []Settled) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by hostdrift policy init %s from %s on %s.\n", h.Version, h.Host, h.TakenAt.UTC().Format("2006-01-02 15:04 MST"))
	b.WriteString("# Every active check held on this host when it was written; checks that did\n")
	b.WriteString("# not hold are commented out with the reason. Review, delete what is\n")
	b.WriteString("# incidental, and tighten what matters (severity, descriptions).\n")
	for _, p := range proposers {
		var in []Settled
		for _, s := range settled {
			if s.Area == p.area {
				in = append(in, s)
			}
		}
		if len(in) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n# ---- %s: %s\n", p.area, p.summary)
		for _, s := range in {
			b.WriteString("\n")
			if s.Comment != "" {
				for _, l := range strings.Split(s.Comment, "\n") {
					b.WriteString("# " + l + "\n")
				}
			}
			if s.Chosen < 0 {
				b.WriteString("# Not true on this host now, so left out: " + oneLine(s.Reason) + "\n")
				writeBlock(&b, s.Candidate, 0, "# ")
				continue
			}
			writeBlock(&b, s.Candidate, s.Chosen, "")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:297] + "..."
	}
	return s
}

func writeBlock(b *strings.Builder, c Candidate, alt int, prefix string) {
	attrs := c.Alternatives[alt]
	width := 0
	for _, a := range attrs {
		width = max(width, len(a.Name))
	}
	fmt.Fprintf(b, "%s%s %s {\n", prefix, c.Kind, Str(c.Name))
	for _, a := range attrs {
		fmt.Fprintf(b, "%s  %-*s = %s\n", prefix, width, a.Name, a.Expr)
	}
	b.WriteString(prefix + "}\n")
}

var unsafeLabel = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// Label makes a valid, readable check name from parts.
func Label(parts ...string) string {
	s := unsafeLabel.ReplaceAllString(strings.Join(parts, "-"), "-")
	s = strings.Trim(s, "-.")
	if s == "" {
		s = "check"
	}
	return s
}

// uniqueNames gives repeated (kind, name) pairs a numeric suffix.
func uniqueNames(cands []Candidate) []Candidate {
	seen := map[string]int{}
	for i := range cands {
		k := cands[i].Kind + "." + cands[i].Name
		seen[k]++
		if n := seen[k]; n > 1 {
			cands[i].Name += "-" + strconv.Itoa(n)
		}
	}
	return cands
}

func proposeListeners(s *snapshot.Snapshot) []Candidate {
	if s.Listeners == nil {
		return nil
	}
	socks := slices.Clone(s.Listeners.Sockets)
	sort.SliceStable(socks, func(i, j int) bool {
		if socks[i].Protocol != socks[j].Protocol {
			return socks[i].Protocol < socks[j].Protocol
		}
		return socks[i].Port < socks[j].Port
	})
	var out []Candidate
	seen := map[string]bool{}
	for _, so := range socks {
		if so.Port >= snapshot.EphemeralLow && so.Port <= snapshot.EphemeralHigh {
			continue // a new port every restart: not worth a check
		}
		key := so.Protocol + " " + so.Address.String() + " " + strconv.Itoa(int(so.Port))
		if seen[key] {
			continue
		}
		seen[key] = true
		attrs := []Attr{
			{"protocol", Str(so.Protocol)},
			{"port", Int(int(so.Port))},
			{"address", Str(so.Address.String())},
		}
		comment := fmt.Sprintf("%s on %s port %d (owner not seen: run as root to name it)", so.Protocol, so.Address, so.Port)
		name := Label(so.Protocol, strconv.Itoa(int(so.Port)))
		if p := so.Process; p != nil && p.Name != "" {
			attrs = append(attrs, Attr{"process", Str(p.Name)})
			name = Label(so.Protocol, strconv.Itoa(int(so.Port)), p.Name)
			comment = fmt.Sprintf("%s on %s port %d: %s", so.Protocol, so.Address, so.Port, p.Name)
			if p.Unit != "" {
				comment += " (" + p.Unit + ")"
			}
		}
		out = append(out, Candidate{Area: snapshot.AreaListeners, Kind: "listener", Name: name, Comment: comment, Alternatives: [][]Attr{attrs}})
	}
	return uniqueNames(out)
}

func proposeFirewall(s *snapshot.Snapshot) []Candidate {
	if s.Firewall == nil {
		return nil
	}
	verdicts := func(base []Attr) [][]Attr {
		return [][]Attr{
			append(slices.Clone(base), Attr{"expect", Str("allow")}),
			append(slices.Clone(base), Attr{"expect", Str("deny")}),
		}
	}
	var out []Candidate
	seen := map[string]bool{}
	if s.Listeners != nil {
		for _, so := range s.Listeners.Sockets {
			if so.Address.IsLoopback() || (so.Port >= snapshot.EphemeralLow && so.Port <= snapshot.EphemeralHigh) {
				continue
			}
			key := so.Protocol + "/" + strconv.Itoa(int(so.Port))
			if seen["in "+key] {
				continue
			}
			seen["in "+key] = true
			out = append(out, Candidate{
				Area: snapshot.AreaFirewall, Kind: "ingress", Name: Label(so.Protocol, strconv.Itoa(int(so.Port))),
				Comment:      fmt.Sprintf("Something listens on %s port %d: may the world reach it?", so.Protocol, so.Port),
				Alternatives: verdicts([]Attr{{"protocol", Str(so.Protocol)}, {"port", Int(int(so.Port))}}),
			})
		}
	}
	// Egress: the TCP ports the ruleset names and the common ones (mail,
	// web, ssh), and the UDP ports nearly every host needs (DNS, NTP).
	n := 0
	for _, pp := range netfilter.MentionedPorts(s.Firewall) {
		if (pp.Protocol == "udp") != (pp.Port == 53 || pp.Port == 123) && pp.Port != 53 {
			continue // udp only for DNS and NTP; tcp for everything but NTP
		}
		if n++; n > 64 {
			break // a huge ruleset does not make a huge policy
		}
		out = append(out, Candidate{
			Area: snapshot.AreaFirewall, Kind: "egress", Name: Label(pp.Protocol, strconv.Itoa(int(pp.Port))),
			Comment:      fmt.Sprintf("May the host open %s to the internet?", pp),
			Alternatives: verdicts([]Attr{{"protocol", Str(pp.Protocol)}, {"port", Int(int(pp.Port))}}),
		})
	}
	return out
}

func proposeDNS(s *snapshot.Snapshot) []Candidate {
	var out []Candidate
	if strings.Contains(s.Host.FQDN, ".") {
		out = append(out, Candidate{
			Area: snapshot.AreaDNS, Kind: "dns", Name: "fqdn",
			Comment: fmt.Sprintf("%s resolves, through the system resolvers, to this host's addresses.", s.Host.FQDN),
			Alternatives: [][]Attr{{
				{"name", "host.fqdn"},
				{"type", `["A", "AAAA"]`},
				{"expect", "host.addresses"},
				{"match", Str("all")},
			}},
		})
	}
	out = append(out, Candidate{
		Area: snapshot.AreaDNS, Kind: "hosts_entry", Name: "own-name",
		Comment: "/etc/hosts does not pin the host's own names to an address it no longer holds.",
		Alternatives: [][]Attr{{
			{"name", "[host.hostname, host.fqdn]"},
			{"expect", "host.addresses"},
			{"allow_loopback", "true"},
		}},
	})
	return append(out, proposePTR(s)...)
}

func proposeDocker(s *snapshot.Snapshot) []Candidate {
	if s.Docker == nil || s.Docker.Engine == nil {
		return nil
	}
	var out []Candidate
	for _, n := range s.Docker.Networks {
		attrs := []Attr{{"name", Str(n.Name)}, {"driver", Str(n.Driver)}}
		if len(n.Subnets) == 1 {
			attrs = append(attrs, Attr{"subnet", Str(n.Subnets[0].Subnet.String())})
		}
		attrs = append(attrs, Attr{"internal", strconv.FormatBool(n.Internal)})
		out = append(out, Candidate{Area: snapshot.AreaDocker, Kind: "docker_network", Name: Label("net", n.Name),
			Comment: fmt.Sprintf("Docker network %s (%s).", n.Name, n.Driver), Alternatives: [][]Attr{attrs}})
	}
	for _, c := range s.Docker.Containers {
		seen := map[string]bool{}
		for _, p := range c.Ports {
			key := fmt.Sprintf("%s/%d", p.Protocol, p.HostPort)
			if seen[key] {
				continue // the same port on 0.0.0.0 and ::
			}
			seen[key] = true
			attrs := []Attr{{"container", Str(c.Name)}, {"port", Int(int(p.HostPort))}, {"protocol", Str(p.Protocol)}}
			if !p.HostIP.IsUnspecified() {
				attrs = append(attrs, Attr{"address", Str(p.HostIP.String())})
			}
			out = append(out, Candidate{Area: snapshot.AreaDocker, Kind: "published_port", Name: Label(c.Name, p.Protocol, strconv.Itoa(int(p.HostPort))),
				Comment: fmt.Sprintf("Container %s publishes %s.", c.Name, p), Alternatives: [][]Attr{attrs}})
		}
	}
	return uniqueNames(out)
}

func proposeCron(s *snapshot.Snapshot) []Candidate {
	if s.Jobs == nil || s.Jobs.Cron == nil {
		return nil
	}
	var out []Candidate
	seen := map[string]bool{}
	for _, j := range s.Jobs.Cron.Jobs {
		key := j.File + "\x00" + j.Command
		// A job that does nothing here (it leaves its work to a systemd
		// timer) is not one to watch.
		if seen[key] || len(out) >= maxJobs || j.Inert != "" {
			continue
		}
		seen[key] = true
		base := filepath.Base(j.File)
		name := base
		if len(j.Programs) > 0 {
			name = Label(base, filepath.Base(j.Programs[0].Word))
		} else if words := strings.Fields(j.Command); len(words) > 0 {
			name = Label(base, filepath.Base(words[0]))
		}
		attrs := []Attr{{"file", Str(j.File)}, {"command", Str(j.Command)}}
		if j.User != "" {
			attrs = append(attrs, Attr{"user", Str(j.User)})
		}
		out = append(out, Candidate{Area: snapshot.AreaCron, Kind: "cron", Name: Label(name),
			Comment: fmt.Sprintf("%s:%d, %s as %s.", j.File, j.Line, j.Schedule, j.User),
			// Everything a cron check requires by default, else the parts that
			// hold (a host without a cron daemon, or without an MTA, says so
			// in the commented part).
			Alternatives: [][]Attr{
				attrs,
				append(slices.Clone(attrs), Attr{"require", `["program", "output"]`}),
				append(slices.Clone(attrs), Attr{"require", `["program"]`}),
			},
			Weakening: true})
	}
	return uniqueNames(out)
}

func proposeTimers(s *snapshot.Snapshot) []Candidate {
	if s.Jobs == nil || s.Jobs.Timers == nil {
		return nil
	}
	var out []Candidate
	for _, t := range s.Jobs.Timers.Timers {
		if len(out) >= maxJobs {
			break
		}
		if t.Enabled == "masked" || t.Enabled == "disabled" {
			continue
		}
		out = append(out, Candidate{Area: snapshot.AreaTimers, Kind: "timer", Name: Label(strings.TrimSuffix(t.Unit, ".timer")),
			Comment: fmt.Sprintf("%s (%s), runs %s.", t.Unit, t.File, t.Service),
			// Without a running systemd the last result is unknown: then
			// only what the unit files show is required.
			Alternatives: [][]Attr{
				{{"unit", Str(t.Unit)}},
				{{"unit", Str(t.Unit)}, {"require", `["program", "triggered"]`}},
				{{"unit", Str(t.Unit)}, {"require", `["program"]`}},
			},
			Weakening: true})
	}
	return uniqueNames(out)
}

func proposeServices(s *snapshot.Snapshot) []Candidate {
	if s.Services == nil {
		return nil
	}
	var out []Candidate
	for _, u := range s.Services.Units {
		if len(out) >= maxJobs {
			break
		}
		if !strings.HasSuffix(u.Name, ".service") || u.FileState != "enabled" {
			continue
		}
		unit := Str(strings.TrimSuffix(u.Name, ".service"))
		out = append(out, Candidate{Area: snapshot.AreaServices, Kind: "service", Name: Label(strings.TrimSuffix(u.Name, ".service")),
			Comment: fmt.Sprintf("%s (%s), enabled.", u.Name, u.File),
			// Without a running systemd whether it runs is unknown: then
			// only that it stays enabled is required.
			Alternatives: [][]Attr{
				{{"unit", unit}, {"active", "true"}, {"enabled", "true"}},
				{{"unit", unit}, {"enabled", "true"}},
			},
			Weakening: true})
	}
	return uniqueNames(out)
}

func proposeSysctl(s *snapshot.Snapshot) []Candidate {
	if s.Sysctl == nil {
		return nil
	}
	var out []Candidate
	for _, p := range s.Sysctl.Params {
		if !strings.HasPrefix(p.Source, "/etc/") || p.Configured == "" {
			continue
		}
		out = append(out, Candidate{Area: snapshot.AreaSysctl, Kind: "kernel_param", Name: Label(p.Key),
			Comment: fmt.Sprintf("set by %s.", p.Source),
			Alternatives: [][]Attr{
				{{"key", Str(p.Key)}, {"value", Str(p.Configured)}, {"persistent", "true"}},
			}})
	}
	return uniqueNames(out)
}
