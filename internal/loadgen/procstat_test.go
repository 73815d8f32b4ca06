package loadgen_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/internal/loadgen"
)

func TestParseProcStat(t *testing.T) {
	// Fields after the command: state(3) ppid pgrp session tty_nr tpgid
	// flags minflt cminflt majflt cmajflt utime(14) stime(15) cutime ...
	const tail = " S 1 2 3 4 5 6 7 8 9 10 %s %s 999 999 20 0 12 0 100 200 300"
	for _, c := range []struct {
		comm, utime, stime string
		want               time.Duration
	}{
		{"ocsflux", "150", "50", 2 * time.Second},
		{"a b) (c", "1", "0", 10 * time.Millisecond}, // spaces and parentheses in the name
		{"x", "0", "0", 0},
	} {
		stat := "4242 (" + c.comm + ")" + strings.ReplaceAll(strings.Replace(tail, "%s", c.utime, 1), "%s", c.stime)
		got, err := loadgen.ParseProcStat([]byte(stat))
		if err != nil || got != c.want {
			t.Errorf("ParseProcStat(%q) = %s, %v; want %s", stat, got, err, c.want)
		}
	}
	for _, bad := range []string{
		"",
		"4242 ocsflux S 1 2",
		"4242 (ocsflux) S 1 2 3",
		"4242 (x) S 1 2 3 4 5 6 7 8 9 10 abc 5 6",
		"4242 (x) S 1 2 3 4 5 6 7 8 9 10 5 -6 6",
	} {
		if _, err := loadgen.ParseProcStat([]byte(bad)); err == nil {
			t.Errorf("ParseProcStat(%q): no error", bad)
		}
	}
}

func TestParseProcStatusRSS(t *testing.T) {
	status := "Name:\tocsflux\nVmPeak:\t  999999 kB\nVmRSS:\t   23456 kB\nRssAnon:\t 1 kB\n"
	if n, err := loadgen.ParseProcStatusRSS([]byte(status)); err != nil || n != 23456*1024 {
		t.Errorf("ParseProcStatusRSS = %d, %v; want %d", n, err, 23456*1024)
	}
	for _, bad := range []string{"Name:\tx\n", "VmRSS:\t12 MB\n", "VmRSS:\tx kB\n", "VmRSS:\t-1 kB\n", "VmRSS:\n"} {
		if _, err := loadgen.ParseProcStatusRSS([]byte(bad)); err == nil {
			t.Errorf("ParseProcStatusRSS(%q): no error", bad)
		}
	}
}

// TestParseOwnProc reads this test process's real /proc files.
func TestParseOwnProc(t *testing.T) {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatalf("this test needs Linux's /proc: %v", err)
	}
	// Burn some CPU so that at least one clock tick is on the books.
	deadline := time.Now().Add(50 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	stat, _ = os.ReadFile("/proc/self/stat")
	cpu, err := loadgen.ParseProcStat(stat)
	if err != nil || cpu <= 0 {
		t.Errorf("own CPU time %s, %v; want > 0", cpu, err)
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	rss, err := loadgen.ParseProcStatusRSS(status)
	if err != nil || rss < 1<<20 {
		t.Errorf("own RSS %d, %v; want at least 1 MiB", rss, err)
	}
}
