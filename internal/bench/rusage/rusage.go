// Package rusage measures what a child program cost: its CPU time and its
// peak resident set size, for benchmarks that compare hostdrift with other
// programs.
//
// A Go program cannot take its child's peak RSS from wait4: Go starts
// children with vfork (CLONE_VM), and Linux carries the high-water RSS of
// the memory they shared into the child's ru_maxrss at exec, so every child
// would report at least its parent's peak. Children therefore run under GNU
// time (Debian package time), a small C program that forks: its children
// start from its 1 MB, and it prints their true ru_maxrss.
package rusage

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Tool is GNU time.
const Tool = "/usr/bin/time"

const marker = "maxrss-kb="

// Wrap returns argv to run under GNU time. Start it, wait for it, and pass
// its process state and standard error to Of.
func Wrap(argv ...string) []string {
	return append([]string{Tool, "--format", marker + "%M"}, argv...)
}

// Of returns the CPU time (user and system) and peak RSS in bytes of the
// program a wrapped command ran. GNU time's own CPU time, well under a
// millisecond, is included; its own RSS is not.
func Of(ps *os.ProcessState, stderr string) (cpu time.Duration, maxRSS int64, err error) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, 0, fmt.Errorf("no rusage")
	}
	cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := lines[len(lines)-1]
	v, ok := strings.CutPrefix(last, marker)
	if !ok {
		return 0, 0, fmt.Errorf("%s printed no peak RSS (last line %q; Debian: apt-get install time)", Tool, last)
	}
	kb, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: peak RSS %q: %w", Tool, v, err)
	}
	return cpu, kb * 1024, nil
}

// StripReport removes GNU time's line from the end of stderr, leaving what
// the program itself wrote.
func StripReport(stderr string) string {
	s := strings.TrimRight(stderr, "\n")
	if i := strings.LastIndexByte(s, '\n'); strings.HasPrefix(s[i+1:], marker) {
		return s[:i+1]
	}
	return stderr
}
