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
// A tagged block (feeds.Block.Tagged: the block carried influxdb_tags, OCS
// v0.12.1, PR #467) is written as OCS's publisher writes it: one line per
// value, in sample order then field order, with measurement = feed_info's
// agent_class, the tags feed, address_root and instance_id (the first two
// components of agent_address, feeds.SplitAgentAddress) followed by the
// field's tags in their order, and the field's '_field' (TagSet.Field) as
// the only field key:
//
//	FakeDataAgent,feed=false_temperatures,address_root=observatory,instance_id=fake-data1,channel=0 temperature=0.20307 1775502374078489088
//
// With ProtocolJSON the tags are sorted by key, as OCS's InfluxDB clients
// write them. A tag with an empty value is left out (OCS's json protocol
// leaves it out; its line protocol writes a line InfluxDB refuses). Every
// value of such a block is a point of its own: a value left out (NaN, too
// long a string) is also counted as a point with ReasonNoFields, and a
// field whose key or tags cannot be written loses all its points (its
// Reason, plus ReasonNoFields for the field reasons).
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

	hasTagged bool        // the message has a tagged block
	field     int         // next plan of the current sample (tagged block)
	ts        int64       // the current sample's time (tagged block)
	tkeys     []byte      // the line start of every usable field (tagged block)
	tplans    []tagPlan   // usable fields in write order (tagged block)
	tagSort   []feeds.Tag // scratch for sorting tags (json)
}

// tagPlan is one usable field of the current tagged block.
type tagPlan struct {
	field  *feeds.Field
	prefix []byte // "<measurement>,<tags> <key>=", in Encoder.tkeys
	end    int    // of prefix in Encoder.tkeys
}

// The tag reason. Tagged blocks also use ReasonMeasurement (agent_class)
// and ReasonFeedName.
const (
	// ReasonTag: a point of a tagged block has a tag InfluxDB cannot store
	// (a key or value that cannot be written, see validName; the key
	// time; a key given twice or that is one of feed, address_root,
	// instance_id), or an agent_address without the address_root and
	// instance_id tags.
	ReasonTag Reason = "bad tag"
)

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
	e.block, e.sample, e.field, e.blockReady = 0, 0, 0, false
	e.prefix = e.prefix[:0]
	e.msgOK = true
	e.hasTagged = false
	for i := range m.Blocks {
		if m.Blocks[i].Tags != nil {
			e.hasTagged = true
			break
		}
	}
	// The prefix of untagged blocks; tagged blocks have their own
	// (planTagged).
	agent, feed := m.Info.AgentAddress, m.Info.FeedName
	switch {
	case !validName(agent, nameMeasurement):
		e.msgOK = false
		e.reject(Reject{Reason: ReasonMeasurement, Agent: agent, Feed: feed, Count: untaggedSamples(m)})
	case !validName(feed, nameTag):
		e.msgOK = false
		e.reject(Reject{Reason: ReasonFeedName, Agent: agent, Feed: feed, Count: untaggedSamples(m)})
	default:
		e.prefix = appendName(e.prefix, agent, nameMeasurement)
		e.prefix = append(e.prefix, ",feed="...)
		e.prefix = appendName(e.prefix, feed, nameTag)
		e.keyLen = len(e.prefix)
		e.prefix = append(e.prefix, ' ')
		if e.keyLen > models.MaxKeyLength {
			e.msgOK = false
			e.reject(Reject{Reason: ReasonMeasurement, Agent: agent, Feed: feed, Count: untaggedSamples(m)})
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
	if !e.msgOK && !e.hasTagged {
		e.msg = nil
		return dst, false
	}
	for {
		if e.block >= len(e.msg.Blocks) {
			e.msg = nil
			clear(e.plans) // keep no pointer into the message
			clear(e.tplans)
			return dst, false
		}
		b := &e.msg.Blocks[e.block]
		if b.Tags != nil {
			if out, more := e.nextTagged(dst, b); more {
				return out, true
			}
		} else if e.sample < len(b.Timestamps) && e.msgOK {
			if !e.blockReady {
				e.planBlock(b)
				e.blockReady = true
			}
			i := e.sample
			e.sample++
			return e.appendSample(dst, b, i), true
		}
		e.block++
		e.sample, e.field = 0, 0
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

// samples counts the points m makes, written or rejected: a sample of
// an untagged block, a value of a tagged one.
func samples(m *feeds.Message) uint64 {
	var n uint64
	for i := range m.Blocks {
		b := &m.Blocks[i]
		if b.Tags == nil {
			n += uint64(len(b.Timestamps))
			continue
		}
		for fi := range b.Fields {
			n += present(&b.Fields[fi], len(b.Timestamps))
		}
	}
	return n
}

// untaggedSamples counts the samples (points) of the untagged blocks of m.
func untaggedSamples(m *feeds.Message) uint64 {
	var n uint64
	for i := range m.Blocks {
		if m.Blocks[i].Tags == nil {
			n += uint64(len(m.Blocks[i].Timestamps))
		}
	}
	return n
}

// present counts the values of f at the first nt samples, the points it
// makes in a tagged block.
func present(f *feeds.Field, nt int) uint64 {
	var n uint64
	for i := range min(nt, len(f.Values)) {
		if f.Values[i].Kind != feeds.KindInvalid {
			n++
		}
	}
	return n
}

// nextTagged appends the next point of the tagged block b, if any, and
// returns more false when b has none left.
func (e *Encoder) nextTagged(dst []byte, b *feeds.Block) (out []byte, more bool) {
	if !e.blockReady {
		e.planTagged(b)
		e.blockReady = true
	}
	for e.sample < len(b.Timestamps) {
		i := e.sample
		if e.field == 0 {
			var ok bool
			if e.Protocol == ProtocolJSON {
				e.ts, ok = jsonNanos(b.Timestamps[i])
			} else {
				e.ts, ok = lineNanos(b.Timestamps[i])
			}
			if !ok {
				var n uint64
				for pi := range e.tplans {
					if f := e.tplans[pi].field; i < len(f.Values) && f.Values[i].Kind != feeds.KindInvalid {
						n++
					}
				}
				e.rejectPoint(ReasonTimestamp, n)
				e.sample++
				continue
			}
		}
		if e.field < len(e.tplans) {
			p := &e.tplans[e.field]
			e.field++
			return e.appendTagged(dst, p, i), true
		}
		e.field = 0
		e.sample++
	}
	return dst, false
}

// appendTagged appends the point of field p at sample i of a tagged
// block, or nothing if there is none or it cannot be written.
func (e *Encoder) appendTagged(dst []byte, p *tagPlan, i int) []byte {
	f := p.field
	if i >= len(f.Values) {
		return dst // beyond a short data array: no point (not counted in samples)
	}
	v := &f.Values[i]
	switch v.Kind {
	case feeds.KindFloat:
		if math.Float64bits(v.F)&(0x7ff<<52) == 0x7ff<<52 { // NaN or ±Inf
			e.rejectField(ReasonNonFinite, f.Name, 1)
			e.rejectPoint(ReasonNoFields, 1)
			return dst
		}
		dst = append(dst, p.prefix...)
		dst = AppendPyFloat(dst, v.F)
	case feeds.KindString:
		if len(v.S) > MaxStringLen {
			e.rejectField(ReasonLongString, f.Name, 1)
			e.rejectPoint(ReasonNoFields, 1)
			return dst
		}
		dst = append(dst, p.prefix...)
		dst = appendStringValue(dst, v.S)
	case feeds.KindInt:
		dst = append(dst, p.prefix...)
		dst = strconv.AppendInt(dst, v.I, 10)
		dst = append(dst, 'i')
	case feeds.KindBool:
		dst = append(dst, p.prefix...)
		if v.B {
			dst = append(dst, "True"...)
		} else {
			dst = append(dst, "False"...)
		}
	default:
		return dst // absent: reported by the feeds decoder, no point
	}
	dst = append(dst, ' ')
	dst = appendTimestamp(dst, e.ts)
	return append(dst, '\n')
}

// planTagged checks the measurement, tags and field keys of the tagged
// block b once and prepares the start of each field's lines,
// "<measurement>,<tags> <key>=", in message order.
func (e *Encoder) planTagged(b *feeds.Block) {
	e.tkeys = e.tkeys[:0]
	e.tplans = e.tplans[:0]
	info := &e.msg.Info
	agent, feed := info.AgentAddress, info.FeedName
	nt := len(b.Timestamps)
	rejectAll := func(r Reason) {
		var n uint64
		for fi := range b.Fields {
			n += present(&b.Fields[fi], nt)
		}
		e.reject(Reject{Reason: r, Agent: agent, Feed: feed, Count: n})
	}
	root, instance, ok := feeds.SplitAgentAddress(agent)
	switch {
	case info.AgentClass == nil || !validName(*info.AgentClass, nameMeasurement):
		rejectAll(ReasonMeasurement)
		return
	case !validName(feed, nameTag):
		rejectAll(ReasonFeedName)
		return
	case !ok || !validName(root, nameTag) || !validName(instance, nameTag):
		rejectAll(ReasonTag)
		return
	}
	class := *info.AgentClass
	shared := [3]feeds.Tag{{Key: feeds.TagFeed, Value: feed}, {Key: feeds.TagAddressRoot, Value: root}, {Key: feeds.TagInstanceID, Value: instance}}
	for fi := range b.Fields {
		f := &b.Fields[fi]
		var set feeds.TagSet
		if fi < len(b.Tags) {
			set = b.Tags[fi]
		}
		lost := func(r Reason) {
			n := present(f, nt)
			e.rejectField(r, f.Name, n)
			if !isPointReason(r) {
				e.rejectPoint(ReasonNoFields, n)
			}
		}
		if set.Field == "time" {
			lost(ReasonTimeField)
			continue
		}
		if !validName(set.Field, nameField) {
			lost(ReasonFieldKey)
			continue
		}
		if !validTags(set.Tags) {
			lost(ReasonTag)
			continue
		}
		start := len(e.tkeys)
		e.tkeys = appendName(e.tkeys, class, nameMeasurement)
		if e.Protocol == ProtocolJSON {
			e.tagSort = append(e.tagSort[:0], shared[:]...)
			e.tagSort = append(e.tagSort, set.Tags...)
			slices.SortFunc(e.tagSort, func(a, c feeds.Tag) int { return strings.Compare(a.Key, c.Key) })
			e.tkeys = appendTags(e.tkeys, e.tagSort)
			clear(e.tagSort) // keep no string of the message
		} else {
			e.tkeys = appendTags(e.tkeys, shared[:])
			e.tkeys = appendTags(e.tkeys, set.Tags)
		}
		keyEnd := len(e.tkeys)
		e.tkeys = append(e.tkeys, ' ')
		e.tkeys = appendName(e.tkeys, set.Field, nameField)
		// The series key, InfluxDB's separator and the field key.
		if keyEnd-start+seriesKeyOverhead+len(e.tkeys)-keyEnd-1 > models.MaxKeyLength {
			e.tkeys = e.tkeys[:start]
			lost(ReasonFieldKey)
			continue
		}
		e.tkeys = append(e.tkeys, '=')
		e.tplans = append(e.tplans, tagPlan{field: f, end: len(e.tkeys)})
	}
	// e.tkeys is complete (it may have moved while growing).
	start := 0
	for i := range e.tplans {
		p := &e.tplans[i]
		p.prefix = e.tkeys[start:p.end:p.end]
		start = p.end
	}
}

// validTags reports whether a field's tags can be written after the
// shared ones: keys and non-empty values valid names, no key time, none
// twice or one of the shared tags.
func validTags(tags []feeds.Tag) bool {
	for i, t := range tags {
		switch t.Key {
		case "time", feeds.TagFeed, feeds.TagAddressRoot, feeds.TagInstanceID:
			return false
		}
		if !validName(t.Key, nameTag) || t.Value != "" && !validName(t.Value, nameTag) {
			return false
		}
		for _, u := range tags[:i] {
			if u.Key == t.Key {
				return false
			}
		}
	}
	return true
}

// appendTags appends ",key=value" for each tag with a value.
func appendTags(dst []byte, tags []feeds.Tag) []byte {
	for _, t := range tags {
		if t.Value == "" {
			continue
		}
		dst = append(dst, ',')
		dst = appendName(dst, t.Key, nameTag)
		dst = append(dst, '=')
		dst = appendName(dst, t.Value, nameTag)
	}
	return dst
}
