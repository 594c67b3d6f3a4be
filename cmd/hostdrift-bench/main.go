// Command hostdrift-bench builds a big host (a network namespace full of
// firewall rules, listeners and connections, a DNS server, a fixture root of
// scheduled jobs and, where an engine runs, Docker networks and containers),
// measures hostdrift snapshot and check on it against the kernel's own dump
// tools reading the same state (and, at 1x, hostdrift against goss on the
// same listener and DNS checks), prints issue 18's targets met or not and
// how every figure grows with the scale, and tears it all down. make bench
// runs it; docs/performance.md explains the figures.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hostdrift/hostdrift/agent"
	_ "github.com/hostdrift/hostdrift/agent/all"
	"github.com/hostdrift/hostdrift/internal/bench/bighost"
	"github.com/hostdrift/hostdrift/internal/sys/atomicfile"
	"github.com/hostdrift/hostdrift/internal/sys/setns"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

func main() {
	os.Exit(mainErr())
}

func mainErr() int {
	scalesFlag := flag.String("scales", "1,4,16", "comma-separated `LIST` of scales to build and measure (1 is issue 10's big host; hostdrift is compared with goss at 1)")
	runs := flag.Int("runs", 5, "timed runs of each command per scale up to 4x; figures are medians")
	largeRuns := flag.Int("large-runs", 1, "timed runs of each command at scales above 4x (at 16x one run of the floor's nft -j alone takes minutes)")
	out := flag.String("json", "bin/bench.json", "write every figure to `FILE`")
	profile := flag.String("profile", "", "after measuring the first scale, write hostdrift snapshot's and check's CPU and heap profiles to `DIR` (HOSTDRIFT_CPUPROFILE, HOSTDRIFT_MEMPROFILE)")
	flag.Parse()
	var scales []int
	for _, f := range strings.Split(*scalesFlag, ",") {
		s, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || s < 1 || s > 64 {
			fmt.Fprintf(os.Stderr, "hostdrift-bench: --scales: %q is not a scale from 1 to 64\n", f)
			return 2
		}
		scales = append(scales, s)
	}
	if *runs < 1 || *largeRuns < 1 {
		fmt.Fprintln(os.Stderr, "hostdrift-bench: --runs and --large-runs must be at least 1")
		return 2
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "hostdrift-bench: builds network namespaces and loads rulesets: run it as root (sudo make bench)")
		return 2
	}
	// First signal: stop, tear down, exit. A second one kills at once.
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer cancel()
	go func() { <-ctx.Done(); cancel() }()

	raiseNofile()
	res := result{Runs: *runs, Machine: machine()}
	res.Collectors = agent.Names()
	build := &scope{}
	bin, err := hostdriftBinary(build)
	defer build.close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hostdrift-bench:", err)
		return 1
	}
	goss := ""
	if slices.Contains(scales, 1) {
		fmt.Fprintf(os.Stderr, "hostdrift-bench: building goss %s in a throwaway module...\n", gossVersion)
		if goss, err = buildGoss(ctx, build); err != nil {
			res.GossError = fmt.Sprintf("goss %s could not be built, so it is not compared: %v", gossVersion, err)
			fmt.Fprintln(os.Stderr, "hostdrift-bench:", res.GossError)
		}
	}
	code := 0
	for i, s := range scales {
		n := *runs
		if s > 4 {
			n = *largeRuns
		}
		sr, err := measureScale(ctx, bin, goss, s, n, *profile != "" && i == 0, *profile)
		if sr != nil {
			res.Scales = append(res.Scales, *sr)
			res.Goss = append(res.Goss, sr.goss...)
			printScale(os.Stdout, sr)
			for _, c := range sr.goss {
				if c.Error != "" {
					res.Failed = append(res.Failed, fmt.Sprintf("%dx: hostdrift against goss, %s: %s", s, c.Name, c.Error))
					code = 1
				}
			}
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "hostdrift-bench: scale %dx: %v\n", s, err)
			if ctx.Err() != nil {
				fmt.Fprintln(os.Stderr, "hostdrift-bench: interrupted; everything built was torn down")
				return 130
			}
			res.Failed = append(res.Failed, fmt.Sprintf("%dx: %v", s, err))
			code = 1
			break // a larger scale will not fit either
		}
	}
	res.Growth = growthTable(res.Scales)
	res.Targets = targetRows(&res)
	var measured []int
	for _, sr := range res.Scales {
		measured = append(measured, sr.Scale)
	}
	printGrowth(os.Stdout, measured, res.Growth)
	printGoss(os.Stdout, &res)
	printTargets(os.Stdout, res.Targets)
	for _, f := range res.Failed {
		fmt.Println("FAILED:", f)
	}
	if err := writeJSON(*out, &res); err != nil {
		fmt.Fprintln(os.Stderr, "hostdrift-bench:", err)
		return 1
	}
	fmt.Printf("figures written to %s\n", *out)
	return code
}

// hostdriftBinary builds hostdrift as make build does.
func hostdriftBinary(sc *scope) (string, error) {
	var bin string
	err := sc.try(func() error { bin = nstest.Hostdrift(sc); return nil })
	return bin, err
}

// measureScale builds the big host at scale s, measures it, and tears it
// down, whatever happens.
func measureScale(ctx context.Context, bin, goss string, s, runs int, doProfile bool, profileDir string) (*scaleResult, error) {
	sc := &scope{}
	defer func() {
		t0 := time.Now()
		sc.close()
		fmt.Fprintf(os.Stderr, "hostdrift-bench: %dx torn down in %.1fs\n", s, time.Since(t0).Seconds())
	}()
	h := &host{ctx: ctx, scale: s, sc: sc, sizes: map[string]int{}}
	sr := &scaleResult{Scale: s, Runs: runs}
	err := sc.try(func() error {
		h.ns = nstest.New(sc)
		h.root = sc.TempDir()
		return bighost.WriteBase(h.root)
	})
	if err != nil {
		return nil, fmt.Errorf("base: %w", err)
	}
	var built []part
	registered := agent.Names()
	for _, p := range parts {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !allIn(p.needs, registered) {
			note := fmt.Sprintf("part %s skipped: collector %s is not registered in this build (agent.Names: %s)", p.name, strings.Join(p.needs, ", "), strings.Join(registered, ", "))
			sr.Notes = append(sr.Notes, note)
			sr.Parts = append(sr.Parts, partResult{Name: p.name, Status: "skipped", Note: note})
			continue
		}
		fmt.Fprintf(os.Stderr, "hostdrift-bench: %dx: building %s...\n", s, p.name)
		t0 := time.Now()
		err := sc.try(func() error { return p.build(h) })
		pr := partResult{Name: p.name, Status: "built", BuildS: time.Since(t0).Seconds()}
		if err != nil {
			if !p.optional || ctx.Err() != nil {
				return nil, fmt.Errorf("build %s: %w", p.name, err)
			}
			pr.Status, pr.Note = "skipped", fmt.Sprintf("part %s skipped: %v", p.name, err)
			sr.Notes = append(sr.Notes, pr.Note)
		} else {
			built = append(built, p)
		}
		sr.Parts = append(sr.Parts, pr)
	}
	sr.Sizes = h.sizes
	pol := makePolicy(h, built)
	sr.Notes = append(sr.Notes, pol.notes...)
	sr.PolicyByKind = pol.byKind
	for _, n := range pol.byKind {
		sr.PolicyChecks += n
	}
	policyFile := filepath.Join(h.root, "bench-policy.hcl")
	directFile := filepath.Join(h.root, "bench-policy-direct.hcl")
	if err := os.WriteFile(policyFile, []byte(pol.text), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(directFile, []byte(pol.direct), 0o644); err != nil {
		return nil, err
	}
	nsh, err := setns.Open(h.ns.Path())
	if err != nil {
		return nil, err
	}
	defer nsh.Close()
	cmds := commands(bin, h, policyFile, directFile)
	if err := verify(ctx, nsh, h, cmds, sr); err != nil {
		return sr, err
	}
	samples := make([][]sample, len(cmds))
	for r := range runs {
		fmt.Fprintf(os.Stderr, "hostdrift-bench: %dx: run %d of %d\n", s, r+1, runs)
		// Interleaved, so noise from other users of the machine falls on
		// every command alike.
		for i, c := range cmds {
			smp, err := run(ctx, nsh, c)
			if err != nil {
				return sr, err
			}
			samples[i] = append(samples[i], smp)
		}
	}
	for i, c := range cmds {
		sr.Commands = append(sr.Commands, commandResult{command: c, figures: medians(samples[i])})
	}
	sr.summarize()
	if s == 1 && goss != "" {
		// The big host as issue 18 defines it: 1x.
		sr.goss = compareGoss(ctx, nsh, h, bin, goss, runs)
	}
	if doProfile {
		if err := profile(ctx, h, cmds, profileDir); err != nil {
			sr.Notes = append(sr.Notes, "profile: "+err.Error())
		}
	}
	return sr, nil
}

// builtinPolicy names hostdrift's built-in policy on its command line.
const builtinPolicy = "builtin:default"

// commands are what the bench times: the floor, then hostdrift: snapshot
// and check with the built-in policy and the bench's checks (what an
// operator's first run does, plus a big policy of their own), and check
// with the bench's checks alone without the kinds that probe (they connect
// to listeners, which no floor tool does).
func commands(bin string, h *host, policyFile, directFile string) []command {
	live := func(policies ...string) []string {
		args := []string{"--netns", h.ns.Path(), "--root", h.root}
		for _, p := range policies {
			args = append(args, "--policy", p)
		}
		// Generous bounds: the bench measures how long things take, it
		// does not want them cut short (the defaults are 10 s and 2 min).
		return append(args, "--collector-timeout", "20m", "--timeout", "30m")
	}
	return []command{
		{Name: "nft -j list ruleset", Role: "floor", Argv: []string{"nft", "-j", "list", "ruleset"}, inNS: true},
		{Name: "iptables-nft-save", Role: "floor", Argv: []string{"iptables-nft-save"}, inNS: true},
		{Name: "iptables-legacy-save", Role: "floor", Argv: []string{"iptables-legacy-save"}, inNS: true},
		{Name: "ss -Htanp", Role: "floor", Argv: []string{"ss", "-Htanp"}, inNS: true},
		{Name: "hostdrift snapshot", Role: "hostdrift", Argv: append([]string{bin, "snapshot"}, live(builtinPolicy, policyFile)...), env: h.env},
		{Name: "hostdrift check", Role: "hostdrift", Argv: append([]string{bin, "check", "--format", "json"}, live(builtinPolicy, policyFile)...), env: h.env, okExit: []int{1, 3}},
		{Name: "hostdrift check, no probes", Role: "hostdrift", Argv: append([]string{bin, "check", "--format", "json"}, live(directFile)...), env: h.env, okExit: []int{1, 3}},
	}
}

// raiseNofile lifts the bench's soft limit on open files to the hard one,
// for itself and the programs it starts (the socket helpers hold thousands
// each). Setting it explicitly keeps it in the children too: Go would
// otherwise start them with the limit the bench was started with.
func raiseNofile() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil || l.Cur >= l.Max {
		return
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		fmt.Fprintf(os.Stderr, "hostdrift-bench: raise the open files limit to %d: %v\n", l.Max, err)
	}
}

func machine() map[string]string {
	m := map[string]string{"go": runtime.Version(), "cpus": strconv.Itoa(runtime.NumCPU())}
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err == nil {
		m["open_files_limit"] = strconv.FormatUint(l.Cur, 10)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m["kernel"] = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if line, _, ok := strings.Cut(string(b), "\n"); ok {
			m["memory"] = strings.Join(strings.Fields(line)[1:], " ")
		}
	}
	if b, err := os.ReadFile("/etc/debian_version"); err == nil {
		m["debian"] = strings.TrimSpace(string(b))
	}
	return m
}

func writeJSON(path string, res *result) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, 0o644, func(f *os.File) error {
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	})
}
