package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hostdrift/hostdrift/internal/bench/bighost"
	"github.com/hostdrift/hostdrift/internal/sys/setns"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// gossVersion is the goss the bench compares hostdrift with: what a user
// would pick instead to assert ports and names.
const gossVersion = "v0.4.9"

// gossBuildTimeout bounds the download and build of goss.
const gossBuildTimeout = 10 * time.Minute

// buildGoss builds goss in a throwaway module in a temporary folder: it is
// fetched and built at bench time only, never a dependency of hostdrift's
// module. It returns the binary, or why there is none.
func buildGoss(ctx context.Context, sc *scope) (string, error) {
	var dir string
	if err := sc.try(func() error { dir = sc.TempDir(); return nil }); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, gossBuildTimeout)
	defer cancel()
	bin := filepath.Join(dir, "goss")
	steps := [][]string{
		{"go", "mod", "init", "throwaway"},
		{"go", "get", "github.com/goss-org/goss/cmd/goss@" + gossVersion},
		{"go", "build", "-o", bin, "github.com/goss-org/goss/cmd/goss"},
	}
	for _, argv := range steps {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Dir = dir
		// Whatever the caller's environment says of workspaces and
		// vendoring is about hostdrift's module, not this one.
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, tail(strings.TrimSpace(string(out)), 1000))
		}
	}
	return bin, nil
}

// compareResult is hostdrift against goss on one check set.
type compareResult struct {
	checkSet
	Hostdrift figures `json:"hostdrift"`
	Goss      figures `json:"goss"`
	// Ratio is hostdrift's median wall time over goss's.
	Ratio float64 `json:"hostdrift_over_goss,omitempty"`
	// Error says why there is no ratio: goss could not be built, or a
	// tool did not pass the set.
	Error string `json:"error,omitempty"`
}

// compareGoss runs hostdrift and goss on the big host's 1,000 listeners
// and on 500 names asked of a DNS server, both tools started inside the
// big host's namespace: first once each to see that both pass every check,
// then runs times, interleaved, the two tools taking turns at going first.
func compareGoss(ctx context.Context, ns *setns.Handle, h *host, bin, goss string, runs int) []compareResult {
	sets := []checkSet{listenerSet(compareListeners)}
	// The dns part's server runs in the bench's own namespace, where
	// hostdrift's DNS collector asks whatever --netns says; this one
	// serves the same names inside the big host's.
	var srv *nstest.DNSServer
	err := h.sc.try(func() error {
		return ns.Run(func() error {
			srv = nstest.Dnsmasq(h.sc, "127.0.0.1", bighost.HostsZone(1))
			return nil
		})
	})
	if err != nil {
		set := dnsSet(compareNames, "127.0.0.1:53")
		return append(compareAll(ctx, ns, h, bin, goss, sets, runs), compareResult{checkSet: set, Error: "dnsmasq in the big host's namespace: " + err.Error()})
	}
	sets = append(sets, dnsSet(compareNames, srv.Addr))
	return compareAll(ctx, ns, h, bin, goss, sets, runs)
}

func compareAll(ctx context.Context, ns *setns.Handle, h *host, bin, goss string, sets []checkSet, runs int) []compareResult {
	var out []compareResult
	for _, set := range sets {
		cr := compareResult{checkSet: set}
		if err := compareSet(ctx, ns, h, bin, goss, &cr, runs); err != nil {
			cr.Error = err.Error()
		}
		out = append(out, cr)
	}
	return out
}

func compareSet(ctx context.Context, ns *setns.Handle, h *host, bin, goss string, cr *compareResult, runs int) error {
	dir := h.sc.TempDir()
	gossFile := filepath.Join(dir, cr.Name+".goss.yaml")
	hclFile := filepath.Join(dir, cr.Name+".hcl")
	if err := os.WriteFile(gossFile, []byte(cr.goss), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(hclFile, []byte(cr.hcl), 0o644); err != nil {
		return err
	}
	// Both are started inside the namespace, as each would run on the host
	// it checks.
	hd := command{Name: "hostdrift check (" + cr.Name + ")", Role: "compare", inNS: true, env: h.env,
		Argv: []string{bin, "check", "--format", "json", "--root", h.root, "--policy", hclFile, "--collector-timeout", "20m", "--timeout", "30m"}}
	gs := command{Name: "goss validate (" + cr.Name + ")", Role: "compare", inNS: true,
		Argv: []string{goss, "--gossfile", gossFile, "validate", "--format", "json"}}
	// Both must pass: a tool that fails a check is not doing the same work.
	for _, c := range []struct {
		cmd    command
		passed func(f *os.File) error
	}{
		{hd, func(f *os.File) error { return hostdriftPassed(f, cr.checkSet) }},
		{gs, func(f *os.File) error { return gossPassed(f, cr.checkSet) }},
	} {
		c.cmd.stdout = filepath.Join(dir, strings.Fields(c.cmd.Name)[0]+"-"+cr.Name+".json")
		c.cmd.okExit = []int{1, 2, 3}
		if _, err := run(ctx, ns, c.cmd); err != nil {
			return err
		}
		f, err := os.Open(c.cmd.stdout)
		if err != nil {
			return err
		}
		err = c.passed(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s does not pass: %w", c.cmd.Name, err)
		}
	}
	var hs, gss []sample
	for r := range runs {
		fmt.Fprintf(os.Stderr, "hostdrift-bench: %dx: %s against goss, run %d of %d\n", h.scale, cr.Name, r+1, runs)
		order := []*command{&hd, &gs}
		if r%2 == 1 {
			order = []*command{&gs, &hd}
		}
		for _, c := range order {
			smp, err := run(ctx, ns, *c)
			if err != nil {
				return err
			}
			if c == &hd {
				hs = append(hs, smp)
			} else {
				gss = append(gss, smp)
			}
		}
	}
	cr.Hostdrift, cr.Goss = medians(hs), medians(gss)
	if cr.Goss.WallMS > 0 {
		cr.Ratio = cr.Hostdrift.WallMS / cr.Goss.WallMS
	}
	return nil
}
