package feeds

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/gammazero/nexus/v3/wamp"
)

// MsgpackFeedDecoder decodes msgpack WAMP EVENTs carrying an OCS feed
// message straight into a Message, without the generic tree that
// DecodeMsgpackEvent (or nexus's serializer) and DecodeEvent build on the
// way: about a third of their cost. It remembers the last feed_info it
// decoded and reuses it when the next event's feed_info has the same bytes,
// and the strings of the block and field names it has seen.
//
// It handles the common, clean event only. For every event it accepts, the
// Message is exactly what DecodeEvent returns for the event's Arguments and
// ArgumentsKw as nexus's msgpack serializer (or DecodeMsgpackEvent) decodes
// them, with no problems and no error: the same blocks and fields in the
// same (name) order, the same Kinds and values. Anything else (an event
// DecodeEvent would reject or report problems about, binary or extension
// values, duplicate keys, integers beyond int64, non-finite floats, data
// lists of another length than the timestamps, ...) is declined: ok is
// false and the caller decodes the event the generic way, which decides.
//
// The zero value is ready to use. A MsgpackFeedDecoder is not safe for
// concurrent use. Messages it returns share no memory with data but may
// share Info's AggParams map and AgentClass with each other: treat them as
// read-only (as DecodeEvent's, which share them with its arguments).
type MsgpackFeedDecoder struct {
	infoRaw []byte // the last decoded feed_info's bytes
	info    Info   // its decoding
	blocks  names  // block names seen
	fields  names  // field names seen that VerifyFieldName accepts
	tags    names  // tag keys and values (as text) seen
}

// names shares the strings of names seen before: a name costs an
// allocation the first time only.
type names struct {
	m map[string]string
}

// maxNames bounds a names: beyond it, it starts afresh.
const maxNames = 4096

// get returns p's string when p was added before.
func (n *names) get(p []byte) (string, bool) {
	s, ok := n.m[string(p)]
	return s, ok
}

func (n *names) add(s string) {
	if n.m == nil || len(n.m) >= maxNames {
		n.m = make(map[string]string)
	}
	n.m[s] = s
}

// intern returns p as a string, shared with the earlier ones.
func (n *names) intern(p []byte) string {
	if s, ok := n.get(p); ok {
		return s
	}
	s := string(p)
	n.add(s)
	return s
}

// Decode decodes data, the payload of one "wamp.2.msgpack" WebSocket
// message: [36, subscription, publication, details, args(, kwargs)]. See
// MsgpackFeedDecoder for what it accepts; when ok is false nothing is
// returned.
func (fd *MsgpackFeedDecoder) Decode(data []byte) (m Message, ok bool) {
	d := mpDecoder{b: data}
	n, ok := d.arrayLen()
	if !ok || n < 5 || n > 6 {
		return Message{}, false // no arguments: DecodeEvent fails
	}
	for k := range 3 { // type, subscription, publication
		v, ok := d.uint()
		if !ok || k == 0 && v != uint64(wamp.EVENT) {
			return Message{}, false
		}
	}
	// Details: nil or an object, not read by DecodeEvent.
	if d.peek() == 0xc0 {
		d.i++
	} else if !d.isMap() || !d.skip(0) {
		return Message{}, false
	}
	// Arguments: one argument, the pair [message, feed_info].
	if c, ok := d.arrayLen(); !ok || c != 1 {
		return Message{}, false
	}
	if c, ok := d.arrayLen(); !ok || c != 2 {
		return Message{}, false
	}
	msgAt := d.i
	if !d.skip(2) {
		return Message{}, false
	}
	infoAt := d.i
	if !d.skip(2) {
		return Message{}, false
	}
	infoRaw := data[infoAt:d.i]
	if n == 6 { // keyword arguments: nil or empty
		if d.peek() == 0xc0 {
			d.i++
		} else if c, ok := d.mapLen(); !ok || c != 0 {
			return Message{}, false
		}
	}
	if d.i != len(data) {
		return Message{}, false
	}

	var info Info
	if fd.infoRaw != nil && bytes.Equal(infoRaw, fd.infoRaw) {
		info = fd.info
	} else {
		id := mpDecoder{b: data, i: infoAt}
		if info, ok = id.feedInfo(); !ok {
			return Message{}, false
		}
		fd.infoRaw = append(fd.infoRaw[:0], infoRaw...)
		fd.info = info
	}
	m.Info = info
	if !info.Recordable() {
		return m, true
	}
	md := mpDecoder{b: data, i: msgAt}
	if m.Blocks, ok = md.feedMessage(fd, &m.Info); !ok {
		return Message{}, false
	}
	return m, true
}

// peek returns the next byte, or 0xc1 (never used) at the end.
func (d *mpDecoder) peek() byte {
	if d.i >= len(d.b) {
		return 0xc1
	}
	return d.b[d.i]
}

// isMap reports whether the next value is a map.
func (d *mpDecoder) isMap() bool {
	c := d.peek()
	return c >= 0x80 && c <= 0x8f || c == 0xde || c == 0xdf
}

// mapLen reads a map header.
func (d *mpDecoder) mapLen() (int, bool) {
	if d.i >= len(d.b) {
		return 0, false
	}
	c := d.b[d.i]
	d.i++
	switch {
	case c >= 0x80 && c <= 0x8f:
		return int(c & 0x0f), true
	case c == 0xde:
		return d.length(2)
	case c == 0xdf:
		return d.length(4)
	}
	return 0, false
}

// keyBytes reads a string map key without copying it.
func (d *mpDecoder) keyBytes() ([]byte, bool) {
	if d.i >= len(d.b) {
		return nil, false
	}
	c := d.b[d.i]
	d.i++
	n := 0
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n = int(c & 0x1f)
	case c >= 0xd9 && c <= 0xdb:
		var ok bool
		if n, ok = d.length(1 << (c - 0xd9)); !ok {
			return nil, false
		}
	default:
		return nil, false
	}
	return d.take(n)
}

// skip passes over one value read at the given depth, accepting only what
// DecodeMsgpackEvent decodes (duplicate keys aside).
func (d *mpDecoder) skip(depth int) bool {
	if d.i >= len(d.b) {
		return false
	}
	c := d.b[d.i]
	d.i++
	n := 0
	switch {
	case c <= 0x7f || c >= 0xe0:
		return true
	case c >= 0xa0 && c <= 0xbf:
		_, ok := d.take(int(c & 0x1f))
		return ok
	case c >= 0x90 && c <= 0x9f:
		return d.skipArray(int(c&0x0f), depth)
	case c >= 0x80 && c <= 0x8f:
		return d.skipMap(int(c&0x0f), depth)
	}
	var ok bool
	switch c {
	case 0xc0, 0xc2, 0xc3:
		return true
	case 0xca:
		_, ok = d.take(4)
	case 0xcb:
		_, ok = d.take(8)
	case 0xcc, 0xcd, 0xce, 0xcf:
		_, ok = d.take(1 << (c - 0xcc))
	case 0xd0, 0xd1, 0xd2, 0xd3:
		_, ok = d.take(1 << (c - 0xd0))
	case 0xd9, 0xda, 0xdb:
		if n, ok = d.length(1 << (c - 0xd9)); ok {
			_, ok = d.take(n)
		}
	case 0xdc, 0xdd:
		if n, ok = d.length(2 << (c - 0xdc)); ok {
			ok = d.skipArray(n, depth)
		}
	case 0xde, 0xdf:
		if n, ok = d.length(2 << (c - 0xde)); ok {
			ok = d.skipMap(n, depth)
		}
	}
	return ok
}

func (d *mpDecoder) skipArray(n, depth int) bool {
	if depth >= maxMsgpackDepth || n > len(d.b)-d.i {
		return false
	}
	for range n {
		if !d.skip(depth + 1) {
			return false
		}
	}
	return true
}

func (d *mpDecoder) skipMap(n, depth int) bool {
	if depth >= maxMsgpackDepth || 2*n > len(d.b)-d.i {
		return false
	}
	for range n {
		if _, ok := d.keyBytes(); !ok {
			return false
		}
		if !d.skip(depth + 1) {
			return false
		}
	}
	return true
}

// The feed_info keys decodeInfo reads, as bits.
const (
	infoAgentAddress = 1 << iota
	infoAggParams
	infoFeedName
	infoAddress
	infoRecord
	infoSessionID
	infoAgentClass
	infoRequired = infoAgentAddress | infoAggParams | infoFeedName | infoRecord
)

// feedInfo decodes feed_info (read at depth 2) as decodeInfo does, declining
// whatever decodeInfo would reject.
func (d *mpDecoder) feedInfo() (Info, bool) {
	n, ok := d.mapLen()
	if !ok {
		return Info{}, false
	}
	var info Info
	seen := 0
	for range n {
		k, ok := d.keyBytes()
		if !ok {
			return Info{}, false
		}
		bit := 0
		switch string(k) {
		case "agent_address":
			bit = infoAgentAddress
			info.AgentAddress, ok = d.key()
		case "feed_name":
			bit = infoFeedName
			info.FeedName, ok = d.key()
		case "address":
			bit = infoAddress
			info.Address, ok = d.key()
		case "session_id":
			bit = infoSessionID
			info.SessionID, ok = d.key()
		case "record":
			bit = infoRecord
			switch d.peek() {
			case 0xc2:
				info.Record = false
			case 0xc3:
				info.Record = true
			default:
				return Info{}, false
			}
			d.i++
		case "agent_class":
			bit = infoAgentClass
			if d.peek() == 0xc0 {
				d.i++
			} else {
				var s string
				s, ok = d.key()
				info.AgentClass = &s
			}
		case "agg_params":
			bit = infoAggParams
			if !d.isMap() {
				return Info{}, false
			}
			var v any
			v, ok = d.value(3)
			if ok {
				info.AggParams = plainParams(v)
			}
		default:
			ok = d.skip(3)
		}
		if !ok || seen&bit != 0 {
			return Info{}, false // a bad type, or a duplicate key
		}
		seen |= bit
	}
	if seen&infoRequired != infoRequired {
		return Info{}, false
	}
	return info, true
}

// feedMessage decodes a recorded message (read at depth 2) into its blocks
// in name order, declining anything decoder.message would report.
func (d *mpDecoder) feedMessage(fd *MsgpackFeedDecoder, info *Info) ([]Block, bool) {
	n, ok := d.mapLen()
	if !ok || 2*n > len(d.b)-d.i {
		return nil, false
	}
	if n == 0 {
		return nil, true
	}
	blocks := make([]Block, 0, n)
	for range n {
		key, ok := d.keyBytes()
		if !ok {
			return nil, false
		}
		b, keep, ok := d.feedBlock(fd, info, key)
		if !ok {
			return nil, false
		}
		if keep {
			blocks = append(blocks, b)
		}
	}
	sorted := true
	for i := 1; i < len(blocks); i++ {
		if blocks[i].Name <= blocks[i-1].Name {
			sorted = false
			break
		}
	}
	if !sorted {
		slices.SortFunc(blocks, func(a, b Block) int { return strings.Compare(a.Name, b.Name) })
		for i := 1; i < len(blocks); i++ {
			if blocks[i].Name == blocks[i-1].Name {
				return nil, false // duplicate block keys
			}
		}
	}
	if len(blocks) == 0 {
		return nil, true
	}
	return blocks, true
}

// The block keys decoder.block reads, as bits.
const (
	blockName = 1 << iota
	blockTimestamps
	blockData
	blockTimestamp
	blockInfluxTags
)

// feedBlock decodes one block (read at depth 3) whose key is key. keep is
// false for a block without samples (DecodeEvent leaves it out silently).
func (d *mpDecoder) feedBlock(fd *MsgpackFeedDecoder, info *Info, key []byte) (b Block, keep, ok bool) {
	n, ok := d.mapLen()
	if !ok || 2*n > len(d.b)-d.i {
		return Block{}, false, false
	}
	seen := 0
	var ts []float64
	tsBad := false // timestamps that DecodeEvent would report, unless there is a timestamp
	var single float64
	var fields []Field
	nv := -1 // values per field, -1 for no field
	scalar := false
	var tags blockTags
	for range n {
		k, ok := d.keyBytes()
		if !ok {
			return Block{}, false, false
		}
		bit := 0
		switch string(k) {
		case "block_name":
			bit = blockName
			var bn []byte
			if bn, ok = d.keyBytes(); ok && !bytes.Equal(bn, key) {
				ok = false
			}
		case "timestamps":
			bit = blockTimestamps
			at := d.i
			if ts, ok = d.timestamps(); !ok {
				// Ignored when the block has a timestamp.
				d.i, ts, tsBad = at, nil, true
				ok = d.skip(4)
			}
		case "timestamp":
			bit = blockTimestamp
			if single, ok = d.number(); ok {
				p := single * 1e9
				ok = p > -maxNanos && p < maxNanos // NaN too
			}
		case "data":
			bit = blockData
			fields, nv, scalar, ok = d.fields(fd)
		case "influxdb_tags":
			bit = blockInfluxTags
			if d.peek() == 0xc0 {
				d.i++ // null: no tags
			} else {
				ok = d.tagSets(fd, &tags)
			}
		default:
			ok = d.skip(4)
		}
		if !ok || seen&bit != 0 {
			return Block{}, false, false
		}
		seen |= bit
	}
	if seen&(blockName|blockData) != blockName|blockData {
		return Block{}, false, false
	}
	if seen&blockTimestamp != 0 {
		// A single sample: every data value a scalar, and a field at least.
		if !scalar || len(fields) == 0 {
			return Block{}, false, false
		}
		ts = []float64{single}
	} else {
		// Every field has as many values as timestamps, and there is a
		// field unless there is no timestamp.
		if seen&blockTimestamps == 0 || tsBad || scalar || nv != len(ts) && (nv >= 0 || len(ts) > 0) {
			return Block{}, false, false
		}
	}
	var sets []TagSet
	if tags.tagged {
		if sets, ok = tags.attach(info, fields); !ok {
			return Block{}, false, false
		}
	}
	if len(ts) == 0 {
		return Block{}, false, true
	}
	name, ok := fd.blocks.get(key)
	if !ok {
		name = string(key)
		fd.blocks.add(name)
	}
	return Block{Name: name, Timestamps: ts, Fields: fields, Tags: sets}, true, true
}

// timestamps decodes a block's timestamps (read at depth 4), declining
// any that timestamp would reject.
func (d *mpDecoder) timestamps() ([]float64, bool) {
	n, ok := d.arrayLen()
	if !ok || n > len(d.b)-d.i {
		return nil, false
	}
	ts := make([]float64, n)
	for i := range ts {
		t, ok := d.number()
		if !ok {
			return nil, false
		}
		if p := t * 1e9; !(p > -maxNanos && p < maxNanos) { // NaN too
			return nil, false
		}
		ts[i] = t
	}
	return ts, true
}

// number reads a number as a float64 as timestamp converts it.
func (d *mpDecoder) number() (float64, bool) {
	if d.i >= len(d.b) {
		return 0, false
	}
	c := d.b[d.i]
	d.i++
	switch {
	case c <= 0x7f:
		return float64(c), true
	case c >= 0xe0:
		return float64(int8(c)), true
	}
	switch c {
	case 0xcb:
		p, ok := d.take(8)
		if !ok {
			return 0, false
		}
		return math.Float64frombits(binary.BigEndian.Uint64(p)), true
	case 0xca:
		p, ok := d.take(4)
		if !ok {
			return 0, false
		}
		return float64(math.Float32frombits(binary.BigEndian.Uint32(p))), true
	case 0xcc, 0xcd, 0xce, 0xcf:
		p, ok := d.take(1 << (c - 0xcc))
		if !ok {
			return 0, false
		}
		return float64(bigEndian(p)), true
	case 0xd0, 0xd1, 0xd2, 0xd3:
		p, ok := d.take(1 << (c - 0xd0))
		if !ok {
			return 0, false
		}
		return float64(signExtend(bigEndian(p), len(p))), true
	}
	return 0, false
}

// isArray reports whether the next value is an array.
func (d *mpDecoder) isArray() bool {
	c := d.peek()
	return c >= 0x90 && c <= 0x9f || c == 0xdc || c == 0xdd
}

// fields decodes a block's data (read at depth 4) into fields in name
// order, each with nv values (-1 when there is no field), declining
// anything decoder.block would report whatever the timestamps: a bad field
// name, values that are not a list of storable values, lists of different
// lengths (one of them cannot match the timestamps), duplicate names. The
// caller checks nv against the timestamps. The values may instead all be
// single storable values (scalar, nv 1), which only a block with a
// timestamp accepts; a mix of lists and single values is declined.
func (d *mpDecoder) fields(fd *MsgpackFeedDecoder) (fields []Field, nv int, scalar, ok bool) {
	n, ok := d.mapLen()
	if !ok || 2*n > len(d.b)-d.i {
		return nil, 0, false, false
	}
	if n == 0 {
		return nil, -1, false, true
	}
	fields = make([]Field, n)
	var values []Value
	nt := -1
	for k := range fields {
		p, ok := d.keyBytes()
		if !ok {
			return nil, 0, false, false
		}
		name, ok := fd.fields.get(p)
		if !ok {
			name = string(p)
			if VerifyFieldName(name) != nil {
				return nil, 0, false, false
			}
			fd.fields.add(name)
		}
		if k == 0 && !d.isArray() {
			scalar, nt = true, 1
			values = make([]Value, n)
		}
		if scalar {
			vals := values[k : k+1 : k+1]
			if !d.fieldValue(&vals[0]) {
				return nil, 0, false, false
			}
			fields[k] = Field{Name: name, Values: vals}
			continue
		}
		c, ok := d.arrayLen()
		if !ok || nt >= 0 && c != nt {
			return nil, 0, false, false
		}
		if nt < 0 {
			nt = c
			if n*nt > len(d.b)-d.i { // each value takes a byte at least
				return nil, 0, false, false
			}
			values = make([]Value, n*nt)
		}
		vals := values[k*nt : (k+1)*nt : (k+1)*nt]
		for i := range vals {
			if !d.fieldValue(&vals[i]) {
				return nil, 0, false, false
			}
		}
		fields[k] = Field{Name: name, Values: vals}
	}
	for i := 1; i < n; i++ {
		if fields[i].Name <= fields[i-1].Name {
			slices.SortFunc(fields, func(a, b Field) int { return strings.Compare(a.Name, b.Name) })
			for j := 1; j < n; j++ {
				if fields[j].Name == fields[j-1].Name {
					return nil, 0, false, false // duplicate field names
				}
			}
			break
		}
	}
	return fields, nt, scalar, true
}

// blockTags is a block's influxdb_tags as tagSets reads them.
type blockTags struct {
	tagged bool
	sets   []mpTagSet // sorted by name
	tags   []Tag      // of every set, each set's sorted by key
}

// mpTagSet is the tag set of one data key.
type mpTagSet struct {
	name       []byte // the data key, in the event's bytes
	key        string // its '_field'
	start, end int    // its tags in blockTags.tags
}

// tagSets decodes a block's influxdb_tags (read at depth 4, not null) into
// t, declining anything decoder.checkTags would report (or that DecodeEvent
// could decode otherwise: duplicate keys).
func (d *mpDecoder) tagSets(fd *MsgpackFeedDecoder, t *blockTags) bool {
	n, ok := d.mapLen()
	if !ok || 2*n > len(d.b)-d.i {
		return false
	}
	t.tagged = true
	if n == 0 {
		return true
	}
	t.sets = make([]mpTagSet, n)
	for i := range t.sets {
		name, ok := d.keyBytes()
		if !ok {
			return false
		}
		m, ok := d.mapLen()
		if !ok || 2*m > len(d.b)-d.i {
			return false
		}
		set := mpTagSet{name: name, start: len(t.tags)}
		hasField := false
		for range m {
			k, ok := d.keyBytes()
			if !ok {
				return false
			}
			v, ok := d.tagValue(fd)
			if !ok {
				return false
			}
			switch {
			case string(k) == FieldTag:
				if hasField {
					return false // a duplicate key
				}
				hasField, set.key = true, v
			case reservedTag(string(k)):
				return false
			default:
				t.tags = append(t.tags, Tag{Key: fd.tags.intern(k), Value: v})
			}
		}
		if !hasField {
			return false
		}
		set.end = len(t.tags)
		own := t.tags[set.start:set.end]
		for j := 1; j < len(own); j++ {
			if own[j].Key <= own[j-1].Key {
				slices.SortFunc(own, func(a, b Tag) int { return strings.Compare(a.Key, b.Key) })
				for j := 1; j < len(own); j++ {
					if own[j].Key == own[j-1].Key {
						return false // duplicate tag keys
					}
				}
				break
			}
		}
		t.sets[i] = set
	}
	for i := 1; i < n; i++ {
		if bytes.Compare(t.sets[i].name, t.sets[i-1].name) <= 0 {
			slices.SortFunc(t.sets, func(a, b mpTagSet) int { return bytes.Compare(a.name, b.name) })
			for j := 1; j < n; j++ {
				if bytes.Equal(t.sets[j].name, t.sets[j-1].name) {
					return false // duplicate data keys
				}
			}
			break
		}
	}
	return true
}

// attach returns the tag set of each field (sorted by name), declining
// when one has none or the feed_info cannot name the points (no
// agent_class, an agent_address without '.'), as decoder.checkTags would
// report.
func (t *blockTags) attach(info *Info, fields []Field) ([]TagSet, bool) {
	if info.AgentClass == nil {
		return nil, false
	}
	if _, _, ok := SplitAgentAddress(info.AgentAddress); !ok {
		return nil, false
	}
	sets := make([]TagSet, len(fields))
	j := 0
	for k := range fields {
		name := fields[k].Name
		for j < len(t.sets) && string(t.sets[j].name) < name {
			j++
		}
		if j == len(t.sets) || string(t.sets[j].name) != name {
			return nil, false
		}
		s := t.sets[j]
		sets[k].Field = s.key
		if s.end > s.start {
			sets[k].Tags = t.tags[s.start:s.end:s.end]
		}
	}
	return sets, true
}

// tagValue reads a tag value (or '_field') as text as pyStr converts it,
// declining any pyStr would reject.
func (d *mpDecoder) tagValue(fd *MsgpackFeedDecoder) (string, bool) {
	if d.i >= len(d.b) {
		return "", false
	}
	c := d.b[d.i]
	d.i++
	var buf [32]byte
	var p []byte
	switch {
	case c <= 0x7f:
		p = strconv.AppendInt(buf[:0], int64(c), 10)
	case c >= 0xe0:
		p = strconv.AppendInt(buf[:0], int64(int8(c)), 10)
	case c >= 0xa0 && c <= 0xbf:
		return d.tagString(fd, int(c&0x1f))
	case c == 0xc2:
		return "False", true
	case c == 0xc3:
		return "True", true
	case c == 0xcb:
		q, ok := d.take(8)
		if !ok {
			return "", false
		}
		p = AppendFloatRepr(buf[:0], math.Float64frombits(binary.BigEndian.Uint64(q)))
	case c == 0xca:
		q, ok := d.take(4)
		if !ok {
			return "", false
		}
		p = AppendFloatRepr(buf[:0], float64(math.Float32frombits(binary.BigEndian.Uint32(q))))
	case c >= 0xcc && c <= 0xcf:
		q, ok := d.take(1 << (c - 0xcc))
		if !ok {
			return "", false
		}
		p = strconv.AppendUint(buf[:0], bigEndian(q), 10)
	case c >= 0xd0 && c <= 0xd3:
		q, ok := d.take(1 << (c - 0xd0))
		if !ok {
			return "", false
		}
		p = strconv.AppendInt(buf[:0], signExtend(bigEndian(q), len(q)), 10)
	case c >= 0xd9 && c <= 0xdb:
		n, ok := d.length(1 << (c - 0xd9))
		if !ok {
			return "", false
		}
		return d.tagString(fd, n)
	default:
		return "", false // null, lists, objects, binary, extension types
	}
	return fd.tags.intern(p), true
}

// tagString reads a string tag value of n bytes; one starting with a NUL
// byte is WAMP-JSON's binary, which pyStr rejects.
func (d *mpDecoder) tagString(fd *MsgpackFeedDecoder, n int) (string, bool) {
	p, ok := d.take(n)
	if !ok || len(p) > 0 && p[0] == 0 {
		return "", false
	}
	return fd.tags.intern(p), true
}

// fieldValue reads one value into the zeroed v as toValue converts it,
// declining any toValue would reject.
func (d *mpDecoder) fieldValue(v *Value) bool {
	if d.i >= len(d.b) {
		return false
	}
	c := d.b[d.i]
	d.i++
	switch {
	case c <= 0x7f:
		v.Kind, v.I = KindInt, int64(c)
		return true
	case c >= 0xe0:
		v.Kind, v.I = KindInt, int64(int8(c))
		return true
	case c >= 0xa0 && c <= 0xbf:
		return d.stringValue(v, int(c&0x1f))
	}
	switch c {
	case 0xcb:
		p, ok := d.take(8)
		if !ok {
			return false
		}
		f := math.Float64frombits(binary.BigEndian.Uint64(p))
		if f-f != 0 {
			return false
		}
		v.Kind, v.F = KindFloat, f
		return true
	case 0xca:
		p, ok := d.take(4)
		if !ok {
			return false
		}
		f := float64(math.Float32frombits(binary.BigEndian.Uint32(p)))
		if f-f != 0 {
			return false
		}
		v.Kind, v.F = KindFloat, f
		return true
	case 0xcc, 0xcd, 0xce, 0xcf:
		p, ok := d.take(1 << (c - 0xcc))
		if !ok {
			return false
		}
		u := bigEndian(p)
		if u > math.MaxInt64 {
			return false
		}
		v.Kind, v.I = KindInt, int64(u)
		return true
	case 0xd0, 0xd1, 0xd2, 0xd3:
		p, ok := d.take(1 << (c - 0xd0))
		if !ok {
			return false
		}
		v.Kind, v.I = KindInt, signExtend(bigEndian(p), len(p))
		return true
	case 0xc2, 0xc3:
		v.Kind, v.B = KindBool, c == 0xc3
		return true
	case 0xd9, 0xda, 0xdb:
		n, ok := d.length(1 << (c - 0xd9))
		if !ok {
			return false
		}
		return d.stringValue(v, n)
	}
	return false
}

// stringValue reads a string of n bytes; one starting with a NUL byte is
// WAMP-JSON's binary, which toValue rejects.
func (d *mpDecoder) stringValue(v *Value, n int) bool {
	p, ok := d.take(n)
	if !ok || len(p) > 0 && p[0] == 0 {
		return false
	}
	v.Kind, v.S = KindString, string(p)
	return true
}

// MsgpackEventSubscription returns the subscription ID of a msgpack WAMP
// EVENT without decoding the rest; ok is false when data does not start as
// an EVENT that DecodeMsgpackEvent could accept.
func MsgpackEventSubscription(data []byte) (sub wamp.ID, ok bool) {
	d := mpDecoder{b: data}
	n, ok := d.arrayLen()
	if !ok || n < 4 || n > 6 {
		return 0, false
	}
	typ, ok := d.uint()
	if !ok || typ != uint64(wamp.EVENT) {
		return 0, false
	}
	s, ok := d.uint()
	return wamp.ID(s), ok
}

// DecodeMsgpackEventHead decodes a msgpack WAMP EVENT's IDs and Details as
// DecodeMsgpackEvent does, leaving Arguments and ArgumentsKw nil, after
// checking that they are well-formed msgpack of the kinds
// DecodeMsgpackEvent decodes (arguments a list or nil, keyword arguments an
// object or nil; duplicate keys in them are not checked). ok is false
// otherwise.
func DecodeMsgpackEventHead(data []byte) (ev *wamp.Event, ok bool) {
	d := mpDecoder{b: data}
	n, ok := d.arrayLen()
	if !ok || n < 4 || n > 6 {
		return nil, false
	}
	var ids [3]uint64
	for k := range ids {
		if ids[k], ok = d.uint(); !ok {
			return nil, false
		}
	}
	if ids[0] != uint64(wamp.EVENT) {
		return nil, false
	}
	ev = &wamp.Event{Subscription: wamp.ID(ids[1]), Publication: wamp.ID(ids[2])}
	v, ok := d.value(0)
	if !ok {
		return nil, false
	}
	switch x := v.(type) {
	case nil:
	case map[string]any:
		ev.Details = x
	default:
		return nil, false
	}
	for i := 4; i < n; i++ {
		c := d.peek()
		switch {
		case c == 0xc0:
		case i == 4 && (c >= 0x90 && c <= 0x9f || c == 0xdc || c == 0xdd):
		case i == 5 && d.isMap():
		default:
			return nil, false
		}
		if !d.skip(0) {
			return nil, false
		}
	}
	if d.i != len(data) {
		return nil, false
	}
	return ev, true
}
