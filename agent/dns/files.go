package dns

import (
	"bufio"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// Query bounds: what one query waits and how many rounds are made over the
// servers, unless resolv.conf says otherwise within the clamps below.
const (
	defaultTimeout  = 2 * time.Second
	defaultAttempts = 2
	maxTimeout      = 5 * time.Second
	maxAttempts     = 3
	// maxNameservers is glibc's MAXNS: later nameserver lines are ignored.
	maxNameservers = 3
)

// resolvConf is what resolv.conf says about where and how to ask.
type resolvConf struct {
	// nameservers are the resolvers' addresses, in order, without a port.
	nameservers []netip.Addr
	timeout     time.Duration
	attempts    int
}

// parseResolvConf reads resolv.conf the way glibc does: up to three
// nameserver lines (invalid ones are ignored) and the timeout: and attempts:
// options, the last one winning. The timeout is clamped to 1-5 s and the
// attempts to 1-3, so a name can never hold the collector past its deadline;
// without options, a query waits 2 s and is tried twice.
func parseResolvConf(r io.Reader) (resolvConf, error) {
	rc := resolvConf{timeout: defaultTimeout, attempts: defaultAttempts}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			a, err := netip.ParseAddr(f[1])
			if err != nil || len(rc.nameservers) == maxNameservers {
				continue
			}
			rc.nameservers = append(rc.nameservers, a)
		case "options":
			for _, o := range f[1:] {
				key, val, _ := strings.Cut(o, ":")
				n, err := strconv.Atoi(val)
				if err != nil {
					continue
				}
				switch key {
				case "timeout":
					// Clamp the seconds before converting: a huge value
					// would overflow the Duration and wrap to 1 s.
					rc.timeout = time.Duration(min(max(n, 1), int(maxTimeout/time.Second))) * time.Second
				case "attempts":
					rc.attempts = min(max(n, 1), maxAttempts)
				}
			}
		}
	}
	return rc, sc.Err()
}

// parseHosts reads a hosts file: an address and its names on each line,
// comments after '#'. Lines whose address does not parse are ignored, as the
// C library does.
func parseHosts(r io.Reader) ([]snapshot.HostsEntry, error) {
	out := []snapshot.HostsEntry{}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		ip, err := netip.ParseAddr(f[0])
		if err != nil {
			continue
		}
		out = append(out, snapshot.HostsEntry{Line: n, IP: ip.Unmap(), Names: f[1:]})
	}
	return out, sc.Err()
}
