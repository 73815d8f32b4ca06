package agents

import (
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"
)

// Events the connection cannot decode.
//
// nexus's WebSocket peer (transport/websocketpeer.go, recvHandler) logs a
// message its serializer fails to decode at the client logger's level
// (debug here) and drops it; for an EVENT whose payload nests a value
// deeper than the decoder allows, that would lose the whole event without
// trace. The connection's serializer (eventMsgpack, guardedSerializer)
// therefore decodes the head of such an EVENT, [36, subscription,
// publication, details], on its own and passes the event on with a
// *badPayload for Arguments, which Subscription.onEvent turns into
// Event.Err: the subscription's handler sees the event and why it could
// not be decoded. A message that is not such an EVENT is logged at warning
// level before nexus drops it.

// maxDecodeDepth is the nesting limit of nexus's serializers (the default
// MaxDepth of github.com/ugorji/go/codec, which they keep): decoding fails
// at the 1024th level of nested lists and objects, the message itself
// being the first.
const maxDecodeDepth = 1024

// badPayload stands, as the only element of an EVENT's Arguments, for a
// payload the connection could not decode.
type badPayload struct {
	err error
	raw *rawPayload // a copy of the message, for a raw subscription on msgpack; else nil
}

// undecodable handles the messages a connection's serializer could not
// decode. event runs on the receive goroutine only.
type undecodable struct {
	ser  serialize.Serializer     // the connection's (nexus's) serializer
	head func(data []byte) []byte // data cut to its first four elements in a new buffer, nil if it cannot be
	log  *slog.Logger
	lost atomic.Uint64 // messages dropped
}

func newUndecodable(ser serialize.Serializer, head func([]byte) []byte, log *slog.Logger) *undecodable {
	return &undecodable{ser: ser, head: head, log: log}
}

// event returns the EVENT data is, as an event with a *badPayload (raw
// nil) for Arguments, when its serializer failed with err on its payload
// but its head decodes; nil for anything else, after logging it.
func (u *undecodable) event(data []byte, err error) *wamp.Event {
	if h := u.head(data); h != nil {
		if msg, herr := u.ser.Deserialize(h); herr == nil {
			if ev, ok := msg.(*wamp.Event); ok {
				// Without payload passthru nexus's client calls the handler
				// with Arguments as they are.
				delete(ev.Details, wamp.OptPPTScheme)
				ev.Arguments, ev.ArgumentsKw = wamp.List{&badPayload{err: describeDecodeError(err)}}, nil
				return ev
			}
		}
	}
	if n := u.lost.Add(1); n == 1 || n%1000 == 0 {
		u.log.Warn("cannot decode a message from the router; dropped", "err", err, "count", n)
	}
	return nil
}

// describeDecodeError says why the payload of an event could not be
// decoded.
func describeDecodeError(err error) error {
	if strings.Contains(err.Error(), "maximum decoding depth exceeded") { // the codec's error is not exported
		// Levels count the message itself.
		return fmt.Errorf("a value is nested deeper than %d levels (the WAMP decoder's limit): %w", maxDecodeDepth-1, err)
	}
	return fmt.Errorf("cannot decode the payload: %w", err)
}

// guardedSerializer is a nexus serializer that passes on the EVENTs it
// cannot decode (see undecodable).
type guardedSerializer struct {
	serialize.Serializer
	bad *undecodable
}

func (s *guardedSerializer) Deserialize(data []byte) (wamp.Message, error) {
	msg, err := s.Serializer.Deserialize(data)
	if err != nil {
		if ev := s.bad.event(data, err); ev != nil {
			return ev, nil
		}
	}
	return msg, err
}

// msgpackEventHead cuts a msgpack message of five or six elements to its
// first four: [36, subscription, publication, details] for an EVENT.
func msgpackEventHead(data []byte) []byte {
	return cutArray(data, 0x94, func(c byte) (int, bool) {
		switch c {
		case 0x95, 0x96: // fixarray
			return 1, true
		case 0xdc: // array 16
			return 3, true
		case 0xdd: // array 32
			return 5, true
		}
		return 0, false
	})
}

// cborEventHead is msgpackEventHead for CBOR (definite-length arrays).
func cborEventHead(data []byte) []byte {
	return cutArray(data, 0x84, func(c byte) (int, bool) {
		switch c {
		case 0x85, 0x86:
			return 1, true
		case 0x98, 0x99, 0x9a, 0x9b: // length in 1, 2, 4, 8 bytes
			return 1 + 1<<(c-0x98), true
		}
		return 0, false
	})
}

// cutArray replaces the array header of data, of size given by header, by
// four (the encoding's header four): the decoders read the first four
// elements and ignore the rest.
func cutArray(data []byte, four byte, header func(c byte) (int, bool)) []byte {
	if len(data) == 0 {
		return nil
	}
	n, ok := header(data[0])
	if !ok || n >= len(data) {
		return nil
	}
	h := make([]byte, 1+len(data)-n)
	h[0] = four
	copy(h[1:], data[n:])
	return h
}

// jsonEventHead cuts a JSON message [36, subscription, publication,
// details, ...] to [36, subscription, publication, details].
func jsonEventHead(data []byte) []byte {
	i := jsonSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return nil
	}
	start := i
	i++
	for range 3 { // type and IDs
		i = jsonSpace(data, i)
		j := i
		for j < len(data) && data[j] >= '0' && data[j] <= '9' {
			j++
		}
		if j == i {
			return nil
		}
		i = jsonSpace(data, j)
		if i >= len(data) || data[i] != ',' {
			return nil
		}
		i++
	}
	i = jsonSpace(data, i)
	if i >= len(data) || data[i] != '{' {
		return nil
	}
	end := jsonContainerEnd(data, i)
	if end < 0 {
		return nil
	}
	h := make([]byte, 0, end-start+1)
	h = append(h, data[start:end]...)
	return append(h, ']')
}

func jsonSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// jsonContainerEnd returns the index after the object or array that
// starts at data[i], -1 if it does not end.
func jsonContainerEnd(data []byte, i int) int {
	depth := 0
	for ; i < len(data); i++ {
		switch data[i] {
		case '"':
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}
