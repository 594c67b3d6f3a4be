package dns

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func TestParseResolvConf(t *testing.T) {
	cases := []struct {
		name, text string
		servers    []string
		timeout    time.Duration
		attempts   int
	}{
		{"empty", "", nil, 2 * time.Second, 2},
		{"servers and comments", "# generated\nsearch example.com\nnameserver 192.0.2.53 # primary\nnameserver 2001:db8::53\n; old\nnameserver bogus\n",
			[]string{"192.0.2.53", "2001:db8::53"}, 2 * time.Second, 2},
		{"at most three", "nameserver 10.0.0.1\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nnameserver 10.0.0.4\n",
			[]string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}, 2 * time.Second, 2},
		{"options honoured", "nameserver 127.0.0.53\noptions edns0 timeout:1 attempts:3\n", []string{"127.0.0.53"}, time.Second, 3},
		{"options clamped", "options timeout:30 attempts:5\n", nil, 5 * time.Second, 3},
		{"options clamped low, last wins", "options timeout:4\noptions timeout:0 attempts:0\n", nil, time.Second, 1},
		{"link-local with zone", "nameserver fe80::1%eth0\n", []string{"fe80::1%eth0"}, 2 * time.Second, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc, err := parseResolvConf(strings.NewReader(c.text))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range rc.nameservers {
				got = append(got, a.String())
			}
			if !reflect.DeepEqual(got, c.servers) || rc.timeout != c.timeout || rc.attempts != c.attempts {
				t.Errorf("got %v %s %d, want %v %s %d", got, rc.timeout, rc.attempts, c.servers, c.timeout, c.attempts)
			}
		})
	}
}

func TestParseHosts(t *testing.T) {
	text := "127.0.0.1\tlocalhost\n127.0.1.1 web1.example.com web1 # debian\n\n# 10.0.0.9 commented.example.com\nnot-an-ip name\n10.0.0.5 app.example.com\n::ffff:10.0.0.6 mapped\n10.0.0.7\n"
	got, err := parseHosts(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want := []snapshot.HostsEntry{
		{Line: 1, IP: netip.MustParseAddr("127.0.0.1"), Names: []string{"localhost"}},
		{Line: 2, IP: netip.MustParseAddr("127.0.1.1"), Names: []string{"web1.example.com", "web1"}},
		{Line: 6, IP: netip.MustParseAddr("10.0.0.5"), Names: []string{"app.example.com"}},
		{Line: 7, IP: netip.MustParseAddr("10.0.0.6"), Names: []string{"mapped"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}
