package main

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/internal/report"
	"github.com/hostdrift/hostdrift/internal/testkit/dockertest"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// equivPolicy has a check on every area serve watches (servePolicy's
// firewall, cron and listeners, and more), each of which the changes below
// flip both ways.
const equivPolicy = servePolicy + `
timer "programs-exist" {
  require = ["program"]
}
file "motd" {
  path     = "/etc/motd"
  mode     = "0644"
  contains = "hello"
}
hosts_entry "app" {
  name   = "app.example"
  expect = ["192.0.2.80"]
}
kernel_param "rp-filter" {
  key = "net.ipv4.conf.all.rp_filter"
}
kernel_param "no-forwarding" {
  key   = "net.ipv4.ip_forward"
  value = "0"
}
user "no-bob" {
  name   = "bob"
  exists = false
}
`

const equivDockerPolicy = `
published_port "web" {
  container = "web"
  port      = 8080
}
`

// unitFolders are the five folders systemd reads system units from.
var unitFolders = []string{"etc/systemd/system", "run/systemd/system", "usr/local/lib/systemd/system", "lib/systemd/system", "usr/lib/systemd/system"}

// equivHost is the state the changes act on: a network namespace, a
// fixture root, and, when docker is set, a test engine in that namespace.
type equivHost struct {
	t         *testing.T
	ns        *nstest.NS
	root      string
	docker    *dockertest.Engine
	image     string
	listeners map[string]*nstest.Listener
}

func (h *equivHost) path(rel string) string { return filepath.Join(h.root, rel) }

func (h *equivHost) write(rel, content string, mode os.FileMode) {
	h.t.Helper()
	p := h.path(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		h.t.Fatal(err)
	}
}

// replace writes content beside rel and renames it over rel, as editors
// and package managers do.
func (h *equivHost) replace(rel, content string) {
	h.t.Helper()
	tmp := rel + ".tmp-hd"
	h.write(tmp, content, 0o644)
	if err := os.Rename(h.path(tmp), h.path(rel)); err != nil {
		h.t.Fatal(err)
	}
}

func (h *equivHost) remove(rel string) {
	if err := os.Remove(h.path(rel)); err != nil && !os.IsNotExist(err) {
		h.t.Fatal(err)
	}
}

// equivAction is one kind of real change; do makes it with choices drawn
// from rng and says what it did.
type equivAction struct {
	name   string
	docker bool
	do     func(h *equivHost, rng *rand.Rand) string
}

func program(rng *rand.Rand) string {
	if rng.Intn(2) == 0 {
		return "/usr/local/bin/job"
	}
	return "/usr/local/bin/missing-job"
}

var equivActions = []equivAction{
	{"nft rule", false, func(h *equivHost, rng *rand.Rand) string {
		if rng.Intn(2) == 0 {
			h.ns.Run(h.t, "nft", "add table inet hdeq; add chain inet hdeq out { type filter hook output priority 0; }; flush chain inet hdeq out; add rule inet hdeq out tcp dport 587 drop")
			return "nft: drop tcp 587 out"
		}
		h.ns.Run(h.t, "nft", "add table inet hdeq; delete table inet hdeq")
		return "nft: table removed"
	}},
	{"iptables-legacy rule", false, func(h *equivHost, rng *rand.Rand) string {
		rule := []string{"OUTPUT", "-p", "tcp", "--dport", "587", "-j", "REJECT"}
		if rng.Intn(2) == 0 {
			if h.ns.Command("iptables-legacy", append([]string{"-C"}, rule...)...).Run() != nil {
				h.ns.Run(h.t, "iptables-legacy", append([]string{"-A"}, rule...)...)
			}
			return "iptables-legacy: reject tcp 587 out"
		}
		for h.ns.Command("iptables-legacy", append([]string{"-D"}, rule...)...).Run() == nil {
		}
		return "iptables-legacy: rule removed"
	}},
	{"cron.d", false, func(h *equivHost, rng *rand.Rand) string {
		name := fmt.Sprintf("etc/cron.d/job%d", rng.Intn(2))
		switch rng.Intn(3) {
		case 0:
			prog := program(rng)
			h.write(name, "0 1 * * * root "+prog+"\n", 0o644)
			return "wrote " + name + " running " + prog
		case 1:
			prog := program(rng)
			h.replace(name, "0 2 * * * root "+prog+"\n")
			return "renamed over " + name + " running " + prog
		}
		h.remove(name)
		return "removed " + name
	}},
	{"crontab spool", false, func(h *equivHost, rng *rand.Rand) string {
		spool := []string{"var/spool/cron/crontabs/alice", "var/spool/cron/alice"}[rng.Intn(2)]
		if rng.Intn(3) == 0 {
			h.remove(spool)
			return "removed " + spool
		}
		prog := program(rng)
		h.write(spool, "30 3 * * * "+prog+"\n", 0o600)
		return "wrote " + spool + " running " + prog
	}},
	{"unit files", false, func(h *equivHost, rng *rand.Rand) string {
		dir := unitFolders[rng.Intn(len(unitFolders))]
		if rng.Intn(3) == 0 {
			h.remove(dir + "/hdeq.timer")
			h.remove(dir + "/hdeq.service")
			return "removed hdeq.timer from " + dir
		}
		// The unit in one folder at a time: a copy in a folder of higher
		// priority would hide this one.
		for _, other := range unitFolders {
			h.remove(other + "/hdeq.timer")
			h.remove(other + "/hdeq.service")
		}
		prog := program(rng)
		h.write(dir+"/hdeq.service", "[Service]\nType=oneshot\nExecStart="+prog+"\n", 0o644)
		h.write(dir+"/hdeq.timer", "[Timer]\nOnCalendar=daily\n\n[Install]\nWantedBy=timers.target\n", 0o644)
		return "moved hdeq.timer to " + dir + ", running " + prog
	}},
	{"listener", false, func(h *equivHost, rng *rand.Rand) string {
		spec := []string{"tcp4:0.0.0.0:6379", "tcp6:[::1]:6379"}[rng.Intn(2)]
		if l, ok := h.listeners[spec]; ok {
			l.Stop()
			delete(h.listeners, spec)
			return "stopped " + spec
		}
		h.listeners[spec] = h.ns.Listen(h.t, spec)
		return "started " + spec
	}},
	{"file", false, func(h *equivHost, rng *rand.Rand) string {
		switch rng.Intn(3) {
		case 0:
			h.write("etc/motd", []string{"hello\n", "goodbye\n"}[rng.Intn(2)], 0o644)
			return "rewrote /etc/motd"
		case 1:
			mode := []os.FileMode{0o644, 0o600}[rng.Intn(2)]
			if err := os.Chmod(h.path("etc/motd"), mode); err != nil {
				h.t.Fatal(err)
			}
			return fmt.Sprintf("chmod %o /etc/motd", mode)
		}
		h.replace("etc/motd", []string{"hello\n", "goodbye\n"}[rng.Intn(2)])
		return "renamed over /etc/motd"
	}},
	{"hosts", false, func(h *equivHost, rng *rand.Rand) string {
		addr := []string{"192.0.2.80", "192.0.2.81", ""}[rng.Intn(3)]
		text := "127.0.0.1 localhost\n"
		if addr != "" {
			text += addr + " app.example\n"
		}
		h.replace("etc/hosts", text)
		return "/etc/hosts: app.example at " + addr
	}},
	{"sysctl", false, func(h *equivHost, rng *rand.Rand) string {
		v := strconv.Itoa(rng.Intn(3))
		if rng.Intn(2) == 0 {
			h.write("etc/sysctl.d/90-rp.conf", "net.ipv4.conf.all.rp_filter = "+v+"\n", 0o644)
			return "sysctl.d: rp_filter = " + v
		}
		h.ns.Run(h.t, "sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter="+v)
		return "live: rp_filter = " + v
	}},
	// An action of its own: as a third of "sysctl", 200 steps left it
	// unchanged in about one run of twenty.
	{"forwarding", false, func(h *equivHost, rng *rand.Rand) string {
		f := strconv.Itoa(rng.Intn(2))
		h.ns.Run(h.t, "sysctl", "-q", "-w", "net.ipv4.ip_forward="+f)
		return "live: ip_forward = " + f
	}},
	{"accounts", false, func(h *equivHost, rng *rand.Rand) string {
		passwd := "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n"
		did := "/etc/passwd without bob"
		if rng.Intn(2) == 0 {
			passwd += "bob:x:1001:1001::/home/bob:/bin/bash\n"
			did = "/etc/passwd with bob"
		}
		h.replace("etc/passwd", passwd)
		return did
	}},
	{"docker", true, func(h *equivHost, rng *rand.Rand) string {
		if rng.Intn(2) == 0 {
			if err := h.docker.Command("inspect", "web").Run(); err != nil {
				h.docker.Docker(h.t, "run", "-d", "--name", "web", "--label", dockertest.Label, "-p", "8080:80", h.image, "httpd", "-f", "-p", "80", "-h", "/var/www")
			}
			return "docker run -p 8080:80 web"
		}
		_ = h.docker.Command("rm", "-f", "web").Run()
		return "docker rm -f web"
	}},
}

// equivFixture lays out the root every area reads, in a state where every
// check passes.
func equivFixture(h *equivHost) {
	h.write("usr/local/bin/job", "#!/bin/sh\nexit 0\n", 0o755)
	h.write("etc/motd", "hello\n", 0o644)
	h.write("etc/hosts", "127.0.0.1 localhost\n192.0.2.80 app.example\n", 0o644)
	h.write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n", 0o644)
	h.write("etc/group", "root:x:0:\nalice:x:1000:\n", 0o644)
	for _, d := range append([]string{"etc/cron.d", "var/spool/cron/crontabs", "etc/sysctl.d"}, unitFolders...) {
		if err := os.MkdirAll(h.path(d), 0o755); err != nil {
			h.t.Fatal(err)
		}
	}
	// The running kernel's values are read from <root>/proc: the host's
	// /proc, whose net.* values are those of the namespace serve runs in.
	if err := os.MkdirAll(h.path("proc"), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := unix.Mount("/proc", h.path("proc"), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		h.t.Fatalf("bind /proc into the fixture root: %v", err)
	}
	h.t.Cleanup(func() { _ = unix.Unmount(h.path("proc"), unix.MNT_DETACH) })
	rp := strings.TrimSpace(h.ns.Run(h.t, "sysctl", "-n", "net.ipv4.conf.all.rp_filter"))
	h.write("etc/sysctl.d/90-rp.conf", "net.ipv4.conf.all.rp_filter = "+rp+"\n", 0o644)
	h.ns.Run(h.t, "sysctl", "-q", "-w", "net.ipv4.ip_forward=0")
}

// judged is a report's findings by check: status, and the explanation
// with times and counts taken out.
type judged map[string]string

// Times and counts differ between two readings of one state: ages ("59s
// ago", "1m ago") and durations become T, other numbers N.
var (
	durations = regexp.MustCompile(`\b[0-9]+(\.[0-9]+)?(ns|µs|ms|s|m|h|d)\b`)
	digits    = regexp.MustCompile(`[0-9]+(\.[0-9]+)?`)
)

func judgedOf(r *report.Report) judged {
	out := judged{}
	for _, f := range r.Findings {
		out[f.Check] = string(f.Status) + ": " + digits.ReplaceAllString(durations.ReplaceAllString(f.Explanation, "T"), "N")
	}
	return out
}

// differences lists the checks whose findings differ, as "check: serve
// says ...; check says ...".
func differences(served, checked judged) []string {
	var out []string
	for c, want := range checked {
		if got := served[c]; got != want {
			out = append(out, fmt.Sprintf("%s:\n    serve: %s\n    check: %s", c, got, want))
		}
	}
	for c, got := range served {
		if _, ok := checked[c]; !ok {
			out = append(out, fmt.Sprintf("%s:\n    serve: %s\n    check: (no finding)", c, got))
		}
	}
	sort.Strings(out)
	return out
}

// awaitSame waits for serve to say what check says of the same state: it
// polls served until its findings equal check's, and when they do not
// within limit, asks check again (the state may have moved under it, a
// container starting) before it returns the differences. It returns
// check's findings.
func awaitSame(served func() (judged, error), check func() judged, limit time.Duration) (judged, []string) {
	want := check()
	deadline := time.Now().Add(limit)
	for {
		got, err := served()
		if err == nil {
			if diffs := differences(got, want); len(diffs) == 0 {
				return want, nil
			}
		}
		if time.Now().After(deadline) {
			want = check()
			if err != nil {
				return want, []string{"serve's report: " + err.Error()}
			}
			return want, differences(got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func envInt(name string, def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil {
		return v
	}
	return def
}

// TestServeEqualsCheck makes a seeded random sequence of real changes
// across every area serve watches and, after each, once serve is quiet,
// asks that every finding on serve's /report equal that of a `hostdrift
// check` of the same state with the same policy: the status, and the
// explanation apart from times and counts. HOSTDRIFT_SERVE_STEPS (200)
// and HOSTDRIFT_SERVE_SEED (the clock) repeat or lengthen a run; a failure
// prints the seed, the step and the changes that led to it.
func TestServeEqualsCheck(t *testing.T) {
	nstest.RequireRoot(t)
	for _, c := range []string{"nft", "iptables-legacy", "sysctl"} {
		nstest.RequireCommand(t, c)
	}
	steps := int(envInt("HOSTDRIFT_SERVE_STEPS", 200))
	seed := envInt("HOSTDRIFT_SERVE_SEED", time.Now().UnixNano())
	t.Logf("seed %d, %d steps (HOSTDRIFT_SERVE_SEED=%d repeats this run)", seed, steps, seed)
	rng := rand.New(rand.NewSource(seed))

	e := dockertest.Start(t)
	h := &equivHost{t: t, ns: e.NS, root: t.TempDir(), docker: e, image: e.Busybox(t), listeners: map[string]*nstest.Listener{}}
	equivFixture(h)
	pol := policyFile(t, equivPolicy+equivDockerPolicy)
	env := []string{"DOCKER_HOST=" + e.Host}
	args := []string{"--no-builtin", "--policy", pol, "--root", h.root}
	s := startServe(t, h.ns, env, append(args, "--listeners-every", "1s", "--legacy-every", "1s")...)
	check := func() judged {
		cmd := h.ns.Command(binary(t), append([]string{"check", "--format", "json"}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		r, _ := runJSON(t, cmd)
		return judgedOf(r)
	}
	served := func() (judged, error) {
		_, body, err := s.get("/report")
		if err != nil {
			return nil, err
		}
		var r report.Report
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			return nil, fmt.Errorf("/report is not a report: %v", err)
		}
		return judgedOf(&r), nil
	}

	var history []string
	statuses := map[string]map[string]bool{} // check -> statuses seen
	for step := 0; step <= steps; step++ {
		if step > 0 {
			a := equivActions[rng.Intn(len(equivActions))]
			history = append(history, fmt.Sprintf("step %d: %s", step, a.do(h, rng)))
		}
		want, diffs := awaitSame(served, check, 10*time.Second)
		if len(diffs) > 0 {
			t.Fatalf("seed %d, step %d: serve's /report differs from check on the same state:\n  %s\nchanges so far:\n  %s",
				seed, step, strings.Join(diffs, "\n  "), strings.Join(history[max(0, len(history)-15):], "\n  "))
		}
		for c, v := range want {
			if statuses[c] == nil {
				statuses[c] = map[string]bool{}
			}
			statuses[c][strings.SplitN(v, ":", 2)[0]] = true
		}
	}
	// The sequence must have moved every check both ways, or it tested less
	// than it claims.
	var still []string
	for c, seen := range statuses {
		if len(seen) < 2 {
			var ss []string
			for s := range seen {
				ss = append(ss, s)
			}
			still = append(still, c+" ("+strings.Join(ss, ",")+")")
		}
	}
	if slices.Sort(still); len(still) > 0 && steps >= 100 {
		t.Errorf("seed %d: over %d steps these checks never changed status: %s", seed, steps, strings.Join(still, ", "))
	}
}
