package publisher

import (
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/influxdata/influxdb1-client/models"

	"github.com/ocsflux/ocsflux/feeds"
)

// Protocol selects how points are built, as the Python agent's --protocol.
// Either way the wire format is line protocol.
type Protocol string

const (
	// ProtocolLine (the default) writes fields in message order and
	// timestamps as int64(t*1e9) nanoseconds: byte-identical to the Python
	// agent for well-formed input.
	ProtocolLine Protocol = "line"
	// ProtocolJSON reproduces the points of the Python agent's json
	// protocol: fields sorted by key and timestamps rounded to whole
	// microseconds half to even (Python datetime). Names and strings are
	// escaped correctly (Python's client writes a newline in a string as
	// the two characters \n; ocsflux stores the newline).
	ProtocolJSON Protocol = "json"
)

// Encoder turns feed messages into InfluxDB line protocol, one line per
// sample: measurement = agent_address, one tag feed=<feed_name>, the
// block's fields, the sample time in nanoseconds. Values InfluxDB would
// refuse are left out and reported to OnReject instead (see Reason).
//
// It appends to caller-owned slices and keeps only scratch space of its
// own, so encoding allocates nothing per point once the scratch has grown.
// An Encoder is not safe for concurrent use.
type Encoder struct {
	// Protocol is ProtocolLine (also when empty) or ProtocolJSON.
	Protocol Protocol
	// OnReject, if set, is called for every rejection with a Count of the
	// values or points concerned. It may be called several times for the
	// same names; it must not keep the Encoder's caller waiting.
	OnReject func(Reject)

	msg    *feeds.Message
	msgOK  bool
	prefix []byte // "<measurement>,feed=<feed> "
	keyLen int    // length of the escaped series key: prefix without its space

	block      int // current block
	sample     int // next sample of the current block
	blockReady bool
	keys       []byte      // ",key=" of every usable field of the block
	plans      []fieldPlan // usable fields in write order
}

// fieldPlan is one usable field of the current block.
type fieldPlan struct {
	field  *feeds.Field
	key    []byte // ",key=", escaped, in Encoder.keys
	keyEnd int    // of key in Encoder.keys
	// words holds key (words[0:2]) and key without its comma (words[2:4])
	// as little-endian words, zero-padded, when key fits in 16 bytes, so
	// that appendKey stores it without a copy loop.
	words [4]uint64
}

// seriesKeyOverhead is what InfluxDB adds between series key and field key
// when it checks models.MaxKeyLength ("#!~#").
const seriesKeyOverhead = 4

// Reset starts encoding m: the following Next calls append its samples. The
// Encoder reads m while encoding; the caller must not change it before the
// last Next call.
func (e *Encoder) Reset(m *feeds.Message) {
	e.msg = m
	e.block, e.sample, e.blockReady = 0, 0, false
	e.prefix = e.prefix[:0]
	e.msgOK = true
	agent, feed := m.Info.AgentAddress, m.Info.FeedName
	switch {
	case !validName(agent, nameMeasurement):
		e.msgOK = false
		e.reject(Reject{Reason: ReasonMeasurement, Agent: agent, Feed: feed, Count: samples(m)})
	case !validName(feed, nameTag):
		e.msgOK = false
		e.reject(Reject{Reason: ReasonFeedName, Agent: agent, Feed: feed, Count: samples(m)})
	default:
		e.prefix = appendName(e.prefix, agent, nameMeasurement)
		e.prefix = append(e.prefix, ",feed="...)
		e.prefix = appendName(e.prefix, feed, nameTag)
		e.keyLen = len(e.prefix)
		e.prefix = append(e.prefix, ' ')
		if e.keyLen > models.MaxKeyLength {
			e.msgOK = false
			e.reject(Reject{Reason: ReasonMeasurement, Agent: agent, Feed: feed, Count: samples(m)})
		}
	}
}

// Next appends the next sample of the current message to dst as one line
// ending in '\n' and returns the extended slice. A sample InfluxDB could
// not store appends nothing (it is reported to OnReject). more is false,
// and dst is returned unchanged, when the message has no samples left.
func (e *Encoder) Next(dst []byte) (out []byte, more bool) {
	if e.msg == nil {
		return dst, false
	}
	if !e.msgOK {
		e.msg = nil
		return dst, false
	}
	for {
		if e.block >= len(e.msg.Blocks) {
			e.msg = nil
			clear(e.plans) // keep no pointer into the message
			return dst, false
		}
		b := &e.msg.Blocks[e.block]
		if e.sample < len(b.Timestamps) {
			if !e.blockReady {
				e.planBlock(b)
				e.blockReady = true
			}
			i := e.sample
			e.sample++
			return e.appendSample(dst, b, i), true
		}
		e.block++
		e.sample = 0
		e.blockReady = false
	}
}

// AppendMessage appends every sample of m to dst and returns the extended
// slice and the number of lines appended.
func (e *Encoder) AppendMessage(dst []byte, m *feeds.Message) (out []byte, lines int) {
	e.Reset(m)
	for {
		n := len(dst)
		var more bool
		dst, more = e.Next(dst)
		if !more {
			return dst, lines
		}
		if len(dst) > n {
			lines++
		}
	}
}

// planBlock checks the field keys of b once and prepares their escaped
// ",key=" text, in message order (line) or sorted by key (json).
func (e *Encoder) planBlock(b *feeds.Block) {
	e.keys = e.keys[:0]
	e.plans = e.plans[:0]
	n := uint64(len(b.Timestamps))
	for fi := range b.Fields {
		name := b.Fields[fi].Name
		if name == "time" {
			e.rejectField(ReasonTimeField, name, n)
			continue
		}
		if !validName(name, nameField) {
			e.rejectField(ReasonFieldKey, name, n)
			continue
		}
		start := len(e.keys)
		e.keys = append(e.keys, ',')
		e.keys = appendName(e.keys, name, nameField)
		if e.keyLen+seriesKeyOverhead+len(e.keys)-start-1 > models.MaxKeyLength {
			e.keys = e.keys[:start]
			e.rejectField(ReasonFieldKey, name, n)
			continue
		}
		e.keys = append(e.keys, '=')
		e.plans = append(e.plans, fieldPlan{field: &b.Fields[fi], keyEnd: len(e.keys)})
	}
	// e.keys is complete (it may have moved while growing).
	start := 0
	for i := range e.plans {
		p := &e.plans[i]
		end := p.keyEnd
		p.key = e.keys[start:end:end]
		start = end
		if len(p.key) <= 16 {
			var b [17]byte
			copy(b[:], p.key)
			p.words[0], p.words[1] = binary.LittleEndian.Uint64(b[0:]), binary.LittleEndian.Uint64(b[8:])
			p.words[2], p.words[3] = binary.LittleEndian.Uint64(b[1:]), binary.LittleEndian.Uint64(b[9:])
		}
	}
	if e.Protocol == ProtocolJSON {
		slices.SortStableFunc(e.plans, func(a, c fieldPlan) int {
			return strings.Compare(a.field.Name, c.field.Name)
		})
	}
}

// appendSample appends sample i of b, or nothing if it cannot be written.
func (e *Encoder) appendSample(dst []byte, b *feeds.Block, i int) []byte {
	var ts int64
	var ok bool
	if e.Protocol == ProtocolJSON {
		ts, ok = jsonNanos(b.Timestamps[i])
	} else {
		ts, ok = lineNanos(b.Timestamps[i])
	}
	if !ok {
		e.rejectPoint(ReasonTimestamp, 1)
		return dst
	}

	start := len(dst)
	dst = append(dst, e.prefix...)
	first := true
	for pi := range e.plans {
		p := &e.plans[pi]
		f := p.field
		if i >= len(f.Values) {
			e.rejectField(ReasonShortData, f.Name, 1)
			continue
		}
		v := &f.Values[i]
		switch v.Kind {
		case feeds.KindFloat:
			if math.Float64bits(v.F)&(0x7ff<<52) == 0x7ff<<52 { // NaN or ±Inf
				e.rejectField(ReasonNonFinite, f.Name, 1)
				continue
			}
			dst = appendKey(dst, p, first)
			dst = AppendPyFloat(dst, v.F)
		case feeds.KindString:
			if len(v.S) > MaxStringLen {
				e.rejectField(ReasonLongString, f.Name, 1)
				continue
			}
			dst = appendKey(dst, p, first)
			dst = appendStringValue(dst, v.S)
		case feeds.KindInt:
			dst = appendKey(dst, p, first)
			dst = strconv.AppendInt(dst, v.I, 10)
			dst = append(dst, 'i')
		case feeds.KindBool:
			dst = appendKey(dst, p, first)
			if v.B {
				dst = append(dst, "True"...)
			} else {
				dst = append(dst, "False"...)
			}
		default:
			// KindInvalid is an absent value: the feeds decoder puts it
			// where it dropped (and reported) a null, list or object.
			continue
		}
		first = false
	}
	if first {
		e.rejectPoint(ReasonNoFields, 1)
		return dst[:start]
	}
	dst = append(dst, ' ')
	dst = appendTimestamp(dst, ts)
	return append(dst, '\n')
}

// appendKey appends p's key, without its comma when first (no comma before
// the first field), as two word stores when it fits in 16 bytes and dst
// has room for a float after it.
func appendKey(dst []byte, p *fieldPlan, first bool) []byte {
	n, k := len(dst), len(p.key)
	w := p.words[:2]
	if first {
		k--
		w = p.words[2:]
	}
	if len(p.key) > 16 || cap(dst)-n < 16+32 {
		return append(dst, p.key[len(p.key)-k:]...)
	}
	binary.LittleEndian.PutUint64(dst[n:n+8], w[0])
	binary.LittleEndian.PutUint64(dst[n+8:n+16], w[1])
	return dst[:n+k]
}

func (e *Encoder) reject(r Reject) {
	if e.OnReject != nil && r.Count > 0 {
		e.OnReject(r)
	}
}

func (e *Encoder) rejectPoint(r Reason, n uint64) {
	e.reject(Reject{Reason: r, Agent: e.msg.Info.AgentAddress, Feed: e.msg.Info.FeedName, Count: n})
}

func (e *Encoder) rejectField(r Reason, field string, n uint64) {
	e.reject(Reject{Reason: r, Agent: e.msg.Info.AgentAddress, Feed: e.msg.Info.FeedName, Field: field, Count: n})
}

// samples counts the samples (points) of m.
func samples(m *feeds.Message) uint64 {
	var n uint64
	for i := range m.Blocks {
		n += uint64(len(m.Blocks[i].Timestamps))
	}
	return n
}
