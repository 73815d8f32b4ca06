package wampjson

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/gammazero/nexus/v3/wamp"
)

// Marshal encodes v as compact JSON with Python's number spelling (see
// AppendFloat). Object keys are sorted. A []byte is written as a WAMP-JSON
// binary string: NUL followed by its standard base64.
//
// Besides the types Unmarshal produces, v may hold any Go bool, integer,
// float, string, slice, array, map (keys are formatted with fmt), pointer or
// interface of those, and json.Number. Other values (structs, types with a
// MarshalJSON method) are written by encoding/json.
func Marshal(v any) ([]byte, error) {
	e := encoder{}
	return e.append(nil, v, 0)
}

// Append is Marshal appending to dst. On error dst is returned unchanged.
func Append(dst []byte, v any) ([]byte, error) {
	e := encoder{}
	out, err := e.append(dst, v, 0)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// MarshalIndent is Marshal with each array element and object member on
// its own line, indented by indent per level, for people to read.
func MarshalIndent(v any, indent string) ([]byte, error) {
	e := encoder{indent: indent}
	return e.append(nil, v, 0)
}

type encoder struct {
	indent string
}

const maxEncodeDepth = 10000

func (e *encoder) newline(dst []byte, depth int) []byte {
	if e.indent == "" {
		return dst
	}
	dst = append(dst, '\n')
	for range depth {
		dst = append(dst, e.indent...)
	}
	return dst
}

func (e *encoder) append(dst []byte, v any, depth int) ([]byte, error) {
	if depth > maxEncodeDepth {
		return dst, fmt.Errorf("json: nesting deeper than %d", maxEncodeDepth)
	}
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case string:
		return AppendString(dst, x), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case float64:
		return AppendFloat(dst, x), nil
	case float32:
		return AppendFloat(dst, float64(x)), nil
	case []byte:
		return appendBinary(dst, x), nil
	case json.Number:
		if _, err := Unmarshal([]byte(x)); err != nil || x == "" {
			return dst, fmt.Errorf("json: invalid number literal %q", string(x))
		}
		return append(dst, x...), nil
	case []any:
		return e.appendList(dst, x, depth)
	case wamp.List:
		return e.appendList(dst, x, depth)
	case map[string]any:
		return e.appendDict(dst, x, depth)
	case wamp.Dict:
		return e.appendDict(dst, x, depth)
	case wamp.URI:
		return AppendString(dst, string(x)), nil
	case wamp.ID:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	}
	return e.appendReflect(dst, reflect.ValueOf(v), depth)
}

func (e *encoder) appendList(dst []byte, l []any, depth int) ([]byte, error) {
	if len(l) == 0 {
		return append(dst, "[]"...), nil
	}
	dst = append(dst, '[')
	for i, item := range l {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = e.newline(dst, depth+1)
		var err error
		if dst, err = e.append(dst, item, depth+1); err != nil {
			return dst, err
		}
	}
	dst = e.newline(dst, depth)
	return append(dst, ']'), nil
}

func (e *encoder) appendDict(dst []byte, m map[string]any, depth int) ([]byte, error) {
	if len(m) == 0 {
		return append(dst, "{}"...), nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = e.newline(dst, depth+1)
		dst = AppendString(dst, k)
		dst = append(dst, ':')
		if e.indent != "" {
			dst = append(dst, ' ')
		}
		var err error
		if dst, err = e.append(dst, m[k], depth+1); err != nil {
			return dst, err
		}
	}
	dst = e.newline(dst, depth)
	return append(dst, '}'), nil
}

// appendReflect handles every other kind of Go value.
func (e *encoder) appendReflect(dst []byte, rv reflect.Value, depth int) ([]byte, error) {
	if !rv.IsValid() {
		return append(dst, "null"...), nil
	}
	if rv.Type().Implements(reflect.TypeFor[json.Marshaler]()) {
		return appendStdlib(dst, rv)
	}
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return append(dst, "null"...), nil
		}
		return e.append(dst, rv.Elem().Interface(), depth)
	case reflect.Bool:
		return strconv.AppendBool(dst, rv.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(dst, rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(dst, rv.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		return AppendFloat(dst, rv.Float()), nil
	case reflect.String:
		return AppendString(dst, rv.String()), nil
	case reflect.Slice:
		if rv.IsNil() {
			return append(dst, "null"...), nil
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return appendBinary(dst, rv.Bytes()), nil
		}
		fallthrough
	case reflect.Array:
		l := make([]any, rv.Len())
		for i := range l {
			l[i] = rv.Index(i).Interface()
		}
		return e.appendList(dst, l, depth)
	case reflect.Map:
		if rv.IsNil() {
			return append(dst, "null"...), nil
		}
		m := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			k := it.Key()
			if k.Kind() == reflect.String {
				m[k.String()] = it.Value().Interface()
			} else {
				m[fmt.Sprint(k.Interface())] = it.Value().Interface()
			}
		}
		return e.appendDict(dst, m, depth)
	}
	return appendStdlib(dst, rv)
}

func appendStdlib(dst []byte, rv reflect.Value) ([]byte, error) {
	b, err := json.Marshal(rv.Interface())
	if err != nil {
		return dst, fmt.Errorf("json: encode %s: %w", rv.Type(), err)
	}
	return append(dst, b...), nil
}

func appendBinary(dst []byte, b []byte) []byte {
	s := make([]byte, 1+base64.StdEncoding.EncodedLen(len(b)))
	base64.StdEncoding.Encode(s[1:], b)
	return AppendString(dst, string(s))
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string. Invalid UTF-8 bytes become
// U+FFFD, so the result is always valid UTF-8 (a WebSocket text frame must
// be).
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
