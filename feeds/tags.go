package feeds

import (
	"encoding/json"
	"math/big"
	"strconv"
	"strings"

	"github.com/gammazero/nexus/v3/wamp"
)

// This file reads a block's influxdb_tags (OCS v0.12.1, PR #467):
//
//	"influxdb_tags": {"channel_00": {"channel": 0, "_field": "temperature"}, ...}
//
// one tag set per data key, each holding the key '_field' (the InfluxDB
// field key the data key's values are written under) and the tags of
// that data key's points.

// FieldTag is the key of a tag set that names the InfluxDB field.
const FieldTag = "_field"

// The tags the publisher gives every point of a tagged block; a tag set
// may not use these keys.
const (
	TagFeed        = "feed"
	TagAddressRoot = "address_root"
	TagInstanceID  = "instance_id"
)

// reservedTag reports whether a tag set may not use key k.
func reservedTag(k string) bool {
	return k == TagFeed || k == TagAddressRoot || k == TagInstanceID
}

// SplitAgentAddress returns the address_root and instance_id tags of the
// points of a tagged block as OCS's publisher derives them from
// feed_info's agent_address: the first and the second dot-separated
// component (Python's address.split('.')[0] and [1]). ok is false when
// the address has no '.', where OCS's publisher fails (IndexError). An
// address root holding dots is therefore cut at its first dot, as in OCS.
func SplitAgentAddress(address string) (root, instance string, ok bool) {
	root, rest, ok := strings.Cut(address, ".")
	if !ok {
		return "", "", false
	}
	instance, _, _ = strings.Cut(rest, ".")
	return root, instance, true
}

// checkTags checks a block's influxdb_tags (not null) against the data
// members fms and reports the first thing wrong as a Problem dropping the
// block (nt samples). It returns whether the block can be kept.
func (d *decoder) checkTags(block string, tags any, fms ordered, nt int) bool {
	if d.class == nil {
		d.dropBlock(block, "influxdb_tags need feed_info's agent_class (the measurement), which is null", nt)
		return false
	}
	if _, _, ok := SplitAgentAddress(d.agent); !ok {
		d.dropBlock(block, "influxdb_tags need an agent_address of the form <address_root>.<instance_id>", nt)
		return false
	}
	var buf [32]member
	var idx [256]uint8
	sets, ok := members(tags, buf[:0], idx[:])
	if !ok {
		d.dropBlockValue(block, "influxdb_tags is "+typeName(tags)+", want an object of tag sets", tags, nt)
		return false
	}
	// Every tag set (OCS's Feed.verify_influxdb_tags checks them all).
	for i := range sets.len() {
		s := sets.at(i)
		var tbuf [16]member
		var tidx [16]uint8
		tms, ok := members(s.val, tbuf[:0], tidx[:])
		if !ok {
			d.dropTags(block, s.key, "tag set is "+typeName(s.val)+", want an object", s.val, nt)
			return false
		}
		hasField := false
		for j := range tms.len() {
			t := tms.at(j)
			if t.key == FieldTag {
				hasField = true
			} else if reservedTag(t.key) {
				d.dropTags(block, s.key, "tag key "+strconv.Quote(t.key)+" is one of the publisher's own tags (feed, address_root, instance_id)", nil, nt)
				return false
			}
			if _, reason := pyStr(t.val); reason != "" {
				d.dropTags(block, s.key, "tag "+strconv.Quote(t.key)+": "+reason, t.val, nt)
				return false
			}
		}
		if !hasField {
			d.dropTags(block, s.key, "'_field' not supplied with 'influxdb_tags' for this tag set", s.val, nt)
			return false
		}
	}
	// Every data key has a tag set; a data key with an invalid name is
	// dropped as a field anyway.
	for i := range fms.len() {
		k := fms.at(i).key
		if VerifyFieldName(k) != nil {
			continue
		}
		if _, ok := lookup(tags, k); !ok {
			d.dropTags(block, k, "'influxdb_tags' does not contain tags for this data key", nil, nt)
			return false
		}
	}
	return true
}

// dropTags reports a block dropped for the tag set of data key field.
func (d *decoder) dropTags(block, field, reason string, value any, nt int) {
	d.noteValue(Problem{Block: block, Field: field, Scope: ScopeBlock, Index: -1, Count: 1, Points: nt, Reason: reason},
		value, value != nil)
}

// fieldTags returns a tag set that checkTags accepted, its tags in
// decoding order.
func fieldTags(set any) (ts TagSet) {
	var tbuf [16]member
	var tidx [16]uint8
	tms, _ := members(set, tbuf[:0], tidx[:])
	if n := tms.len() - 1; n > 0 {
		ts.Tags = make([]Tag, 0, n)
	}
	for j := range tms.len() {
		t := tms.at(j)
		v, _ := pyStr(t.val)
		if t.key == FieldTag {
			ts.Field = v
			continue
		}
		ts.Tags = append(ts.Tags, Tag{Key: t.key, Value: v})
	}
	return ts
}

// pyStr converts a tag value (or '_field') to text as OCS's publisher
// does, Python's str(): strings as they are, ints in decimal, floats as
// repr (nan, inf included), True and False. reason is not "" for a value
// that has no sensible text: null (Python writes "None"), a list, an
// object or binary (Python writes their repr).
func pyStr(raw any) (string, string) {
	switch x := raw.(type) {
	case string:
		if len(x) > 0 && x[0] == 0 {
			return "", "value is binary, want a string, number or bool"
		}
		return x, ""
	case int64:
		return strconv.FormatInt(x, 10), ""
	case uint64:
		return strconv.FormatUint(x, 10), ""
	case float64:
		return FormatFloatRepr(x), ""
	case float32:
		return FormatFloatRepr(float64(x)), ""
	case bool:
		if x {
			return "True", ""
		}
		return "False", ""
	case *big.Int:
		return x.String(), ""
	case json.Number:
		n, ok := parseNumber(string(x))
		if !ok {
			return "", "value is not a valid number"
		}
		return pyStr(n)
	case nil:
		return "", "value is null, want a string, number or bool"
	case []byte:
		return "", "value is binary, want a string, number or bool"
	case []any, wamp.List, map[string]any, wamp.Dict, *object:
		return "", "value is " + typeName(raw) + ", want a string, number or bool"
	}
	if i, ok := intValue(raw); ok {
		return strconv.FormatInt(i, 10), ""
	}
	if u, ok := raw.(uint); ok {
		return strconv.FormatUint(uint64(u), 10), ""
	}
	return "", "value has unsupported type " + typeName(raw)
}
