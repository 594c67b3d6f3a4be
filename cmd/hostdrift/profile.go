package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
)

// startProfiles writes a CPU profile of the whole run to the file named by
// HOSTDRIFT_CPUPROFILE and a heap profile at its end to HOSTDRIFT_MEMPROFILE,
// for docs/performance.md (make bench PROFILE=DIR sets them). Environment
// variables rather than flags: every command gets them without a flag of its
// own. It returns the function that finishes the profiles.
func startProfiles(stderr io.Writer) func() {
	cpuPath, memPath := os.Getenv("HOSTDRIFT_CPUPROFILE"), os.Getenv("HOSTDRIFT_MEMPROFILE")
	var cpu *os.File
	if cpuPath != "" {
		f, err := os.Create(cpuPath)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(stderr, "hostdrift: HOSTDRIFT_CPUPROFILE:", err)
		} else {
			cpu = f
		}
	}
	return func() {
		if cpu != nil {
			pprof.StopCPUProfile()
			cpu.Close()
		}
		if memPath != "" {
			runtime.GC() // the heap as of the last collection: make it now
			f, err := os.Create(memPath)
			if err == nil {
				err = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
			if err != nil {
				fmt.Fprintln(stderr, "hostdrift: HOSTDRIFT_MEMPROFILE:", err)
			}
		}
	}
}
