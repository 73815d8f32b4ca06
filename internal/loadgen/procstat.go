package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// ClockTick is the unit of utime and stime in /proc/PID/stat: 1/USER_HZ,
// which Linux fixes at 100 Hz for user space on every architecture Go
// supports. It is also the resolution of the CPU figures.
const ClockTick = 10 * time.Millisecond

// ParseProcStat returns the CPU time (utime + stime, fields 14 and 15) in
// the contents of /proc/PID/stat. The command name (field 2) is in
// parentheses and may itself contain spaces and parentheses, so the fields
// are counted from the last ')'.
func ParseProcStat(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc stat: no ')' after the command name")
	}
	// After ')': field 3 (state) is the first.
	f := bytes.Fields(stat[i+1:])
	const utime, stime = 14 - 3, 15 - 3
	if len(f) <= stime {
		return 0, fmt.Errorf("/proc stat: %d fields after the command name, want at least %d", len(f), stime+1)
	}
	u, err := strconv.ParseUint(string(f[utime]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc stat: utime: %w", err)
	}
	s, err := strconv.ParseUint(string(f[stime]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc stat: stime: %w", err)
	}
	return time.Duration(u+s) * ClockTick, nil
}

// ParseProcStatusRSS returns VmRSS, in bytes, from the contents of
// /proc/PID/status ("VmRSS:     1234 kB").
func ParseProcStatusRSS(status []byte) (int64, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("/proc status: VmRSS line %q: want <n> kB", bytes.TrimSpace(line))
		}
		n, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("/proc status: VmRSS line %q: want <n> kB", bytes.TrimSpace(line))
		}
		return n << 10, nil
	}
	return 0, fmt.Errorf("/proc status: no VmRSS line (a zombie or kernel thread?)")
}

// procCPU reads process pid's CPU time so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("publisher pid %d: %w", pid, err)
	}
	d, err := ParseProcStat(b)
	if err != nil {
		return 0, fmt.Errorf("publisher pid %d: %w", pid, err)
	}
	return d, nil
}

// procRSS reads process pid's resident set size in bytes.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("publisher pid %d: %w", pid, err)
	}
	n, err := ParseProcStatusRSS(b)
	if err != nil {
		return 0, fmt.Errorf("publisher pid %d: %w", pid, err)
	}
	return n, nil
}

// rssInterval is how often the RSS is sampled during a step.
const rssInterval = 100 * time.Millisecond

// rssSampler keeps the largest RSS of a process seen while it runs.
type rssSampler struct {
	pid  int
	mu   sync.Mutex
	max  int64
	err  error
	done chan struct{}
}

// sampleRSS samples pid's RSS now and every rssInterval until ctx is done;
// Wait returns the maximum.
func sampleRSS(ctx context.Context, pid int) *rssSampler {
	s := &rssSampler{pid: pid, done: make(chan struct{})}
	go s.run(ctx)
	return s
}

func (s *rssSampler) run(ctx context.Context) {
	defer close(s.done)
	tick := time.NewTicker(rssInterval)
	defer tick.Stop()
	for {
		s.sample()
		select {
		case <-ctx.Done():
			s.sample()
			return
		case <-tick.C:
		}
	}
}

func (s *rssSampler) sample() {
	n, err := procRSS(s.pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.err == nil {
			s.err = err
		}
		return
	}
	s.max = max(s.max, n)
}

// wait waits for the sampler to stop (its ctx must be done) and returns the
// largest RSS seen, or the first read error when none was read.
func (s *rssSampler) wait() (int64, error) {
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.max == 0 && s.err != nil {
		return 0, s.err
	}
	return s.max, nil
}
