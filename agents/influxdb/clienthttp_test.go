package influxdb_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestOCSClientHTTPBridge drives the real InfluxDBAgent through the
// router's HTTP caller bridge from Python, with the exact request OCS's
// client_http.py sends (a json.dumps body of procedure/args/kwargs, no
// Content-Type) and client_http.py's rules for reading the reply: the calls
// OCSClient makes for get_api, record.status(), record.start(test_mode=True)
// and record.wait(timeout=0), plus a call to an agent that is not running
// and one to a wrong path. InfluxDB does not answer, so record stays in its
// connecting phase (status running) after the start.
func TestOCSClientHTTPBridge(t *testing.T) {
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s (Debian's python3, which make test provides) is needed: %v", python, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()

	r := startRouter(t)
	startInflux(t, r, testOptions(closed, "bridge", "idle"), "", nil)

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "../router/testdata/client_http_peer.py",
		r.CallURL(), influxAddr)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("client_http_peer.py: %v\n%s\n%s", err, out, stderr.String())
	}
	want := []string{
		`api ok ('InfluxDBAgent', 'int', 'float')`,
		`status ok (0, 'No session active.', None, 'NoneType', None)`,
		`start ok (0, 'Started process "record".', 0, 'float', 'starting')`,
		`wait ok (1, 'Operation "record" still running; wait timed out.', 0, 'float', 'running')`,
		`nobody error [0, 0, 0, 0, 'wamp.error.no_such_procedure', ['no callee registered for procedure <observatory.nobody.ops>'], {}]`,
		`wrongpath error [0, 0, 0, 0, 'client_http.error.request_error', ['Server replied with code 404'], {}]`,
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("python saw\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
