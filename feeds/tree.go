package feeds

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gammazero/nexus/v3/wamp"
)

// This file reads the decoded WAMP trees DecodeEvent works on: lists,
// objects (Go maps from the serializers, *object from DecodeEventJSON) and
// numbers of every Go type a decoder may produce.

// member is one key/value pair of an object.
type member struct {
	key string
	val any
}

// object is a JSON object parsed from text, its members in text order.
type object struct {
	members []member
}

func (o *object) get(key string) (any, bool) {
	for _, m := range o.members {
		if m.key == key {
			return m.val, true
		}
	}
	return nil, false
}

// sortedMembers returns a map's members ordered by key. They are collected
// in buf if it has the capacity. Up to len(idx) members are ordered by
// sorting indices, which moves no pointers (no GC write barriers); more are
// sorted in place.
func sortedMembers(m map[string]any, buf []member, idx []uint8) ordered {
	n := len(m)
	if n == 0 {
		return ordered{}
	}
	ms := buf[:0]
	if cap(ms) < n {
		ms = make([]member, 0, n)
	}
	for k, v := range m {
		ms = append(ms, member{k, v})
	}
	if n > len(idx) || n > 256 {
		slices.SortFunc(ms, func(a, b member) int { return strings.Compare(a.key, b.key) })
		return ordered{ms: ms}
	}
	idx = idx[:n]
	for i := range idx {
		idx[i] = uint8(i)
	}
	for i := 1; i < n; i++ {
		for j := i; j > 0 && ms[idx[j]].key < ms[idx[j-1]].key; j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
	return ordered{ms: ms, idx: idx}
}

// parseNumber parses a JSON number (or Python's NaN, Infinity, -Infinity):
// without '.', 'e' or 'E' it is an integer (int64, uint64 above MaxInt64,
// *big.Int beyond), otherwise a float64 (±Inf when out of range, as Python).
func parseNumber(s string) (any, bool) {
	switch s {
	case "NaN":
		return math.NaN(), true
	case "Infinity":
		return math.Inf(1), true
	case "-Infinity":
		return math.Inf(-1), true
	}
	isInt := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '.' || c == 'e' || c == 'E' {
			isInt = false
			break
		}
	}
	if isInt {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, true
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return u, true
		}
		b, ok := new(big.Int).SetString(s, 10)
		if !ok {
			return nil, false
		}
		return b, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
			return nil, false
		}
	}
	return f, true
}

// asList returns v as a list when it is one.
func asList(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case wamp.List:
		return x, true
	}
	return nil, false
}

func isObject(v any) bool {
	switch v.(type) {
	case map[string]any, wamp.Dict, *object:
		return true
	}
	return false
}

// objectLen returns the number of members of object v.
func objectLen(v any) int {
	switch x := v.(type) {
	case map[string]any:
		return len(x)
	case wamp.Dict:
		return len(x)
	case *object:
		return len(x.members)
	}
	return 0
}

// lookup returns the member key of object v.
func lookup(v any, key string) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		e, ok := x[key]
		return e, ok
	case wamp.Dict:
		e, ok := x[key]
		return e, ok
	case *object:
		return x.get(key)
	}
	return nil, false
}

// ordered is an object's members in decoding order: ms in the order of
// idx, or ms itself when idx is nil.
type ordered struct {
	ms  []member
	idx []uint8
}

func (o ordered) len() int { return len(o.ms) }

func (o ordered) at(i int) member {
	if o.idx != nil {
		return o.ms[o.idx[i]]
	}
	return o.ms[i]
}

// members returns the members of object v in a deterministic order: text
// order for a parsed JSON object, key order for a map. A map's members are
// collected in buf and ordered in idx when they fit.
func members(v any, buf []member, idx []uint8) (ordered, bool) {
	switch x := v.(type) {
	case map[string]any:
		return sortedMembers(x, buf, idx), true
	case wamp.Dict:
		return sortedMembers(x, buf, idx), true
	case *object:
		return ordered{ms: x.members}, true
	}
	return ordered{}, false
}

// typeName names the JSON type of a decoded value for messages.
func typeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "a bool"
	case string:
		return "a string"
	case float64, float32:
		return "a float"
	case []byte:
		return "binary"
	case []any, wamp.List:
		return "a list"
	case map[string]any, wamp.Dict, *object:
		return "an object"
	case *big.Int:
		return "an integer"
	case json.Number:
		if n, ok := parseNumber(string(x)); ok {
			return typeName(n)
		}
		return "a number"
	}
	if _, ok := intValue(v); ok {
		return "an integer"
	}
	if _, ok := v.(uint); ok {
		return "an integer"
	}
	return fmt.Sprintf("%T", v)
}

// abbrev renders a rejected value briefly for a Problem.
func abbrev(v any) string {
	var s string
	switch x := plain(v).(type) {
	case nil:
		s = "null"
	case string:
		s = strconv.Quote(x)
	case []byte:
		s = fmt.Sprintf("binary(%d bytes)", len(x))
	case float64:
		s = FormatFloatRepr(x)
	default:
		s = fmt.Sprint(x)
	}
	const limit = 60
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
