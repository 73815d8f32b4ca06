// Package wampguard wraps a nexus transport peer so that nothing sending on
// it can block forever or panic once the connection is gone.
//
// nexus's WebSocket peer has an unbuffered send channel that nobody reads
// after its writer stopped and that Close closes, so a Publish racing with
// a lost connection could hang or hit a closed channel. A guarded peer's
// sends go to a buffered channel that is never closed; a forwarder passes
// them on while the connection lives and discards them once it is dead.
package wampguard

import (
	"sync"

	"github.com/gammazero/nexus/v3/wamp"
)

// peer is the guarded peer.
type peer struct {
	inner    wamp.Peer
	wr       chan wamp.Message
	rd       chan wamp.Message
	stop     chan struct{}
	dead     chan struct{} // closed when the inner peer's receive channel closed
	sendDone chan struct{}
	recvDone chan struct{}
	once     sync.Once
}

// New guards inner. sendQueue messages may wait to be sent, recvQueue
// received messages may wait for the reader (a burst is then handed over
// without a goroutine switch per message). Close closes inner.
func New(inner wamp.Peer, sendQueue, recvQueue int) wamp.Peer {
	g := &peer{
		inner:    inner,
		wr:       make(chan wamp.Message, sendQueue),
		rd:       make(chan wamp.Message, recvQueue),
		stop:     make(chan struct{}),
		dead:     make(chan struct{}),
		sendDone: make(chan struct{}),
		recvDone: make(chan struct{}),
	}
	go g.forwardSend()
	go g.forwardRecv()
	return g
}

func (g *peer) Recv() <-chan wamp.Message { return g.rd }
func (g *peer) Send() chan<- wamp.Message { return g.wr }
func (g *peer) IsLocal() bool             { return g.inner.IsLocal() }

// Close stops the forwarders and closes the inner peer. Nothing may Send
// after Close.
func (g *peer) Close() {
	g.once.Do(func() {
		close(g.stop)
		<-g.sendDone
		g.inner.Close()
		<-g.recvDone
	})
}

func (g *peer) forwardSend() {
	defer close(g.sendDone)
	for {
		select {
		case m := <-g.wr:
			select {
			case g.inner.Send() <- m:
			case <-g.dead: // connection gone: the message is lost
			case <-g.stop:
				return
			}
		case <-g.stop:
			return
		}
	}
}

// forwardRecv passes received messages on until the inner peer's channel
// closes; after Close it keeps draining (discarding) so the inner peer can
// finish.
func (g *peer) forwardRecv() {
	defer close(g.recvDone)
	defer close(g.dead)
	defer close(g.rd)
	for m := range g.inner.Recv() {
		select {
		case g.rd <- m:
		case <-g.stop:
		}
	}
}
