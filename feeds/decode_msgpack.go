package feeds

import (
	"encoding/binary"
	"math"

	"github.com/gammazero/nexus/v3/wamp"
)

// DecodeMsgpackEvent decodes a WAMP EVENT message serialized with msgpack
// (the payload of a "wamp.2.msgpack" WebSocket message) into what nexus's
// serialize.MessagePackSerializer.Deserialize returns for it: the same
// message, with the same Go types and values in Details, Arguments and
// ArgumentsKw (objects map[string]any, lists []any, integers int64 or, for
// msgpack's unsigned encodings, uint64, floats float64, strings string),
// without nexus's reflection. Feed events are most of what a subscriber
// receives; decoding them is most of its work.
//
// ok is false, and nothing is returned, when data is not an EVENT, is not
// well-formed, or holds anything beyond nil, bools, numbers, strings,
// lists and string-keyed objects (binary, extension types, other map keys,
// duplicate keys, nesting deeper than maxMsgpackDepth, trailing bytes): the
// caller then decodes data with nexus's serializer, which decides.
func DecodeMsgpackEvent(data []byte) (ev *wamp.Event, ok bool) {
	d := mpDecoder{b: data}
	n, ok := d.arrayLen()
	if !ok || n < 4 || n > 6 {
		return nil, false
	}
	typ, ok := d.uint()
	if !ok || typ != uint64(wamp.EVENT) {
		return nil, false
	}
	sub, ok := d.uint()
	if !ok {
		return nil, false
	}
	pub, ok := d.uint()
	if !ok {
		return nil, false
	}
	ev = &wamp.Event{Subscription: wamp.ID(sub), Publication: wamp.ID(pub)}
	for i := 3; i < n; i++ {
		v, ok := d.value(0)
		if !ok {
			return nil, false
		}
		switch x := v.(type) {
		case nil:
			// nexus leaves the field zero.
		case map[string]any:
			if i == 4 {
				return nil, false // Arguments must be a list
			}
			if i == 3 {
				ev.Details = x
			} else {
				ev.ArgumentsKw = x
			}
		case []any:
			if i != 4 {
				return nil, false
			}
			ev.Arguments = x
		default:
			return nil, false
		}
	}
	if len(d.b) != d.i {
		return nil, false
	}
	return ev, true
}

// maxMsgpackDepth bounds the nesting DecodeMsgpackEvent decodes itself.
const maxMsgpackDepth = 64

// mpDecoder reads msgpack values from b[i:].
type mpDecoder struct {
	b []byte
	i int
}

// take returns the next n bytes.
func (d *mpDecoder) take(n int) ([]byte, bool) {
	if n < 0 || n > len(d.b)-d.i {
		return nil, false
	}
	p := d.b[d.i : d.i+n]
	d.i += n
	return p, true
}

// length reads a big-endian length of size 1, 2 or 4 bytes.
func (d *mpDecoder) length(size int) (int, bool) {
	p, ok := d.take(size)
	if !ok {
		return 0, false
	}
	switch size {
	case 1:
		return int(p[0]), true
	case 2:
		return int(binary.BigEndian.Uint16(p)), true
	}
	n := binary.BigEndian.Uint32(p)
	if uint64(n) > uint64(len(d.b)) {
		return 0, false // cannot fit: each element has at least one byte
	}
	return int(n), true
}

// arrayLen reads an array header.
func (d *mpDecoder) arrayLen() (int, bool) {
	if d.i >= len(d.b) {
		return 0, false
	}
	c := d.b[d.i]
	d.i++
	switch {
	case c >= 0x90 && c <= 0x9f:
		return int(c & 0x0f), true
	case c == 0xdc:
		return d.length(2)
	case c == 0xdd:
		return d.length(4)
	}
	return 0, false
}

// uint reads a non-negative integer in any encoding (the message type and
// the IDs).
func (d *mpDecoder) uint() (uint64, bool) {
	v, ok := d.value(maxMsgpackDepth)
	if !ok {
		return 0, false
	}
	switch x := v.(type) {
	case int64:
		if x >= 0 {
			return uint64(x), true
		}
	case uint64:
		return x, true
	}
	return 0, false
}

// value reads one value as nexus's msgpack handle decodes it into an
// interface.
func (d *mpDecoder) value(depth int) (any, bool) {
	if d.i >= len(d.b) {
		return nil, false
	}
	c := d.b[d.i]
	d.i++
	switch {
	case c <= 0x7f:
		return int64(c), true
	case c >= 0xe0:
		return int64(int8(c)), true
	case c >= 0xa0 && c <= 0xbf:
		return d.str(int(c & 0x1f))
	case c >= 0x90 && c <= 0x9f:
		return d.array(int(c&0x0f), depth)
	case c >= 0x80 && c <= 0x8f:
		return d.object(int(c&0x0f), depth)
	}
	switch c {
	case 0xc0:
		return nil, true
	case 0xc2:
		return false, true
	case 0xc3:
		return true, true
	case 0xcb:
		p, ok := d.take(8)
		if !ok {
			return nil, false
		}
		return math.Float64frombits(binary.BigEndian.Uint64(p)), true
	case 0xca:
		p, ok := d.take(4)
		if !ok {
			return nil, false
		}
		return float64(math.Float32frombits(binary.BigEndian.Uint32(p))), true
	case 0xcc, 0xcd, 0xce, 0xcf:
		p, ok := d.take(1 << (c - 0xcc))
		if !ok {
			return nil, false
		}
		return bigEndian(p), true
	case 0xd0, 0xd1, 0xd2, 0xd3:
		p, ok := d.take(1 << (c - 0xd0))
		if !ok {
			return nil, false
		}
		return signExtend(bigEndian(p), len(p)), true
	case 0xd9, 0xda, 0xdb:
		n, ok := d.length(1 << (c - 0xd9))
		if !ok {
			return nil, false
		}
		return d.str(n)
	case 0xdc, 0xdd:
		n, ok := d.length(2 << (c - 0xdc))
		if !ok {
			return nil, false
		}
		return d.array(n, depth)
	case 0xde, 0xdf:
		n, ok := d.length(2 << (c - 0xde))
		if !ok {
			return nil, false
		}
		return d.object(n, depth)
	}
	return nil, false // binary, extension types, 0xc1
}

func bigEndian(p []byte) uint64 {
	var u uint64
	for _, b := range p {
		u = u<<8 | uint64(b)
	}
	return u
}

// signExtend reads the n-byte two's complement integer u.
func signExtend(u uint64, n int) int64 {
	shift := 64 - 8*n
	return int64(u<<shift) >> shift
}

func (d *mpDecoder) str(n int) (any, bool) {
	p, ok := d.take(n)
	if !ok {
		return nil, false
	}
	return string(p), true
}

// key reads a string, copied: a map key (which must be a string) or a
// string value.
func (d *mpDecoder) key() (string, bool) {
	p, ok := d.keyBytes()
	if !ok {
		return "", false
	}
	return string(p), true
}

func (d *mpDecoder) array(n, depth int) (any, bool) {
	if depth >= maxMsgpackDepth || n > len(d.b)-d.i {
		return nil, false
	}
	l := make([]any, n)
	for k := range l {
		v, ok := d.value(depth + 1)
		if !ok {
			return nil, false
		}
		l[k] = v
	}
	return l, true
}

func (d *mpDecoder) object(n, depth int) (any, bool) {
	if depth >= maxMsgpackDepth || 2*n > len(d.b)-d.i {
		return nil, false
	}
	m := make(map[string]any, n)
	for range n {
		k, ok := d.key()
		if !ok {
			return nil, false
		}
		v, ok := d.value(depth + 1)
		if !ok {
			return nil, false
		}
		m[k] = v
	}
	if len(m) != n {
		return nil, false // duplicate keys: nexus merges them its own way
	}
	return m, true
}
