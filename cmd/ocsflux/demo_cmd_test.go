package main

import (
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// closedURL returns an http URL on a loopback port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// TestDemo runs `ocsflux demo --duration 8s` as a newcomer would: with no
// InfluxDB at --influx-url it starts a throwaway influxd, runs the router,
// two fake-data agents and the publisher, and exits 0 only when InfluxDB
// holds points from both fake agents. The test also reads the counts the
// demo printed from its InfluxQL query.
func TestDemo(t *testing.T) {
	r := runMain(t, nil, "", "demo", "--duration", "8s", "--influx-url", closedURL(t),
		"--sample-rate", "20")
	if r.code != 0 {
		t.Fatalf("demo exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"starting a throwaway influxd", "router:", "Grafana data source"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
	counts := regexp.MustCompile(`FROM "observatory\.(fake-data[12])"[^\n]*\n\s+(\d+) points`).
		FindAllStringSubmatch(r.stdout, -1)
	if len(counts) != 2 {
		t.Fatalf("demo printed %d point counts, want 2:\n%s", len(counts), r.stdout)
	}
	for _, c := range counts {
		// 8 s at 20 Hz; the first report comes after a second and the
		// stop flushes the rest, so expect well over 5 s worth.
		if n, _ := strconv.Atoi(c[2]); n < 100 {
			t.Errorf("%s: %d points in InfluxDB, want at least 100", c[1], n)
		}
	}
	if !regexp.MustCompile(`record running .* written +[1-9]`).MatchString(r.stdout) {
		t.Errorf("no status line showed written points:\n%s", r.stdout)
	}
}

func TestDemoUsage(t *testing.T) {
	for _, args := range [][]string{
		{"demo", "--duration", "-1s"},
		{"demo", "--num-channels", "0"},
		{"demo", "--influx-url", "ftp://x"},
	} {
		if r := runMain(t, nil, "", args...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %s)", args, r.code, r.stderr)
		}
	}
}
