package agents

import (
	"time"
)

// heartbeatFeed is the name of the feed every agent publishes its op codes
// on, once per second while joined.
const heartbeatFeed = "heartbeat"

// orderedMap is a dict that keeps its key order on the wire: the ugorji
// codec behind nexus's JSON, msgpack and CBOR serializers encodes a
// MapBySlice slice [k1, v1, k2, v2, ...] as a map in that order. (A
// subscriber attached to an in-process router through a local peer, with no
// serialization, would see the slice itself.)
type orderedMap []any

// MapBySlice marks orderedMap for the codec.
func (orderedMap) MapBySlice() {}

// ensureHeartbeatFeed registers the heartbeat feed at the first join
// (record false, agg_params {}, buffer_time 0) and returns it.
func (a *Agent) ensureHeartbeatFeed() *Feed {
	a.mu.Lock()
	defer a.mu.Unlock()
	if f := a.feedByName[heartbeatFeed]; f != nil {
		return f
	}
	f, _ := a.addFeedLocked(FeedSpec{Name: heartbeatFeed}) // cannot fail: not recorded
	return f
}

// runHeartbeat publishes the op codes now and then every second until stop
// is closed. The message is {op_name: op_code} in op registration order,
// 1 for ops without a session.
func (a *Agent) runHeartbeat(hb *Feed, stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		a.beat(hb)
		select {
		case <-t.C:
		case <-stop:
			return
		}
	}
}

func (a *Agent) beat(hb *Feed) {
	if a.heartbeatOff.Load() {
		return
	}
	var codes []any
	if !a.ops.do(func() { codes = a.ops.opCodes() }) {
		return
	}
	if err := hb.send(orderedMap(codes)); err != nil {
		a.log.Debug("heartbeat not sent", "err", err)
	}
}
