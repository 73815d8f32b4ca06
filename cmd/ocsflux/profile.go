package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// envCPUProfile names a file for a CPU profile of the agent command's whole
// run (written when the agent stops), for `go tool pprof`.
const envCPUProfile = "OCSFLUX_CPUPROFILE"

// startCPUProfile starts profiling into path and returns the function that
// stops and closes it.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
