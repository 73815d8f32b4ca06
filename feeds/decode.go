package feeds

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"

	"github.com/gammazero/nexus/v3/wamp"
)

// DecodeEvent decodes one feed event as a WAMP client delivers it: args and
// kwargs decoded by nexus's JSON, msgpack or CBOR serializer (lists []any or
// wamp.List, objects map[string]any or wamp.Dict; numbers int64, uint64, int,
// float64, float32 or json.Number, with *big.Int for integers beyond 64 bits;
// strings string).
//
// The event must have exactly one positional argument, the pair
// [message, feed_info], and no keyword arguments (ocs-protocol.md §6.1);
// feed_info must have the keys of §6.2 with their types, except that
// address, session_id and agent_class may be absent (older OCS releases;
// the Python publisher does not read them). Anything else is an error
// wrapping ErrBadEvent that says what is wrong.
//
// For a feed that is not Recordable the message is not looked at and Blocks
// is nil. For a recorded feed the message's blocks become Blocks, in block
// name order, each with its fields in field name order (Go maps have no
// order; DecodeEventJSON keeps the order of the text). Ints stay KindInt,
// floats stay KindFloat even when integral, bools and strings keep their
// types. What cannot be stored in InfluxDB is dropped and reported as
// Problems naming agent, feed, block and field:
//
//   - a message or block that is not an object, a block without a string
//     block_name equal to its key, or without a timestamps list (or a
//     single timestamp) or a data object: that block (or the message);
//   - a block whose influxdb_tags are not null and break OCS's rules (see
//     below): that block;
//   - a field whose name breaks OCS's rules (VerifyFieldName) or whose
//     values are not a list: that field;
//   - a value that is null, a list, an object, binary, a non-finite float or
//     an integer outside int64: that value (left absent, KindInvalid);
//   - a data list shorter than timestamps: the missing values are absent
//     (but in a block of more than 65536 fields × samples made mostly of
//     missing values, that field, so memory stays proportional to the
//     input); longer: the extra values are ignored (as Python does), counted;
//   - a timestamp that is not a number, NaN, or whose nanoseconds t·1e9 do
//     not fit int64 (±Inf, huge): that sample;
//   - a sample left with no value in any field: that sample.
//
// A block may carry a single sample as OCS v0.12.1 (PR #466) formats it:
// "timestamp" (one number) instead of "timestamps", and each data value
// itself instead of a list. It is read as the one-sample block
// {"timestamps": [timestamp], "data": {field: [value]}} would be, exactly
// as OCS converts it: "timestamp" wins over "timestamps" when a block has
// both, and a data value that is a list is a (rejected) list value.
//
// A block may carry influxdb_tags (OCS v0.12.1, PR #467): an object
// mapping each data key to its tag set, an object of tags plus the key
// '_field', the InfluxDB field key of that data key. null means none (OCS
// v0.12.1 agents send null). The block is dropped, with a Problem naming
// the offending data key or tag set, when influxdb_tags or a tag set is
// not an object, a tag set has no '_field' or a data key (of a valid name)
// has no tag set (the checks of OCS's Feed.verify_influxdb_tags), a tag
// value or '_field' is null, a list, an object or binary (Python would
// write its repr, or "None"), a tag key is feed, address_root or
// instance_id (the publisher's own tags), or feed_info has no agent_class
// or an agent_address without a '.' (OCS's publisher crashes on those).
// Other tag values are converted to text as Python's str() does: strings
// as they are, ints in decimal, floats as repr, bools as True and False.
//
// So every returned block has samples, every field has one Value per
// timestamp (KindInvalid marks an absent value), and every timestamp t gives
// a valid int64(t*1e9). Blocks with no samples are left out. The Message may
// share strings and the agg_params map with args; do not modify args after.
func DecodeEvent(args []any, kwargs map[string]any) (Message, []Problem, error) {
	if len(kwargs) != 0 {
		return Message{}, nil, fmt.Errorf("%w: %d keyword arguments, want none", ErrBadEvent, len(kwargs))
	}
	if len(args) != 1 {
		return Message{}, nil, fmt.Errorf("%w: %d arguments, want 1: the pair [message, feed_info]", ErrBadEvent, len(args))
	}
	pair, ok := asList(args[0])
	if !ok {
		return Message{}, nil, fmt.Errorf("%w: argument is %s, want the pair [message, feed_info]", ErrBadEvent, typeName(args[0]))
	}
	if len(pair) != 2 {
		return Message{}, nil, fmt.Errorf("%w: argument has %d elements, want the pair [message, feed_info]", ErrBadEvent, len(pair))
	}
	info, err := decodeInfo(pair[1])
	if err != nil {
		return Message{}, nil, err
	}
	m := Message{Info: info}
	if !info.Recordable() {
		return m, nil, nil
	}
	d := decoder{agent: info.AgentAddress, feed: info.FeedName, class: info.AgentClass}
	m.Blocks = d.message(pair[0])
	return m, d.problems, nil
}

// decoder collects the problems of one recorded message.
type decoder struct {
	agent, feed string
	class       *string // feed_info agent_class, the measurement of tagged blocks
	problems    []Problem
}

// note records p, merging it into an earlier problem of the same block,
// field, scope and reason.
func (d *decoder) note(p Problem) { d.noteValue(p, nil, false) }

// noteValue is note for a problem with an offending value, which is
// rendered only if p starts a new problem.
func (d *decoder) noteValue(p Problem, raw any, show bool) {
	p.Agent, p.Feed = d.agent, d.feed
	for i := len(d.problems) - 1; i >= 0; i-- {
		q := &d.problems[i]
		if q.Block != p.Block {
			break
		}
		if q.Field == p.Field && q.Scope == p.Scope && q.Reason == p.Reason {
			q.Count += p.Count
			q.Points += p.Points
			if p.Index >= 0 && (q.Index < 0 || p.Index < q.Index) {
				q.Index = p.Index
			}
			return
		}
	}
	if show {
		p.Value = abbrev(raw)
	}
	d.problems = append(d.problems, p)
}

func (d *decoder) message(v any) []Block {
	var buf [8]member
	var idx [8]uint8
	ms, ok := members(v, buf[:0], idx[:])
	if !ok {
		d.noteValue(Problem{Scope: ScopeMessage, Index: -1, Count: 1,
			Reason: "message is " + typeName(v) + ", want an object of blocks"}, v, true)
		return nil
	}
	if ms.len() == 0 {
		return nil
	}
	blocks := make([]Block, 0, ms.len())
	for i := range ms.len() {
		m := ms.at(i)
		if b, ok := d.block(m.key, m.val); ok {
			blocks = append(blocks, b)
		}
	}
	if len(blocks) == 0 {
		return nil
	}
	return blocks
}

func (d *decoder) dropBlock(name, reason string, points int) {
	d.note(Problem{Block: name, Scope: ScopeBlock, Index: -1, Count: 1, Points: points, Reason: reason})
}

func (d *decoder) dropBlockValue(name, reason string, value any, points int) {
	d.noteValue(Problem{Block: name, Scope: ScopeBlock, Index: -1, Count: 1, Points: points, Reason: reason}, value, true)
}

// block decodes one block; ok is false when nothing of it remains.
func (d *decoder) block(name string, v any) (Block, bool) {
	if !isObject(v) {
		d.dropBlockValue(name, "block is "+typeName(v)+", want an object", v, 0)
		return Block{}, false
	}
	tsRaw, hasTS := lookup(v, "timestamps")
	tsList, tsOK := asList(tsRaw)
	bn, hasName := lookup(v, "block_name")
	dataRaw, hasData := lookup(v, "data")
	// The keys of OCS v0.12.1 (looked up only when the block has keys
	// beyond those three): a single sample, "timestamp" replacing
	// "timestamps" and every data value wrapped in a one-element list
	// (PR #466); influxdb_tags (PR #467).
	var oneTS, one [1]any
	single := false
	var tagsRaw any
	if objectLen(v) > count(hasTS, hasName, hasData) {
		if t, ok := lookup(v, "timestamp"); ok {
			single, hasTS, tsOK = true, true, true
			oneTS[0] = t
			tsList = oneTS[:]
		}
		tagsRaw, _ = lookup(v, "influxdb_tags")
	}
	nt := len(tsList)
	switch {
	case !hasName:
		d.dropBlock(name, "block has no block_name", nt)
		return Block{}, false
	case !isString(bn):
		d.dropBlockValue(name, "block_name is "+typeName(bn)+", want a string", bn, nt)
		return Block{}, false
	case bn.(string) != name:
		d.dropBlockValue(name, "block_name does not match the block's key", bn, nt)
		return Block{}, false
	case !hasTS:
		d.dropBlock(name, "block has no timestamps", 0)
		return Block{}, false
	case !tsOK:
		d.dropBlockValue(name, "timestamps is "+typeName(tsRaw)+", want a list", tsRaw, 0)
		return Block{}, false
	}
	if !hasData {
		d.dropBlock(name, "block has no data", nt)
		return Block{}, false
	}
	var buf [32]member // no allocation for up to 32 fields
	var idx [256]uint8
	fms, ok := members(dataRaw, buf[:0], idx[:])
	if !ok {
		d.dropBlockValue(name, "data is "+typeName(dataRaw)+", want an object", dataRaw, nt)
		return Block{}, false
	}
	tagged := tagsRaw != nil
	if tagged && !d.checkTags(name, tagsRaw, fms, nt) {
		return Block{}, false
	}

	// Timestamps; drop marks the samples to remove (allocated on first use).
	ts := make([]float64, nt)
	var drop []bool
	for i, raw := range tsList {
		t, reason := timestamp(raw)
		if reason != "" {
			if drop == nil {
				drop = make([]bool, nt)
			}
			drop[i] = true
			d.noteValue(Problem{Block: name, Scope: ScopeSample, Index: i, Count: 1, Points: 1, Reason: reason}, raw, true)
			continue
		}
		ts[i] = t
	}

	// A field shorter than the timestamps costs nt values of memory for
	// fewer values of input. In a large block made mostly of such holes the
	// short fields are dropped instead, so memory stays proportional to
	// the input whatever a publisher sends.
	ncols, minLen := fms.len(), 0
	if ncols*nt > sparseCells {
		present, full := 0, 0
		for k := range ncols {
			if list, ok := fieldList(fms.at(k).val, single, &one); ok {
				present += min(len(list), nt)
				if len(list) >= nt {
					full++
				}
			}
		}
		if ncols*nt > 2*present+sparseCells {
			ncols, minLen = full, nt
		}
	}

	// Fields: one []Value for the whole block, carved per field.
	fields := make([]Field, 0, ncols)
	var sets []TagSet
	if tagged {
		sets = make([]TagSet, 0, ncols)
	}
	values := make([]Value, ncols*nt)
	holes := false
	for k := range fms.len() {
		fm := fms.at(k)
		if err := VerifyFieldName(fm.key); err != nil {
			d.note(Problem{Block: name, Field: fm.key, Scope: ScopeField, Index: -1, Count: 1,
				Reason: "invalid field name: " + err.Error()})
			continue
		}
		list, ok := fieldList(fm.val, single, &one)
		if !ok {
			d.noteValue(Problem{Block: name, Field: fm.key, Scope: ScopeField, Index: -1, Count: 1,
				Reason: "values are " + typeName(fm.val) + ", want a list"}, fm.val, true)
			continue
		}
		if len(list) < minLen {
			d.note(Problem{Block: name, Field: fm.key, Scope: ScopeField, Index: -1, Count: 1,
				Reason: "fewer values than timestamps in a large block of mostly missing values"})
			continue
		}
		j := len(fields) * nt
		vals := values[j : j+nt : j+nt]
		if d.fill(vals, list, name, fm.key) {
			holes = true
		}
		fields = append(fields, Field{Name: fm.key, Values: vals})
		if tagged {
			set, _ := lookup(tagsRaw, fm.key)
			sets = append(sets, fieldTags(set))
		}
	}

	// Samples without any value cannot become points.
	if holes || len(fields) == 0 {
		reason := "no field has a value at this sample"
		if len(fields) == 0 {
			reason = "block has no usable field"
		}
		for i := 0; i < nt; i++ {
			if (drop != nil && drop[i]) || hasValue(fields, i) {
				continue
			}
			if drop == nil {
				drop = make([]bool, nt)
			}
			drop[i] = true
			d.note(Problem{Block: name, Scope: ScopeSample, Index: i, Count: 1, Points: 1, Reason: reason})
		}
	}
	if drop != nil {
		ts = compact(ts, fields, drop)
	}
	if len(ts) == 0 {
		return Block{}, false
	}
	return Block{Name: name, Timestamps: ts, Fields: fields, Tags: sets}, true
}

// count returns how many of bs are true.
func count(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// fieldList returns a field's values as a list: v itself, or for a single
// sample block v wrapped in one (in *one, which the caller reads before
// the next call).
func fieldList(v any, single bool, one *[1]any) ([]any, bool) {
	if single {
		one[0] = v
		return one[:], true
	}
	return asList(v)
}

// sparseCells is the block size (fields × samples) from which blocks made
// mostly of missing values lose their short fields (see block).
const sparseCells = 1 << 16

func hasValue(fields []Field, i int) bool {
	for _, f := range fields {
		if f.Values[i].Kind != KindInvalid {
			return true
		}
	}
	return false
}

// compact removes the dropped samples from ts and from every field, in
// place, and returns the shortened timestamps.
func compact(ts []float64, fields []Field, drop []bool) []float64 {
	k := 0
	for i, t := range ts {
		if !drop[i] {
			ts[k] = t
			k++
		}
	}
	for j := range fields {
		vals := fields[j].Values
		n := 0
		for i, v := range vals {
			if !drop[i] {
				vals[n] = v
				n++
			}
		}
		fields[j].Values = vals[:n:n]
	}
	return ts[:k:k]
}

// fill converts src into dst (len(dst) = number of timestamps) and reports
// whether any value is left absent.
func (d *decoder) fill(dst []Value, src []any, block, field string) (holes bool) {
	n := len(src)
	if n > len(dst) {
		d.note(Problem{Block: block, Field: field, Scope: ScopeValue, Index: len(dst), Count: n - len(dst),
			Reason: "more values than timestamps (ignored, as Python does)"})
		src = src[:len(dst)]
	}
	for i, raw := range src {
		// Fast paths write only the fields they need into the zeroed
		// slot: no copy of a whole Value, no write barrier for S.
		switch x := raw.(type) {
		case float64:
			if x-x == 0 { // finite
				dst[i].Kind, dst[i].F = KindFloat, x
				continue
			}
		case int64:
			dst[i].Kind, dst[i].I = KindInt, x
			continue
		}
		v, reason := toValue(raw)
		if reason != "" {
			holes = true
			d.noteValue(Problem{Block: block, Field: field, Scope: ScopeValue, Index: i, Count: 1,
				Reason: reason}, raw, true)
			continue
		}
		dst[i] = v
	}
	if n < len(dst) {
		holes = true
		d.note(Problem{Block: block, Field: field, Scope: ScopeValue, Index: n, Count: len(dst) - n,
			Reason: "fewer values than timestamps"})
	}
	return holes
}

// Reasons for dropping a value.
const (
	reasonNull      = "value is null"
	reasonList      = "value is a list"
	reasonObject    = "value is an object"
	reasonBinary    = "value is binary"
	reasonNonFinite = "float is not finite (InfluxDB cannot store NaN or infinity)"
	reasonIntRange  = "integer is outside the int64 range InfluxDB can store"
	reasonNumber    = "value is not a valid number"
)

// toValue converts one decoded value; reason is "" on success.
func toValue(raw any) (Value, string) {
	switch x := raw.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return Value{}, reasonNonFinite
		}
		return Value{Kind: KindFloat, F: x}, ""
	case int64:
		return Value{Kind: KindInt, I: x}, ""
	case uint64:
		if x > math.MaxInt64 {
			return Value{}, reasonIntRange
		}
		return Value{Kind: KindInt, I: int64(x)}, ""
	case string:
		if len(x) > 0 && x[0] == 0 {
			return Value{}, reasonBinary // WAMP-JSON's encoding of binary
		}
		return Value{Kind: KindString, S: x}, ""
	case bool:
		return Value{Kind: KindBool, B: x}, ""
	case float32:
		return toValue(float64(x))
	case json.Number:
		n, ok := parseNumber(string(x))
		if !ok {
			return Value{}, reasonNumber
		}
		return toValue(n)
	case nil:
		return Value{}, reasonNull
	case []byte:
		return Value{}, reasonBinary
	case *big.Int:
		return Value{}, reasonIntRange
	case []any, wamp.List:
		return Value{}, reasonList
	case map[string]any, wamp.Dict, *object:
		return Value{}, reasonObject
	}
	if i, ok := intValue(raw); ok {
		return Value{Kind: KindInt, I: i}, ""
	}
	if _, ok := raw.(uint); ok {
		return Value{}, reasonIntRange
	}
	return Value{}, "value has unsupported type " + typeName(raw)
}

// maxNanos bounds t·1e9: int64(p) is only defined, and a valid InfluxDB
// time, for -2^63 < p < 2^63.
const maxNanos = 1 << 63

// timestamp converts one decoded timestamp; reason is "" on success.
func timestamp(raw any) (float64, string) {
	var t float64
	switch x := raw.(type) {
	case float64:
		t = x
	case float32:
		t = float64(x)
	case uint64:
		t = float64(x)
	case uint:
		t = float64(x)
	case json.Number:
		n, ok := parseNumber(string(x))
		if !ok {
			return 0, "timestamp is not a valid number"
		}
		return timestamp(n)
	case *big.Int:
		t, _ = new(big.Float).SetInt(x).Float64()
	case nil:
		return 0, "timestamp is null"
	default:
		i, ok := intValue(raw)
		if !ok {
			return 0, "timestamp is " + typeName(raw) + ", want a number"
		}
		t = float64(i)
	}
	if math.IsNaN(t) {
		return 0, "timestamp is NaN"
	}
	if p := t * 1e9; !(p > -maxNanos && p < maxNanos) {
		return 0, "cannot convert timestamp to an InfluxDB compatible time"
	}
	return t, ""
}

func isString(v any) bool {
	_, ok := v.(string)
	return ok
}
