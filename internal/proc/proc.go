// Package proc holds what the test harnesses that run real servers as
// child processes (internal/influxd, internal/vmtest) share: a free
// loopback port below the ephemeral range, and their captured output.
package proc

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
)

// Ports are drawn below Linux's ephemeral range (32768 and up), which every
// other server and client of the tests takes its ports from (listeners on
// :0, outgoing connections). A port freed while a server is down for an
// outage test (Kill, then Resume on the same port) is then not handed to
// another process meanwhile; without this another package's server could
// take it and answer in the server's place.
const (
	portLow  = 20000
	portHigh = 32000
)

// FreePort returns a loopback port that was free a moment ago.
func FreePort() (int, error) {
	var err error
	for range 100 {
		port := portLow + rand.IntN(portHigh-portLow)
		var l net.Listener
		if l, err = net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			l.Close()
			return port, nil
		}
	}
	return 0, fmt.Errorf("find a free port in %d-%d: %w", portLow, portHigh, err)
}

// Tail is the last n bytes of s, for error messages.
func Tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// Output collects a child process's output; it is safe for concurrent
// use. The zero value is ready.
type Output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Output) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written ("" for a nil Output).
func (b *Output) String() string {
	if b == nil {
		return ""
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
