// Package remote runs hostdrift on another host through the system's ssh
// client, copying the running binary there only for the run.
package remote

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Target is one host to audit, as written on the command line:
// [user@]host[:port], with an IPv6 address in brackets ([2001:db8::1]:22).
// Unset parts come from ssh's own configuration (~/.ssh/config).
type Target struct {
	User string
	Host string
	Port int // 0: ssh's configured or default port
}

// ParseTarget reads [user@]host[:port].
func ParseTarget(s string) (Target, error) {
	var t Target
	rest := s
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		t.User, rest = rest[:i], rest[i+1:]
		if t.User == "" {
			return t, fmt.Errorf("--ssh %q: the user before @ is empty; write host or user@host", s)
		}
	}
	host, port := rest, ""
	switch {
	case strings.HasPrefix(rest, "["):
		end := strings.Index(rest, "]")
		if end < 0 {
			return t, fmt.Errorf("--ssh %q: an IPv6 address in brackets needs its closing ]", s)
		}
		host = rest[1:end]
		after := rest[end+1:]
		if after != "" {
			if !strings.HasPrefix(after, ":") {
				return t, fmt.Errorf("--ssh %q: after ] only :port may follow", s)
			}
			port = after[1:]
		}
	case strings.Count(rest, ":") == 1:
		host, port, _ = strings.Cut(rest, ":")
	case strings.Count(rest, ":") > 1:
		if net.ParseIP(rest) == nil {
			return t, fmt.Errorf("--ssh %q: write an IPv6 address with a port as [address]:port", s)
		}
	}
	if host == "" {
		return t, fmt.Errorf("--ssh %q: no host; write [user@]host[:port]", s)
	}
	if strings.HasPrefix(host, "-") || strings.ContainsAny(host, " \t\n'\"\\/") || strings.ContainsAny(t.User, " \t\n'\"\\/:") {
		return t, fmt.Errorf("--ssh %q: not a host name or address", s)
	}
	t.Host = host
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return t, fmt.Errorf("--ssh %q: the port must be a number from 1 to 65535, not %q", s, port)
		}
		t.Port = n
	}
	return t, nil
}

// String writes the target back as [user@]host[:port].
func (t Target) String() string {
	s := t.Host
	if strings.Contains(s, ":") && t.Port != 0 {
		s = "[" + s + "]"
	}
	if t.User != "" {
		s = t.User + "@" + s
	}
	if t.Port != 0 {
		s += ":" + strconv.Itoa(t.Port)
	}
	return s
}

// Quote quotes s for a POSIX shell: it is read back as exactly s.
func Quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// QuoteAll quotes each word and joins them with spaces.
func QuoteAll(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = Quote(w)
	}
	return strings.Join(q, " ")
}
