package router_test

import (
	"bufio"
	"context"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/agents/client/clienttest"
	"github.com/ocsflux/ocsflux/agents/router"
)

// python is Debian's interpreter, which has python3-autobahn (the python3
// first on PATH may not).
const python = "/usr/bin/python3"

func requireAutobahn(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("interop test needs %s with autobahn (Debian: apt-get install python3-autobahn): %v", python, err)
	}
	if out, err := exec.Command(python, "-c", "import autobahn.twisted.wamp").CombinedOutput(); err != nil {
		t.Fatalf("interop test needs autobahn for %s (Debian: apt-get install python3-autobahn): %v\n%s", python, err, out)
	}
}

// pyPeer runs testdata/autobahn_peer.py and hands out its stdout lines.
type pyPeer struct {
	t     *testing.T
	lines chan string
	cmd   *exec.Cmd
	done  chan error
}

func startPyPeer(t *testing.T, r *router.Router, mode string) *pyPeer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, python, "testdata/autobahn_peer.py", r.WSURL(), realm, mode)
	cmd.Stderr = newTestLog(t)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", python, err)
	}
	p := &pyPeer{t: t, lines: make(chan string, 100), cmd: cmd, done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cancel()
		<-p.done
	})
	return p
}

// expect returns the rest of the next line that starts with word.
func (p *pyPeer) expect(word string) string {
	p.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("python peer exited before printing %s", word)
			}
			p.t.Logf("python: %s", line)
			if rest, found := strings.CutPrefix(line, word+" "); found {
				return rest
			}
			if line == word {
				return ""
			}
		case <-timeout:
			p.t.Fatalf("python peer did not print %s within 30 s", word)
		}
	}
}

// TestAutobahnInterop runs a real autobahn-python peer (the library every
// OCS agent uses) against the router: subprotocol choice in its order,
// registration, not_authorized outside the address root, typed values
// from Python to a Go msgpack subscriber and back, details.topic on
// wildcard events, and calls through the HTTP bridge.
func TestAutobahnInterop(t *testing.T) {
	requireAutobahn(t)
	for _, mode := range []string{"default", "json"} {
		t.Run(mode, func(t *testing.T) {
			r := startRouter(t, router.Config{})
			goSub := connect(t, r, serialize.MSGPACK)
			events := make(chan *wamp.Event, 1)
			if err := goSub.SubscribeChan("observatory.pyagent.feeds.test", events, nil); err != nil {
				t.Fatal(err)
			}

			py := startPyPeer(t, r, mode)
			offered := strings.Split(py.expect("OFFERED"), ",")
			want, ok := router.ChooseSubprotocol(offered)
			if !ok {
				t.Fatalf("router speaks none of autobahn's %q", offered)
			}
			if got := py.expect("PROTOCOL"); got != want {
				t.Errorf("negotiated %q, want %q (first of %q the router speaks)", got, want, offered)
			}
			if mode == "json" && want != router.ProtocolJSON {
				t.Errorf("json mode negotiated %q", want)
			}
			if got := py.expect("NOTAUTH"); got != string(wamp.ErrNotAuthorized) {
				t.Errorf("registering outside the address root gave %q, want %s", got, wamp.ErrNotAuthorized)
			}
			py.expect("READY")
			py.expect("PUBLISHED")

			select {
			case ev := <-events:
				p := asDict(t, ev.Arguments[0])
				if !isInteger(p["i"]) {
					t.Errorf("Python int 2 arrived as %T %#v", p["i"], p["i"])
				}
				if p["f"] != 2.0 || p["big"] != 1e16 {
					t.Errorf("Python floats 2.0, 1e16 arrived as %T %#v, %T %#v", p["f"], p["f"], p["big"], p["big"])
				}
				if f, _ := p["nan"].(float64); !math.IsNaN(f) {
					t.Errorf("Python nan arrived as %#v", p["nan"])
				}
				if p["ninf"] != math.Inf(-1) {
					t.Errorf("Python -inf arrived as %#v", p["ninf"])
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Go subscriber got no event from Python")
			}

			// Go → Python: types and the concrete topic on a wildcard event.
			goPub := connect(t, r, serialize.MSGPACK)
			if err := goPub.Publish("observatory.goagent.feeds.x", nil, wamp.List{wamp.Dict{"f": 2.0, "i": 2}}, nil); err != nil {
				t.Fatal(err)
			}
			if got, want := py.expect("EVENT"), "observatory.goagent.feeds.x [[('f', 2.0), ('i', 2)]]"; got != want {
				t.Errorf("Python received %q, want %q", got, want)
			}

			// OCSClient's way: the HTTP bridge, to a Python callee.
			st, _, reply := postCall(t, r.CallURL(), `{"procedure": "observatory.pyagent.ops", "args": ["status", "record", {}], "kwargs": {"timeout": 2.0}}`)
			if st != 200 {
				t.Fatalf("bridge call: %d %s", st, reply)
			}
			if got, want := py.expect("CALLED"), "['status', 'record', {}] {'timeout': 2.0}"; got != want {
				t.Errorf("Python callee got %q, want %q", got, want)
			}
			m := decodeObject(t, reply)
			res := m["args"].([]any)[0].([]any)
			sess := res[2].(map[string]any)
			if res[0] != int64(0) || sess["f"] != 2.0 || sess["i"] != int64(2) {
				t.Errorf("bridge reply %s", reply)
			}
			if _, ok := m["kwargs"]; ok {
				t.Errorf("bridge reply has kwargs: %s", reply)
			}

			if st, _, reply := postCall(t, r.CallURL(), `{"procedure": "observatory.pyagent.quit", "args": [], "kwargs": {}}`); st != 200 || reply != `{"args":["bye"]}` {
				t.Errorf("quit: %d %s", st, reply)
			}
			py.expect("BYE")
			select {
			case err := <-py.done:
				py.done <- err
				if err != nil {
					t.Errorf("python peer: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("python peer did not exit")
			}
		})
	}
}

// TestPythonRequestsBridge calls the bridge from Python with the request
// OCS's client_http.py sends through requests (json.dumps string body, no
// Content-Type, requests' default headers) and checks what OCSClient would
// see: results with Python types, and ControlClientError's 7-element lists.
func TestPythonRequestsBridge(t *testing.T) {
	requireAutobahn(t)
	r := startRouter(t, router.Config{})
	clienttest.Start(t, r.WSURL(), "observatory", "influxagent")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "testdata/client_http_peer.py", r.CallURL(), "observatory.influxagent")
	cmd.Stderr = newTestLog(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("client_http_peer.py: %v\n%s", err, out)
	}
	want := []string{
		`api ok ('InfluxDBAgent', 'int', 'float')`,
		`status ok (0, 'No session active.', None, 'NoneType', None)`,
		`start ok (0, 'Started process "record".', 0, 'float', 'starting')`,
		`wait ok (1, 'Operation "record" still running; wait timed out.', 0, 'float', 'running')`,
		`nobody error [0, 0, 0, 0, 'wamp.error.no_such_procedure', ['no callee registered for procedure <observatory.nobody.ops>'], {}]`,
		`wrongpath error [0, 0, 0, 0, 'client_http.error.request_error', ['Server replied with code 404'], {}]`,
	}
	if got := strings.Split(strings.TrimSpace(string(out)), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("python saw\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
