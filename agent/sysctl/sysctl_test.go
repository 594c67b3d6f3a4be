package sysctl

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/hostfs"
	"github.com/hostdrift/hostdrift/internal/testkit/fixture"
)

func TestParseConf(t *testing.T) {
	as, errs := ParseConf(strings.NewReader(`# comment
; also a comment
net.ipv4.ip_forward = 1
-net.core.default_qdisc=fq
net/ipv4/conf/eth0.100/rp_filter = 2
net.ipv4.ip_local_port_range =   32768	60999
net.ipv4.conf.*.rp_filter = 2
!net.ipv4.conf.lo.rp_filter
not a line
 = 3
`), "/etc/sysctl.d/x.conf")
	want := []Assignment{
		{Key: "net.ipv4.ip_forward", Value: "1", Line: "/etc/sysctl.d/x.conf:3"},
		{Key: "net.core.default_qdisc", Value: "fq", Line: "/etc/sysctl.d/x.conf:4", IgnoreErrors: true},
		{Key: "net.ipv4.conf.eth0/100.rp_filter", Value: "2", Line: "/etc/sysctl.d/x.conf:5"},
		{Key: "net.ipv4.ip_local_port_range", Value: "32768 60999", Line: "/etc/sysctl.d/x.conf:6"},
		{Key: "net.ipv4.conf.*.rp_filter", Value: "2", Line: "/etc/sysctl.d/x.conf:7"},
		{Key: "net.ipv4.conf.lo.rp_filter", Line: "/etc/sysctl.d/x.conf:8", Exclude: true},
	}
	if !reflect.DeepEqual(as, want) {
		t.Errorf("got\n%+v\nwant\n%+v", as, want)
	}
	if len(errs) != 2 || !strings.Contains(errs[0], "x.conf:9") || !strings.Contains(errs[1], "x.conf:10") {
		t.Errorf("errors %q", errs)
	}
	if Path("net.ipv4.conf.eth0/100.rp_filter") != "/proc/sys/net/ipv4/conf/eth0.100/rp_filter" {
		t.Error(Path("net.ipv4.conf.eth0/100.rp_filter"))
	}
}

// TestOrder: systemd-sysctl's order. /etc hides /usr/lib of the same name,
// /dev/null masks, later names override, explicit keys beat globs, and
// /etc/sysctl.conf comes through Debian's 99-sysctl.conf link only once.
func TestOrder(t *testing.T) {
	root := t.TempDir()
	fixture.Write(t, root, map[string]string{
		"usr/lib/sysctl.d/50-default.conf":      "net.ipv4.conf.*.rp_filter = 2\nkernel.core_uses_pid = 1\n",
		"usr/lib/sysctl.d/50-pid-max.conf":      "kernel.pid_max = 4194304\n",
		"usr/lib/sysctl.d/60-masked.conf":       "vm.swappiness = 1\n",
		"usr/lib/sysctl.d/70-vendor.conf":       "vm.overcommit_memory = 1\n",
		"etc/sysctl.d/60-masked.conf":           "-> /dev/null",
		"etc/sysctl.d/70-vendor.conf":           "vm.overcommit_memory = 2\n",
		"etc/sysctl.d/80-rp.conf":               "net.ipv4.conf.eth0.rp_filter = 1\n",
		"run/sysctl.d/90-late.conf":             "kernel.pid_max = 32768\n",
		"etc/sysctl.d/99-sysctl.conf":           "-> ../sysctl.conf",
		"etc/sysctl.conf":                       "vm.swappiness = 10\n",
		"proc/sys/kernel/pid_max":               "4194304\n",
		"proc/sys/vm/swappiness":                "60\n",
		"proc/sys/net/ipv4/conf/all/rp_filter":  "0\n",
		"proc/sys/net/ipv4/conf/eth0/rp_filter": "1\n",
	})
	files := ConfFiles(hostfs.New(root))
	want := []string{"/usr/lib/sysctl.d/50-default.conf", "/usr/lib/sysctl.d/50-pid-max.conf", "/etc/sysctl.d/70-vendor.conf", "/etc/sysctl.d/80-rp.conf", "/run/sysctl.d/90-late.conf", "/etc/sysctl.d/99-sysctl.conf"}
	if !reflect.DeepEqual(files, want) {
		t.Fatalf("files %q\nwant %q", files, want)
	}
	sec, err := collector{}.Collect(context.Background(), &agent.Env{Root: root, Wants: snapshot.Wants{Sysctl: []string{"vm.dirty_ratio"}}})
	if err != nil {
		t.Fatal(err)
	}
	s := sec.(*snapshot.Sysctl)
	got := map[string]string{}
	for _, p := range s.Params {
		got[p.Key] = p.Value + "|" + p.Configured + "|" + p.Source
	}
	for k, w := range map[string]string{
		"kernel.pid_max":               "4194304|32768|/run/sysctl.d/90-late.conf:1",
		"vm.swappiness":                "60|10|/etc/sysctl.d/99-sysctl.conf:1",
		"vm.overcommit_memory":         "|2|/etc/sysctl.d/70-vendor.conf:1",
		"net.ipv4.conf.all.rp_filter":  "0|2|/usr/lib/sysctl.d/50-default.conf:1",
		"net.ipv4.conf.eth0.rp_filter": "1|1|/etc/sysctl.d/80-rp.conf:1",
		"vm.dirty_ratio":               "||",
	} {
		if got[k] != w {
			t.Errorf("%s: %q, want %q", k, got[k], w)
		}
	}
	if !s.Live {
		t.Error("a root with /proc/sys/kernel is live")
	}
}

func FuzzParseConf(f *testing.F) {
	f.Add("net.ipv4.ip_forward = 1\n-kernel.x=2\n!a.b\nnet/a/b.c/d = 3\n")
	f.Fuzz(func(t *testing.T, s string) {
		as, _ := ParseConf(strings.NewReader(s), "f")
		for _, a := range as {
			for _, c := range strings.Split(strings.TrimPrefix(Path(a.Key), "/proc/sys/"), "/") {
				if c == "" || c == "." || c == ".." {
					t.Fatalf("bad key %+v", a)
				}
			}
		}
		Effective(as, func(string) []string { return []string{"a.b"} })
	})
}

// TestDanglingLinkSkipped: systemd's 99-sysctl.conf links to procps'
// /etc/sysctl.conf, absent on a host without procps; systemd-sysctl skips
// it, and so does the collector, without calling its reading partial.
func TestDanglingLinkSkipped(t *testing.T) {
	root := t.TempDir()
	fixture.Write(t, root, map[string]string{
		"usr/lib/sysctl.d/50-default.conf": "kernel.core_uses_pid = 1\n",
		"etc/sysctl.d/99-sysctl.conf":      "-> ../sysctl.conf",
	})
	sec, err := collector{}.Collect(context.Background(), &agent.Env{Root: root})
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	if s := sec.(*snapshot.Sysctl); len(s.Errors) > 0 || !reflect.DeepEqual(s.Files, []string{"/usr/lib/sysctl.d/50-default.conf"}) {
		t.Errorf("files %q, errors %q", s.Files, s.Errors)
	}
}
