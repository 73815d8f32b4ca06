package agents

import (
	"fmt"
	"sync/atomic"

	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/feeds"
)

// Match is a WAMP subscription match policy.
type Match string

// The match policies. Wildcard follows the WAMP spec: same number of
// dot-separated components, every non-empty pattern component equal
// ("observatory..feeds." matches observatory.X.feeds.Y).
const (
	MatchExact    Match = "exact"
	MatchPrefix   Match = "prefix"
	MatchWildcard Match = "wildcard"
)

// Event is one received event. Args and Kwargs are as decoded by the WAMP
// serializer (numbers are int64, uint64 or float64; objects
// map[string]any; arrays []any). For an OCS feed event Args has one
// element, the pair [message, feed_info]. The handler owns the Event.
type Event struct {
	// Topic is the concrete topic (the router's details.topic for pattern
	// subscriptions, else the subscribed topic).
	Topic   string
	Args    []any
	Kwargs  map[string]any
	Details map[string]any
	// Raw is set only for a subscription made with RawMsgpack, on a
	// msgpack connection: the EVENT message as received, the msgpack
	// array [36, subscription, publication, details, args(, kwargs)].
	// Args and Kwargs are then nil until DecodeRaw decodes it. Raw is
	// valid only while the handler runs: its memory is reused after.
	Raw []byte
	// Err is set for an event the connection could not decode (a value
	// nested deeper than the decoder allows, ...): it names the topic and
	// the problem; Args, Kwargs and Raw are nil (Details and Topic are
	// there). A handler checks it first.
	Err error

	raw *rawPayload // Raw's memory, released after the handler
}

// DecodeRaw decodes Raw into Args and Kwargs as the connection's
// serializer would have, for a handler that cannot use Raw as it is; it
// does nothing when Raw is nil. An error means the message is not a
// well-formed EVENT (the serializer could not have decoded it either). It
// returns Err when that is set.
func (e *Event) DecodeRaw() error {
	if e.Err != nil {
		return e.Err
	}
	if e.Raw == nil {
		return nil
	}
	ev, ok := feeds.DecodeMsgpackEvent(e.Raw)
	if !ok {
		msg, err := (&serialize.MessagePackSerializer{}).Deserialize(e.Raw)
		if err != nil {
			return fmt.Errorf("decode event on %s: %w", e.Topic, err)
		}
		if ev, ok = msg.(*wamp.Event); !ok {
			return fmt.Errorf("decode event on %s: got a %s message", e.Topic, msg.MessageType())
		}
	}
	e.Args, e.Kwargs = ev.Arguments, ev.ArgumentsKw
	return nil
}

// SubscribeOption changes how a subscription receives its events.
type SubscribeOption func(*Subscription)

// RawMsgpack makes the subscription's events arrive undecoded on msgpack
// connections (the default serialization): Event.Raw holds the message,
// and the connection decodes only its IDs and Details, so that a handler
// that decodes the payload itself saves the generic decoding. On JSON and
// CBOR connections, and for the events that arrive before the
// subscription is confirmed or that ask for payload passthru, events
// arrive decoded as without the option (Raw nil); an event the connection
// could not decode arrives with Event.Err.
func RawMsgpack() SubscribeOption {
	return func(s *Subscription) { s.raw = true }
}

// EventHandler handles events of one subscription.
type EventHandler func(ev *Event)

// Subscription is a subscription the agent makes on every join, exactly
// once per join.
type Subscription struct {
	topic   string
	match   Match
	handler EventHandler
	queue   chan *Event // nil: the handler runs on the receive goroutine
	raw     bool        // RawMsgpack
	a       *Agent

	received atomic.Uint64
	dropped  atomic.Uint64
	panics   atomic.Uint64
}

// Topic returns the subscribed topic or pattern.
func (s *Subscription) Topic() string { return s.topic }

// Received counts events that reached the subscription (including dropped
// ones).
func (s *Subscription) Received() uint64 { return s.received.Load() }

// Dropped counts events dropped because the queue was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Subscribe adds a subscription whose handler runs on the WAMP client's
// receive goroutine, in arrival order. The handler MUST NOT block (while it
// runs no RPC reply or event is read and the router drops events for this
// agent): it should filter, copy what it needs and hand off without
// blocking, counting what it drops. Call before Run.
func (a *Agent) Subscribe(topic string, match Match, h EventHandler, opts ...SubscribeOption) (*Subscription, error) {
	return a.subscribe(topic, match, 0, h, opts)
}

// SubscribeQueued adds a subscription whose handler runs on its own
// goroutine, fed by a queue of queueLen events; when the queue is full new
// events are dropped and counted. Call before Run.
func (a *Agent) SubscribeQueued(topic string, match Match, queueLen int, h EventHandler, opts ...SubscribeOption) (*Subscription, error) {
	if queueLen <= 0 {
		return nil, fmt.Errorf("subscribe %q on %s: queue length must be positive", topic, a.address)
	}
	return a.subscribe(topic, match, queueLen, h, opts)
}

func (a *Agent) subscribe(topic string, match Match, queueLen int, h EventHandler, opts []SubscribeOption) (*Subscription, error) {
	switch match {
	case "":
		match = MatchExact
	case MatchExact, MatchPrefix, MatchWildcard:
	default:
		return nil, fmt.Errorf("subscribe %q on %s: unknown match %q", topic, a.address, match)
	}
	if topic == "" || h == nil {
		return nil, fmt.Errorf("subscribe on %s: topic and handler are required", a.address)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.started {
		return nil, fmt.Errorf("subscribe %q on %s: subscriptions must be added before Run", topic, a.address)
	}
	for _, s := range a.subs {
		if s.topic == topic && s.match == match {
			return nil, fmt.Errorf("subscribe %q (%s) on %s: already subscribed", topic, match, a.address)
		}
	}
	s := &Subscription{topic: topic, match: match, handler: h, a: a}
	for _, o := range opts {
		o(s)
	}
	if queueLen > 0 {
		s.queue = make(chan *Event, queueLen)
	}
	a.subs = append(a.subs, s)
	return s, nil
}

// rawTopics returns the rawKey of every RawMsgpack subscription, nil if
// none.
func (a *Agent) rawTopics() map[string]bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	var m map[string]bool
	for _, s := range a.subs {
		if s.raw {
			if m == nil {
				m = map[string]bool{}
			}
			m[rawKey(s.topic, s.match)] = true
		}
	}
	return m
}

func (s *Subscription) options() wamp.Dict {
	if s.match == MatchExact {
		return wamp.Dict{}
	}
	return wamp.Dict{wamp.OptMatch: string(s.match)}
}

// onEvent is the nexus handler; it runs on the receive goroutine.
func (s *Subscription) onEvent(ev *wamp.Event) {
	s.received.Add(1)
	topic := s.topic
	if t, ok := ev.Details["topic"].(string); ok && t != "" {
		topic = t
	}
	e := &Event{Topic: topic, Args: ev.Arguments, Kwargs: ev.ArgumentsKw, Details: ev.Details}
	if len(ev.Arguments) == 1 {
		switch p := ev.Arguments[0].(type) {
		case *rawPayload:
			e.Args, e.Raw, e.raw = nil, p.data, p
			if !s.raw { // cannot happen: only raw subscriptions get them
				err := e.DecodeRaw()
				e.Raw, e.raw = nil, nil
				p.release()
				if err != nil {
					s.a.log.Warn("cannot decode event", "topic", s.topic, "err", err)
					return
				}
			}
		case *badPayload: // see undecodable
			e.Args, e.Err = nil, fmt.Errorf("decode event on %s: %w", topic, p.err)
			if p.raw != nil {
				p.raw.release()
			}
		}
	}
	if s.queue == nil {
		s.call(e)
		return
	}
	select {
	case s.queue <- e:
	default:
		e.release()
		if n := s.dropped.Add(1); n == 1 || n%1000 == 0 {
			s.a.log.Warn("subscription queue full; events dropped", "topic", s.topic, "dropped", n)
		}
	}
}

// release recycles Raw's memory.
func (e *Event) release() {
	if e.raw != nil {
		e.Raw = nil
		e.raw.release()
		e.raw = nil
	}
}

// call runs the handler, keeping a panic from killing the receive loop,
// and then recycles the event's Raw memory.
func (s *Subscription) call(e *Event) {
	defer e.release()
	defer func() {
		if r := recover(); r != nil {
			if n := s.panics.Add(1); n == 1 || n%1000 == 0 {
				s.a.log.Error("subscription handler panicked", "topic", s.topic, "panic", r, "count", n)
			}
		}
	}()
	s.handler(e)
}

// work delivers queued events until quit is closed.
func (s *Subscription) work(quit <-chan struct{}) {
	for {
		select {
		case e := <-s.queue:
			s.call(e)
		case <-quit:
			return
		}
	}
}
