package wampguard_test

import (
	"sync"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/internal/wampguard"
)

// fakePeer stands for nexus's WebSocket peer: an unbuffered send channel
// that stops being read when the connection dies, and a receive channel
// closed when the connection ends (dropped, or Close).
type fakePeer struct {
	send, recv chan wamp.Message
	closed     chan struct{}
	endOnce    sync.Once
}

func (f *fakePeer) end() { f.endOnce.Do(func() { close(f.recv) }) }

func newFake() *fakePeer {
	return &fakePeer{send: make(chan wamp.Message), recv: make(chan wamp.Message), closed: make(chan struct{})}
}

func (f *fakePeer) Send() chan<- wamp.Message { return f.send }
func (f *fakePeer) Recv() <-chan wamp.Message { return f.recv }
func (f *fakePeer) IsLocal() bool             { return false }
func (f *fakePeer) Close()                    { close(f.closed); f.end() }

func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s blocked", what)
	}
}

// TestForwardsBothWays: messages pass in both directions while the
// connection lives.
func TestForwardsBothWays(t *testing.T) {
	f := newFake()
	g := wampguard.New(f, 4, 4)
	defer within(t, "Close", g.Close)
	out := &wamp.Publish{Request: 1}
	within(t, "Send", func() { g.Send() <- out })
	within(t, "forwarding the send", func() {
		if m := <-f.send; m != out {
			t.Errorf("inner got %v", m)
		}
	})
	in := &wamp.Event{Subscription: 2}
	within(t, "receiving", func() {
		f.recv <- in
		if m := <-g.Recv(); m != in {
			t.Errorf("received %v", m)
		}
	})
}

// TestDeadConnection: once the inner peer's receive channel closed (the
// connection died), sends never block, Recv is closed, and Close closes
// the inner peer.
func TestDeadConnection(t *testing.T) {
	f := newFake()
	g := wampguard.New(f, 1, 0)
	f.end() // the connection died
	within(t, "Recv closing", func() {
		if _, ok := <-g.Recv(); ok {
			t.Error("Recv delivered a message after the connection died")
		}
	})
	within(t, "sends after the connection died", func() {
		for i := range 100 {
			g.Send() <- &wamp.Publish{Request: wamp.ID(i)}
		}
	})
	within(t, "Close", g.Close)
	select {
	case <-f.closed:
	default:
		t.Error("Close did not close the inner peer")
	}
	within(t, "a second Close", g.Close)
}
