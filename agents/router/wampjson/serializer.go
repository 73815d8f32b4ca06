package wampjson

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"

	"github.com/gammazero/nexus/v3/wamp"
)

// Serializer is a nexus serialize.Serializer for wamp.2.json that follows
// this package's rules: ints stay ints, floats stay floats (2.0 and 1e16
// included), NaN/Infinity/-Infinity are read and written as Python does,
// and NUL-prefixed base64 strings are binary. It is stateless and safe for
// concurrent use.
type Serializer struct{}

// Serialize encodes a WAMP message as a JSON array: the message type code,
// then the message's fields in order, leaving out trailing empty optional
// fields (arguments, keyword arguments) as the WAMP spec allows.
func (Serializer) Serialize(msg wamp.Message) ([]byte, error) {
	list, err := messageToList(msg)
	if err != nil {
		return nil, err
	}
	e := encoder{}
	return e.append(nil, list, 0)
}

// Deserialize decodes a JSON array into the WAMP message it describes.
func (Serializer) Deserialize(data []byte) (wamp.Message, error) {
	v, err := UnmarshalWAMP(data)
	if err != nil {
		return nil, err
	}
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, errors.New("wamp message is not a non-empty JSON array")
	}
	code, ok := list[0].(int64)
	if !ok || code < 0 || code > math.MaxInt32 {
		return nil, fmt.Errorf("wamp message type %v is not a message code", list[0])
	}
	return listToMessage(wamp.MessageType(code), list[1:])
}

// SerializeDataItem encodes one value (nexus uses it for payload
// pass-through).
func (Serializer) SerializeDataItem(item any) ([]byte, error) {
	return Marshal(item)
}

// DeserializeDataItem decodes data into v, which must be a non-nil *any.
func (Serializer) DeserializeDataItem(data []byte, v any) error {
	p, ok := v.(*any)
	if !ok || p == nil {
		return fmt.Errorf("wampjson: cannot decode into %T, need *any", v)
	}
	x, err := UnmarshalWAMP(data)
	if err != nil {
		return err
	}
	*p = x
	return nil
}

// messageToList lists the fields of a nexus message struct in wire order.
func messageToList(msg wamp.Message) ([]any, error) {
	rv := reflect.ValueOf(msg)
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return nil, fmt.Errorf("wamp message %T is not a struct", msg)
	}
	rt := rv.Type()
	last := rt.NumField() - 1
	for ; last >= 0; last-- {
		f := rv.Field(last)
		optional := strings.Contains(rt.Field(last).Tag.Get("wamp"), "omitempty")
		if !optional || !hasLen(f) || f.Len() > 0 {
			break
		}
	}
	list := make([]any, 0, last+2)
	list = append(list, int64(msg.MessageType()))
	for i := 0; i <= last; i++ {
		list = append(list, rv.Field(i).Interface())
	}
	return list, nil
}

func hasLen(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Map, reflect.Slice, reflect.Array, reflect.String, reflect.Chan:
		return true
	}
	return false
}

// listToMessage fills a new message of type code from its wire fields.
// Missing trailing fields stay zero; null fields are left zero.
func listToMessage(code wamp.MessageType, fields []any) (wamp.Message, error) {
	msg := wamp.NewMessage(code)
	if msg == nil {
		return nil, fmt.Errorf("unsupported wamp message type %d", code)
	}
	rv := reflect.ValueOf(msg).Elem()
	if len(fields) > rv.NumField() {
		return nil, fmt.Errorf("wamp %s message has %d fields, want at most %d",
			code, len(fields), rv.NumField())
	}
	for i, v := range fields {
		if v == nil {
			continue
		}
		if err := assignField(rv.Field(i), v); err != nil {
			return nil, fmt.Errorf("wamp %s message field %d: %w", code, i+1, err)
		}
	}
	return msg, nil
}

func assignField(f reflect.Value, v any) error {
	switch f.Kind() {
	case reflect.Uint64, reflect.Uint32, reflect.Uint:
		switch n := v.(type) {
		case int64:
			if n < 0 {
				return fmt.Errorf("negative id %d", n)
			}
			f.SetUint(uint64(n))
		case uint64:
			f.SetUint(n)
		default:
			return fmt.Errorf("want an integer, got %T", v)
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, ok := v.(int64)
		if !ok {
			return fmt.Errorf("want an integer, got %T", v)
		}
		f.SetInt(n)
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("want a string, got %T", v)
		}
		f.SetString(s)
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("want an object, got %T", v)
		}
		f.Set(reflect.ValueOf(m).Convert(f.Type()))
	case reflect.Slice:
		l, ok := v.([]any)
		if !ok {
			return fmt.Errorf("want an array, got %T", v)
		}
		f.Set(reflect.ValueOf(l).Convert(f.Type()))
	default:
		return fmt.Errorf("unsupported field type %s", f.Type())
	}
	return nil
}
