package rules

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/netfilter"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	Register(&Kind{
		Name:    "probe",
		Summary: "an HTTP(S) request or a TCP connect made from this host gets the expected answer: status, no redirect, banner, certificate",
		Attributes: []hcl.AttributeSchema{
			{Name: "url"},
			{Name: "tcp"},
			{Name: "status"},
			{Name: "follow_redirects"},
			{Name: "server_name"},
			{Name: "cert_min_days"},
			{Name: "verify"},
			{Name: "tls"},
			{Name: "banner"},
			{Name: "timeout"},
			{Name: "method"},
			{Name: "headers"},
			{Name: "body"},
			{Name: "header"},
		},
		AttributeDocs: map[string]string{
			"url":              "an http:// or https:// URL to GET (or tcp, not both)",
			"tcp":              "a host:port to connect to (or url, not both)",
			"status":           "the HTTP status the URL must answer (default: any 2xx)",
			"follow_redirects": "true: follow redirects, and judge the final answer; default false (a redirect fails unless status asks for it)",
			"server_name":      "the TLS server name (SNI) to send and verify (default: the URL's host)",
			"cert_min_days":    "how many more days the certificate must stay valid (TLS probes)",
			"verify":           "whether the certificate must verify against the system's CAs (default true; TLS probes)",
			"tls":              "true: the tcp probe does a TLS handshake",
			"banner":           "a regular expression the tcp probe's first line must match (\"^220 \")",
			"timeout":          "how long the probe may take (default \"3s\")",
			"method":           "the HTTP method (default \"GET\"; HEAD, POST, PUT, DELETE, OPTIONS, PATCH)",
			"headers":          "request headers, one or a list of \"Name: value\"; \"Host: www.example.com\" asks the local server for a public name (and sends it as the TLS server name unless server_name says otherwise)",
			"body":             "a regular expression some line of the response body must match (its first 1 MB); only the line number is recorded",
			"header":           "a regular expression some response header, as \"Name: value\", must match; only the header's name is recorded",
		},
		Needs:  []string{snapshot.CollectorProbes},
		Decode: decodeProbe,
	})
}

// maxProbeTimeout keeps one probe well inside the collector's deadline.
const maxProbeTimeout = 30 * time.Second

// probeCheck: one request or connect, and what its answer must be.
type probeCheck struct {
	target   snapshot.ProbeTarget
	what     string // "GET http://..." or "tcp host:port"
	host     string // the target's host (name or address)
	port     uint16
	status   int // 0: any 2xx
	isTLS    bool
	verify   bool
	minDays  int
	banner   *regexp.Regexp
	bannerRe string
}

func decodeProbe(d *Decoder) Check {
	c := &probeCheck{verify: true}
	rawURL, tcp := d.String("url", ""), d.String("tcp", "")
	switch {
	case d.Has("url") == d.Has("tcp"):
		d.Errorf("url", "One of url and tcp", "A probe is either an HTTP request (url = \"http://127.0.0.1/ping\") or a TCP connect (tcp = \"host:port\"): set exactly one.")
		return c
	case d.Has("url"):
		c.target.URL = rawURL
		c.decodeURL(d, rawURL)
		c.decodeHTTP(d)
		c.what = c.requestText()
	default:
		c.target.TCP = tcp
		c.what = "tcp " + tcp
		c.decodeTCP(d, tcp)
	}
	timeout := d.Duration("timeout", 3*time.Second)
	if timeout <= 0 || timeout > maxProbeTimeout {
		d.Errorf("timeout", "Invalid timeout", "timeout must be above 0 and at most %s.", maxProbeTimeout)
	}
	c.target.TimeoutMS = int(timeout / time.Millisecond)
	c.target.ServerName = d.String("server_name", "")
	c.minDays = d.Int("cert_min_days", 0, 0, 3650)
	c.verify = d.Bool("verify", true)
	for _, a := range []string{"server_name", "cert_min_days", "verify"} {
		if d.Has(a) && !c.isTLS && d.Known("url") && d.Known("tls") {
			d.Errorf(a, "Not a TLS probe", "%s applies to https URLs and to tcp probes with tls = true.", a)
		}
	}
	return c
}

func (c *probeCheck) decodeURL(d *Decoder, raw string) {
	for _, a := range []string{"tls", "banner"} {
		if d.Has(a) {
			d.Errorf(a, "Not an HTTP attribute", "%s applies to tcp probes only.", a)
		}
	}
	c.status = d.Int("status", 0, 100, 599)
	c.target.FollowRedirects = d.Bool("follow_redirects", false)
	if !d.Known("url") {
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		d.Errorf("url", "Invalid URL", "%q is not an http:// or https:// URL with a host.", raw)
		return
	}
	c.isTLS = u.Scheme == "https"
	c.host = u.Hostname()
	port := u.Port()
	if port == "" {
		port = map[bool]string{true: "443", false: "80"}[c.isTLS]
	}
	p, _ := strconv.Atoi(port)
	c.port = uint16(p)
}

func (c *probeCheck) decodeTCP(d *Decoder, hostport string) {
	for _, a := range []string{"status", "follow_redirects", "method", "headers", "body", "header"} {
		if d.Has(a) {
			d.Errorf(a, "Not a TCP attribute", "%s applies to url probes only.", a)
		}
	}
	c.isTLS = d.Bool("tls", false)
	c.target.TLS = c.isTLS
	if re := d.String("banner", ""); re != "" {
		rx, err := regexp.Compile(re)
		if err != nil {
			d.Errorf("banner", "Invalid banner pattern", "%q is not a regular expression: %s.", re, err)
		} else {
			c.banner, c.bannerRe, c.target.Banner = rx, re, true
		}
	}
	if !d.Known("tcp") {
		return
	}
	host, port, ok := splitHostPort(hostport)
	p, err := strconv.Atoi(port)
	if !ok || host == "" || err != nil || p < 1 || p > 65535 {
		d.Errorf("tcp", "Invalid endpoint", "%q is not host:port (write an IPv6 address as [2001:db8::1]:587).", hostport)
		return
	}
	c.host, c.port = host, uint16(p)
}

// splitHostPort splits "host:port" and "[v6]:port".
func splitHostPort(s string) (host, port string, ok bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", "", false
	}
	host, port = s[:i], s[i+1:]
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	} else if strings.Contains(host, ":") {
		return "", "", false
	}
	return host, port, true
}

// Want asks the probes collector for this probe.
func (c *probeCheck) Want(w *snapshot.Wants) {
	w.Probes.Targets = append(w.Probes.Targets, c.target)
}

func (c *probeCheck) expected() string {
	var parts []string
	switch {
	case c.target.URL != "" && c.status != 0:
		parts = append(parts, fmt.Sprintf("%s answers %d", c.what, c.status))
	case c.target.URL != "":
		parts = append(parts, c.what+" answers 2xx")
	case c.banner != nil:
		parts = append(parts, fmt.Sprintf("%s accepts, banner matches %q", c.what, c.bannerRe))
	default:
		parts = append(parts, c.what+" accepts")
	}
	if c.target.URL != "" && !c.target.FollowRedirects && (c.status < 300 || c.status > 399) {
		parts = append(parts, "without a redirect")
	}
	parts = append(parts, c.expectedHTTP()...)
	if c.isTLS && c.verify {
		name := c.target.ServerName
		if name == "" {
			name = c.host
		}
		parts = append(parts, "certificate trusted and valid for "+name)
	}
	if c.isTLS && c.minDays > 0 {
		parts = append(parts, fmt.Sprintf("for at least %d more days", c.minDays))
	}
	return strings.Join(parts, ", ")
}

func (c *probeCheck) Evaluate(s *snapshot.Snapshot) Result {
	if s.Probes == nil {
		return Errorf("the probes collector recorded nothing in this snapshot")
	}
	res, ok := s.Probes.Result(c.target)
	if !ok {
		return Errorf("%s was not probed in this snapshot: it was taken with another policy; take it again with this one", c.what)
	}
	if res.Failure == snapshot.ProbeNotRun {
		return Errorf("%s did not run: %s", c.what, res.Error)
	}
	r := Result{Expected: c.expected()}
	if res.Failure != "" && res.HTTP == nil {
		r.Status = finding.Fail
		r.Observed = failureObserved(res)
		r.Explanation, r.Remediation = explainFailure(s, res, c.host, c.port)
		return r
	}
	var problems, notes []string
	var observed []string
	if h := res.HTTP; h != nil {
		observed = append(observed, fmt.Sprintf("HTTP %d in %s", h.Status, msText(h.FirstByteMS)))
		for _, hop := range h.Hops {
			notes = append(notes, fmt.Sprintf("followed %d from %s to %s", hop.Status, hop.URL, hop.Location))
		}
		isRedirect := h.Status >= 300 && h.Status <= 399
		switch {
		case c.status != 0 && h.Status == c.status:
		case c.status == 0 && h.Status >= 200 && h.Status <= 299:
		case isRedirect:
			problems = append(problems, redirectText(s, h))
			r.Remediation = "a check run from this host must not be sent elsewhere: exempt local clients from the redirect, probe the URL it redirects to, or set follow_redirects = true if the redirect is meant"
		default:
			problems = append(problems, fmt.Sprintf("answered HTTP %d, not %s", h.Status, statusWanted(c.status)))
		}
		if res.Failure != "" {
			problems = append(problems, "then failed: "+res.Error)
		}
		p, o, blind := c.judgeHTTP(h)
		if blind != "" && len(problems) == 0 {
			return Errorf("%s", blind)
		}
		problems, observed = append(problems, p...), append(observed, o...)
	}
	if c.isTLS {
		p, o := c.judgeTLS(s, res)
		problems = append(problems, p...)
		observed = append(observed, o...)
	}
	if c.target.TCP != "" {
		observed = append([]string{fmt.Sprintf("connected to %s in %s", res.Addr, msText(res.ConnectMS))}, observed...)
	}
	if c.banner != nil {
		observed = append(observed, fmt.Sprintf("banner %q", res.BannerLine))
		if !c.banner.MatchString(res.BannerLine) {
			problems = append(problems, fmt.Sprintf("the banner %q does not match %q", res.BannerLine, c.bannerRe))
			r.Remediation = "check which service answers on this port and its greeting"
		}
	}
	r.Observed = strings.Join(observed, "; ")
	if len(problems) > 0 {
		r.Status = finding.Fail
		r.Explanation = strings.Join(append(problems, notes...), "; ")
		return r
	}
	r.Status = finding.Pass
	r.Explanation = strings.Join(append([]string{r.Observed}, notes...), "; ")
	return r
}

// judgeTLS checks the certificate the probe saw.
func (c *probeCheck) judgeTLS(s *snapshot.Snapshot, res *snapshot.ProbeResult) (problems, observed []string) {
	st := res.TLS
	if st == nil || len(st.Chain) == 0 {
		return []string{"no certificate was seen"}, nil
	}
	observed = append(observed, describeChain(st, s.TakenAt))
	if c.verify && st.VerifyError != "" {
		problems = append(problems, "the certificate is not trusted by this host: "+st.VerifyError)
	}
	if c.verify && st.NameError != "" {
		problems = append(problems, "the certificate does not name the server: "+st.NameError)
	}
	if p := certTooShort(st.Chain[0], s.TakenAt, c.minDays); p != "" {
		problems = append(problems, p)
	}
	return problems, observed
}

// certTooShort says why the leaf does not stay valid minDays more days.
func certTooShort(leaf snapshot.Certificate, now time.Time, minDays int) string {
	left := leaf.NotAfter.Sub(now)
	switch {
	case left <= 0:
		return fmt.Sprintf("the certificate %s expired on %s", leaf.Subject, leaf.NotAfter.Format(time.DateOnly))
	case left < time.Duration(minDays)*24*time.Hour:
		return fmt.Sprintf("the certificate %s expires on %s, in %s: less than the %d days asked", leaf.Subject, leaf.NotAfter.Format(time.DateOnly), daysText(left), minDays)
	}
	return ""
}

// describeChain renders the chain's names and expiry, leaf first.
func describeChain(st *snapshot.TLSState, now time.Time) string {
	parts := make([]string, len(st.Chain))
	for i, c := range st.Chain {
		names := strings.Join(append(append([]string{}, c.DNSNames...), c.IPs...), ", ")
		if names == "" {
			names = "no names"
		}
		parts[i] = fmt.Sprintf("%s [%s] until %s (%s)", c.Subject, names, c.NotAfter.Format(time.DateOnly), daysText(c.NotAfter.Sub(now)))
	}
	return st.Version + " certificate " + strings.Join(parts, " <- ")
}

func daysText(d time.Duration) string {
	if d < 0 {
		return "expired"
	}
	days := int(d / (24 * time.Hour))
	if days == 1 {
		return "1 day"
	}
	if days == 0 {
		return fmt.Sprintf("%d hours", int(d/time.Hour))
	}
	return fmt.Sprintf("%d days", days)
}

func msText(v float64) string {
	return strconv.FormatFloat(v, 'f', 1, 64) + " ms"
}

func statusWanted(status int) string {
	if status == 0 {
		return "2xx"
	}
	return strconv.Itoa(status)
}

// redirectText names a redirect's target and what its host resolves to from
// this host, as the collector recorded it.
func redirectText(s *snapshot.Snapshot, h *snapshot.HTTPResult) string {
	t := fmt.Sprintf("answered HTTP %d redirecting to %s", h.Status, h.Location)
	if h.Location == "" {
		return fmt.Sprintf("answered HTTP %d without a Location", h.Status)
	}
	lh := h.LocationHost
	if lh == nil {
		return t
	}
	switch {
	case lh.NotFound:
		t += fmt.Sprintf("; %s does not resolve from this host (%s), so a client here that follows it fails", lh.Name, orText(lh.Error, "no addresses"))
	case lh.Error != "":
		t += fmt.Sprintf("; resolving %s from this host failed: %s", lh.Name, lh.Error)
	default:
		t += fmt.Sprintf("; from this host %s resolves to %s", lh.Name, addrList(lh.Addrs))
		if local := localOf(s, lh.Addrs); local != "" {
			t += " (" + local + ")"
		}
	}
	return t + dnsContext(s, lh.Name)
}

// dnsContext adds what the DNS collector saw about name, when it ran:
// /etc/hosts pins and the resolvers asked.
func dnsContext(s *snapshot.Snapshot, name string) string {
	if s.DNS == nil {
		return ""
	}
	var parts []string
	for _, e := range s.DNS.HostsFor(name) {
		parts = append(parts, fmt.Sprintf("/etc/hosts line %d pins it to %s", e.Line, e.IP))
	}
	if len(parts) == 0 {
		parts = append(parts, "/etc/hosts does not name it")
	}
	if len(s.DNS.Resolvers) > 0 {
		parts = append(parts, "resolvers: "+strings.Join(s.DNS.Resolvers, ", "))
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func addrList(as []netip.Addr) string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return strings.Join(out, ", ")
}

// localOf says which of the addresses are this host's own.
func localOf(s *snapshot.Snapshot, as []netip.Addr) string {
	for _, a := range as {
		if isLocal(s, a) {
			return a.String() + " is this host"
		}
	}
	return "not this host"
}

// isLocal reports whether a is loopback, unspecified (which the kernel
// connects to this host) or one of the host's addresses.
func isLocal(s *snapshot.Snapshot, a netip.Addr) bool {
	a = a.Unmap()
	if a.IsLoopback() || a.IsUnspecified() {
		return true
	}
	for _, ifc := range s.Host.Interfaces {
		for _, ha := range ifc.Addresses {
			if ha.IP.Unmap() == a {
				return true
			}
		}
	}
	return false
}

func failureObserved(res *snapshot.ProbeResult) string {
	switch res.Failure {
	case snapshot.ProbeRefused:
		return "connection refused by " + res.Addr
	case snapshot.ProbeTimeout:
		if res.Connected {
			return "connected to " + res.Addr + ", then no answer in time"
		}
		return "no answer from " + orText(res.Addr, "the target") + " in time"
	case snapshot.ProbeResolve:
		return "name did not resolve"
	case snapshot.ProbeTLS:
		return "TLS handshake failed"
	}
	return res.Failure + ": " + res.Error
}

// explainFailure joins a failed probe to the static picture: what listens
// (for local targets), what the firewall would do, what DNS says.
func explainFailure(s *snapshot.Snapshot, res *snapshot.ProbeResult, host string, port uint16) (explanation, remediation string) {
	addr := netip.Addr{}
	if ap, err := netip.ParseAddrPort(res.Addr); err == nil {
		addr, port = ap.Addr().Unmap(), ap.Port()
	}
	redirected := res.Host != ""
	if redirected {
		host = res.Host // a followed redirect led there
	}
	// A listener bound to the very address is on this host, whatever the
	// interface list says; and so is the evidence of a stalled one.
	stalled := stalledAt(s, addr, port)
	local := addr.IsValid() && (isLocal(s, addr) || len(stalled) > 0)
	var parts []string
	switch res.Failure {
	case snapshot.ProbeRefused:
		parts = append(parts, fmt.Sprintf("connection to %s refused", res.Addr))
		if local {
			parts = append(parts, listenersAt(s, addr, port))
			remediation = fmt.Sprintf("start the service that should listen on %s, or fix its bind address or port", res.Addr)
		} else {
			remediation = "the remote host answered with a reset: nothing listens there, or a firewall rejects the connection"
		}
		parts = append(parts, firewallSays(s, addr, port, false)...)
	case snapshot.ProbeTimeout:
		parts = append(parts, res.Error)
		if local {
			parts = append(parts, listenersAt(s, addr, port))
			parts = append(parts, firewallSays(s, addr, port, false)...)
			remediation = "a local listener that does not answer has stopped accepting (dead thread, deadlock, full queue): restart it and find out why"
			if len(stalled) > 0 {
				remediation = stalledRemediation(stalled)
			}
		} else if !res.Connected {
			fw := firewallSays(s, addr, port, true)
			parts = append(parts, fw...)
			if len(fw) == 0 {
				parts = append(parts, "packets are dropped without an answer: by a firewall here or upstream, or the host is down")
			}
			remediation = "find the hop that drops the connection (traceroute -T -p PORT) and the firewall there"
		}
	case snapshot.ProbeResolve:
		what := host
		if redirected {
			what = "the redirect's host " + host
		}
		parts = append(parts, fmt.Sprintf("%s does not resolve from this host: %s", what, res.Error)+dnsContext(s, host))
		remediation = "fix the name in DNS or /etc/hosts, or probe an address"
	case snapshot.ProbeTLS:
		parts = append(parts, fmt.Sprintf("connected to %s but the TLS handshake failed: %s", res.Addr, res.Error))
		remediation = "check that the port serves TLS, and its certificate and protocol settings"
	default:
		parts = append(parts, res.Error)
	}
	if len(res.Resolved) > 0 {
		parts = append(parts, fmt.Sprintf("%s resolved to %s", host, addrList(res.Resolved)))
	}
	return strings.Join(parts, "; "), remediation
}

// firewallSays simulates the probe's first packet through the local
// firewall, when the firewall collector ran. With upstream set, an allowed
// packet means the drop happened past this host.
func firewallSays(s *snapshot.Snapshot, addr netip.Addr, port uint16, upstream bool) []string {
	if s.Firewall == nil || !addr.IsValid() {
		return nil
	}
	if st, ok := s.Collector(snapshot.CollectorFirewall); !ok || !st.Usable() {
		return nil
	}
	if older := probesPredate(s); older != "" {
		return []string{older + ", so what the firewall did to it is not known"}
	}
	p := netfilter.Packet{Direction: netfilter.Outbound, Protocol: "tcp", Dst: addr, DstPort: port}
	res := netfilter.Simulate(s.Firewall, p)
	switch {
	case res.Verdict == netfilter.Allow && upstream:
		return []string{"the local firewall allows it (" + netfilter.Explain(res, p) + "), so the block is likely upstream"}
	case res.Verdict == netfilter.Allow:
		return []string{"the local firewall allows it"}
	default:
		return []string{netfilter.Explain(res, p)}
	}
}

// probesPredate says, when the probes were made before the firewall was
// read, that a probe's outcome met an earlier ruleset than the one in the
// snapshot, and so cannot be set against it; "" when they are of one
// moment (or their times were not recorded).
func probesPredate(s *snapshot.Snapshot) string {
	if !s.ReadBefore(snapshot.CollectorProbes, snapshot.CollectorFirewall) {
		return ""
	}
	p, _ := s.Collector(snapshot.CollectorProbes)
	f, _ := s.Collector(snapshot.CollectorFirewall)
	const at = "15:04:05.000 UTC"
	return fmt.Sprintf("the probe ran at %s, before the firewall was read again at %s: it went through an earlier ruleset",
		p.StartedAt.UTC().Format(at), f.StartedAt.UTC().Format(at))
}
