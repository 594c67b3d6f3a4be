package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/hostdrift/hostdrift/internal/bench/rusage"
	"github.com/hostdrift/hostdrift/internal/sys/setns"
)

// command is one program the bench times: hostdrift's, or a floor tool.
type command struct {
	Name string   `json:"name"`
	Role string   `json:"role"` // "floor" or "hostdrift"
	Argv []string `json:"argv"`
	// inNS starts the program inside the namespace (the floor tools);
	// hostdrift gets --netns instead, as an operator would run it.
	inNS bool
	// okExit are the exit codes that are results, not failures.
	okExit []int
	env    []string
	// stdout, when set, is the file the program's output goes to;
	// otherwise it goes to /dev/null.
	stdout string
}

// sample is one run: wall time, user+system CPU (wait4's rusage) and peak
// RSS of the child.
type sample struct {
	Wall time.Duration
	CPU  time.Duration
	RSS  int64 // bytes
}

// run starts c once, its output to /dev/null (or c.stdout), and measures
// it.
func run(ctx context.Context, ns *setns.Handle, c command) (sample, error) {
	outPath := os.DevNull
	if c.stdout != "" {
		outPath = c.stdout
	}
	devnull, err := os.OpenFile(outPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return sample{}, err
	}
	defer devnull.Close()
	// Under GNU time: see package rusage for why.
	argv := rusage.Wrap(c.Argv...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = devnull, &stderr
	cmd.Env = append(os.Environ(), c.env...)
	var start time.Time
	startIt := func() error { start = time.Now(); return cmd.Start() }
	if c.inNS {
		// The child inherits the namespace of the thread that forks it.
		err = ns.Run(startIt)
	} else {
		err = startIt()
	}
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w", c.Name, err)
	}
	err = cmd.Wait()
	wall := time.Since(start)
	if ee, ok := err.(*exec.ExitError); ok && slices.Contains(c.okExit, ee.ExitCode()) {
		err = nil
	}
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w\n%s", strings.Join(c.Argv, " "), err, tail(rusage.StripReport(stderr.String()), 2000))
	}
	cpu, rss, err := rusage.Of(cmd.ProcessState, stderr.String())
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w", c.Name, err)
	}
	return sample{Wall: wall, CPU: cpu, RSS: rss}, nil
}

// figures are the medians of several samples.
type figures struct {
	WallMS  float64   `json:"wall_ms"`
	CPUMS   float64   `json:"cpu_ms"`
	RSSMB   float64   `json:"peak_rss_mb"`
	Samples []float64 `json:"wall_ms_samples"`
}

func medians(ss []sample) figures {
	var f figures
	wall := make([]float64, len(ss))
	cpu := make([]float64, len(ss))
	rss := make([]float64, len(ss))
	for i, s := range ss {
		wall[i], cpu[i], rss[i] = ms(s.Wall), ms(s.CPU), float64(s.RSS)/(1<<20)
	}
	f.Samples = slices.Clone(wall)
	f.WallMS, f.CPUMS, f.RSSMB = median(wall), median(cpu), median(rss)
	return f
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
