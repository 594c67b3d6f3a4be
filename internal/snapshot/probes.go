package snapshot

import (
	"net/netip"
	"time"
)

// Probes is what the probes collector saw when it connected to endpoints:
// the probes the policy declared and, when asked, one per TCP listener.
type Probes struct {
	// Results answer the declared probes, one per distinct target, in the
	// order the policy declares them.
	Results []ProbeResult `json:"results"`
	// Listeners answer the listener probes: one per TCP listening endpoint
	// found when the collector ran; null when the policy asked for none.
	Listeners []ProbeResult `json:"listeners"`
	// ListenersError says why the listeners to probe could not be read.
	ListenersError string `json:"listeners_error,omitempty"`
	// ListenersTLSOnly says Listeners holds only the listeners on the TLS
	// ports: the policy asked for certificates, not for a connect to every
	// listener (ListenerProbes.Every).
	ListenersTLSOnly bool `json:"listeners_tls_only,omitempty"`
}

// ProbeWants is what the policy asks the probes collector to try.
type ProbeWants struct {
	// Targets are the declared probes; identical targets are probed once.
	Targets []ProbeTarget
	// Listeners, when set, asks for a connect to every TCP listener.
	Listeners *ListenerProbes
}

// ListenerProbes asks for a TLS handshake with every TCP listener on a
// loopback or public address on the ports in TLSPorts and, when Every is
// set, a connect to every other such listener too.
type ListenerProbes struct {
	Timeout  time.Duration
	TLSPorts []uint16
	// Every is set by listeners_respond: without it, listeners on other
	// ports than TLSPorts are not touched.
	Every bool
}

// ProbeTarget is one declared probe: exactly one of URL (an HTTP or HTTPS
// request) and TCP (a connect to host:port) is set.
type ProbeTarget struct {
	URL string `json:"url,omitempty"`
	TCP string `json:"tcp,omitempty"`
	// ServerName is the TLS server name (SNI), the name the certificate is
	// verified for and, for URLs, the Host header.
	ServerName string `json:"server_name,omitempty"`
	// TLS asks for a TLS handshake after a TCP connect.
	TLS bool `json:"tls,omitempty"`
	// Banner asks to read the first line the server sends after a TCP connect.
	Banner bool `json:"banner,omitempty"`
	// FollowRedirects lets an HTTP probe follow up to 5 redirects.
	FollowRedirects bool `json:"follow_redirects,omitempty"`
	// Method is the HTTP method; empty means GET.
	Method string `json:"method,omitempty"`
	// Headers are extra request headers, "Name: value" lines joined by
	// newlines; a Host header sets the request's host (and the TLS server
	// name when ServerName is empty).
	Headers string `json:"headers,omitempty"`
	// BodyPattern and HeaderPattern are regular expressions matched
	// against the response's body lines (its first MaxProbeBody bytes) and
	// its "Name: value" header lines.
	BodyPattern   string `json:"body_pattern,omitempty"`
	HeaderPattern string `json:"header_pattern,omitempty"`
	TimeoutMS     int    `json:"timeout_ms"`
}

// Probe failure kinds: where the probe stopped and, for connects, why.
const (
	ProbeResolve     = "resolve"     // the name did not resolve
	ProbeRefused     = "refused"     // connection refused: nothing listens
	ProbeTimeout     = "timeout"     // no answer within the timeout
	ProbeUnreachable = "unreachable" // no route, network or host unreachable
	ProbeReset       = "reset"       // the peer reset or closed the connection
	ProbeTLS         = "tls"         // the TLS handshake failed
	ProbeHTTP        = "http"        // the request or response failed
	ProbeOther       = "other"
	// ProbeNotRun marks a probe that never started: the collector ran out
	// of time first.
	ProbeNotRun = "not_run"
	// ProbeNotPossible marks a listener probe that could not be made from
	// this host: no usable local address or route of the listener's family
	// (IPv6 disabled, say). Error says why; it is no evidence about the
	// listener.
	ProbeNotPossible = "not_possible"
)

// ProbeResult is the outcome of one probe.
type ProbeResult struct {
	Target ProbeTarget `json:"target"`
	// Socket is the listener a listener probe was derived from.
	Socket *Socket `json:"socket,omitempty"`
	// Addr is the address:port connected to (or tried last).
	Addr string `json:"addr,omitempty"`
	// Resolved lists the addresses the target's host resolved to.
	Resolved []netip.Addr `json:"resolved,omitempty"`
	// Host is the host the probe was reaching when it ended, when a
	// followed redirect led it away from the target's host; Addr and
	// Resolved are then that host's.
	Host string `json:"host,omitempty"`
	// Fallback says why a listener probe connected to another address
	// than its target's: a dual-stack socket probed over IPv4 because
	// IPv6 is unusable here.
	Fallback string `json:"fallback,omitempty"`
	// Connected is set once the TCP connection was established.
	Connected bool `json:"connected"`
	// Failure is empty when the probe completed, else one of the Probe*
	// kinds, and Error the error as the system reported it.
	Failure    string  `json:"failure,omitempty"`
	Error      string  `json:"error,omitempty"`
	ConnectMS  float64 `json:"connect_ms,omitempty"`
	DurationMS float64 `json:"duration_ms"`
	// BannerLine is the first line the server sent (at most 512 bytes).
	BannerLine string      `json:"banner_line,omitempty"`
	TLS        *TLSState   `json:"tls,omitempty"`
	HTTP       *HTTPResult `json:"http,omitempty"`
}

// TLSState is what a TLS handshake showed.
type TLSState struct {
	Version string `json:"version"`
	// Chain is the certificates the server sent, leaf first.
	Chain []Certificate `json:"chain"`
	// VerifyError says why the chain does not verify against the host's
	// trust roots for the server name; NameError why the leaf does not name
	// it. Both are empty for a valid certificate.
	VerifyError string `json:"verify_error,omitempty"`
	NameError   string `json:"name_error,omitempty"`
}

// Certificate is one certificate of a chain.
type Certificate struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	DNSNames  []string  `json:"dns_names,omitempty"`
	IPs       []string  `json:"ips,omitempty"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
}

// HTTPResult is the response to an HTTP probe.
type HTTPResult struct {
	// Status is the final response's status code.
	Status int `json:"status"`
	// Location is the final response's Location header (a redirect's target).
	Location string `json:"location,omitempty"`
	// LocationHost is what the Location's host name resolved to from this
	// host, through the system resolver, when it names a host.
	LocationHost *Resolution `json:"location_host,omitempty"`
	// Hops are the redirects followed, in order.
	Hops []HTTPHop `json:"hops,omitempty"`
	// FirstByteMS is the time to the final response's first byte.
	FirstByteMS float64 `json:"first_byte_ms"`
	// BodyMatch and HeaderMatch answer the target's patterns. Only where
	// they matched is recorded, never the content.
	BodyMatch   *PatternMatch `json:"body_match,omitempty"`
	HeaderMatch *PatternMatch `json:"header_match,omitempty"`
}

// MaxProbeBody bounds how much of a response body is read for a pattern.
const MaxProbeBody = 1 << 20

// PatternMatch records whether a pattern matched a response, and where:
// the first matching body line's number, or the matching header's name.
type PatternMatch struct {
	Matched bool   `json:"matched"`
	Line    int    `json:"line,omitempty"`
	Header  string `json:"header,omitempty"`
	// Truncated is set when the body was longer than MaxProbeBody and only
	// its start was searched.
	Truncated bool `json:"truncated,omitempty"`
	// Error says why the pattern could not be matched (reading the body
	// failed).
	Error string `json:"error,omitempty"`
}

// HTTPHop is one redirect that was followed.
type HTTPHop struct {
	URL      string `json:"url"`
	Status   int    `json:"status"`
	Location string `json:"location"`
}

// Resolution is what the system resolver answered for a name.
type Resolution struct {
	Name  string       `json:"name"`
	Addrs []netip.Addr `json:"addrs,omitempty"`
	// NotFound is set when the resolver said the name does not exist.
	NotFound bool   `json:"not_found,omitempty"`
	Error    string `json:"error,omitempty"`
}

// Result returns the result of a declared probe, if it was probed.
func (p *Probes) Result(t ProbeTarget) (*ProbeResult, bool) {
	for i := range p.Results {
		if p.Results[i].Target == t {
			return &p.Results[i], true
		}
	}
	return nil, false
}

// Attach puts the probe results into the snapshot.
func (p *Probes) Attach(s *Snapshot) { s.Probes = p }
