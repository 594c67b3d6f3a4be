package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hostdrift/hostdrift/internal/setns"
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
}

// sample is one run: wall time, user+system CPU (wait4's rusage) and peak
// RSS of the child.
type sample struct {
	Wall time.Duration
	CPU  time.Duration
	RSS  int64 // bytes
}

// timeTool is GNU time, which reports its child's peak RSS (ru_maxrss).
//
// The bench cannot take ru_maxrss from wait4 on its own children: Go starts
// them with vfork (CLONE_VM), and Linux carries the high-water RSS of the
// memory they shared at exec into the child's ru_maxrss, so every child
// would report at least the bench's own peak (the rulesets it generated).
// GNU time is a small C program that forks: its children start from its
// 1 MB. Its own ru_maxrss is the one inflated; the bench ignores it.
const timeTool = "/usr/bin/time"

// run starts c once, its output to /dev/null, and measures it.
func run(ctx context.Context, ns *setns.Handle, c command) (sample, error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return sample{}, err
	}
	defer devnull.Close()
	argv := append([]string{timeTool, "--format", "maxrss-kb=%M"}, c.Argv...)
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
		return sample{}, fmt.Errorf("%s: %w\n%s", strings.Join(c.Argv, " "), err, tail(stderr.String(), 2000))
	}
	// The CPU time of time's reaped child is in time's rusage, with time's
	// own (well under a millisecond).
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	rss, err := maxRSS(stderr.String())
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w", c.Name, err)
	}
	return sample{Wall: wall, CPU: cpu, RSS: rss}, nil
}

// maxRSS reads the peak RSS GNU time printed last, in bytes.
func maxRSS(stderr string) (int64, error) {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := lines[len(lines)-1]
	v, ok := strings.CutPrefix(last, "maxrss-kb=")
	if !ok {
		return 0, fmt.Errorf("%s printed no peak RSS (last line %q)", timeTool, last)
	}
	kb, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: peak RSS %q: %w", timeTool, v, err)
	}
	return kb * 1024, nil
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
