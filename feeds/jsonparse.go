package feeds

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// DecodeEventJSON decodes a feed event whose WAMP arguments are given as JSON
// text, the args array `[[message, feed_info]]`, keeping the order of blocks
// and fields as in the text. Numbers without '.' or exponent are integers,
// the others floats, and Python's NaN, Infinity and -Infinity tokens are
// accepted (ocs-protocol.md §1.1). Duplicate keys keep the first position
// and the last value, as Python's json module does. Apart from order, the
// result is exactly what DecodeEvent returns for the same content.
// Invalid JSON is an error wrapping ErrBadEvent.
func DecodeEventJSON(data []byte) (Message, []Problem, error) {
	v, err := parseJSON(data)
	if err != nil {
		return Message{}, nil, fmt.Errorf("%w: %w", ErrBadEvent, err)
	}
	args, ok := v.([]any)
	if !ok {
		return Message{}, nil, fmt.Errorf("%w: arguments are %s, want a list", ErrBadEvent, typeName(v))
	}
	return DecodeEvent(args, nil)
}

// ParseJSON parses JSON text the way Python's json.loads reads it, into the
// tree nexus's decoders deliver: objects map[string]any, arrays []any,
// integers int64 (uint64 above MaxInt64, *big.Int beyond 64 bits), other
// numbers float64, NaN/Infinity/-Infinity accepted. Object order is lost;
// use DecodeEventJSON to keep it.
func ParseJSON(data []byte) (any, error) {
	v, err := parseJSON(data)
	if err != nil {
		return nil, err
	}
	return plain(v), nil
}

// maxDepth bounds nesting, as Python's recursion limit does.
const maxDepth = 1000

type jsonParser struct {
	data  []byte
	pos   int
	depth int
}

// parseJSON parses one JSON value; objects become *object.
func parseJSON(data []byte) (any, error) {
	p := jsonParser{data: data}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(p.data) {
		return nil, p.errorf("extra data after the value")
	}
	return v, nil
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("json: %s at offset %d", fmt.Sprintf(format, args...), p.pos)
}

func (p *jsonParser) space() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) literal(word string, v any) (any, error) {
	if !strings.HasPrefix(string(p.data[p.pos:min(len(p.data), p.pos+len(word))]), word) {
		return nil, p.errorf("invalid literal")
	}
	p.pos += len(word)
	return v, nil
}

func (p *jsonParser) value() (any, error) {
	p.space()
	if p.pos >= len(p.data) {
		return nil, p.errorf("unexpected end of input")
	}
	switch c := p.data[p.pos]; c {
	case '{':
		return p.object()
	case '[':
		return p.array()
	case '"':
		return p.string()
	case 't':
		return p.literal("true", true)
	case 'f':
		return p.literal("false", false)
	case 'n':
		return p.literal("null", nil)
	case 'N', 'I':
		return p.number()
	default:
		if c == '-' || ('0' <= c && c <= '9') {
			return p.number()
		}
		return nil, p.errorf("unexpected character %q", c)
	}
}

func (p *jsonParser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.errorf("nesting deeper than %d", maxDepth)
	}
	p.pos++ // the opening bracket
	return nil
}

func (p *jsonParser) array() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	list := []any{}
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		p.depth--
		return list, nil
	}
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		list = append(list, v)
		p.space()
		if p.pos >= len(p.data) {
			return nil, p.errorf("unexpected end of input in a list")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			p.depth--
			return list, nil
		default:
			return nil, p.errorf("want ',' or ']'")
		}
	}
}

func (p *jsonParser) object() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	obj := &object{}
	var index map[string]int // for large objects with many keys
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		p.depth--
		return obj, nil
	}
	for {
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, p.errorf("want a string key")
		}
		k, err := p.string()
		if err != nil {
			return nil, err
		}
		key := k.(string)
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.errorf("want ':'")
		}
		p.pos++
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		// Python keeps a duplicate key's first position and last value.
		dup := -1
		if index != nil {
			if i, ok := index[key]; ok {
				dup = i
			}
		} else {
			for i := range obj.members {
				if obj.members[i].key == key {
					dup = i
					break
				}
			}
		}
		if dup >= 0 {
			obj.members[dup].val = v
		} else {
			obj.members = append(obj.members, member{key, v})
			if index != nil {
				index[key] = len(obj.members) - 1
			} else if len(obj.members) >= 16 {
				index = make(map[string]int, 2*len(obj.members))
				for i, m := range obj.members {
					index[m.key] = i
				}
			}
		}
		p.space()
		if p.pos >= len(p.data) {
			return nil, p.errorf("unexpected end of input in an object")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			p.depth--
			return obj, nil
		default:
			return nil, p.errorf("want ',' or '}'")
		}
	}
}

// string parses a JSON string starting at the opening quote.
func (p *jsonParser) string() (any, error) {
	p.pos++
	start := p.pos
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			s := string(p.data[start:p.pos])
			p.pos++
			return s, nil
		case c == '\\':
			return p.escapedString(start)
		case c < 0x20:
			return nil, p.errorf("control character in a string")
		}
		p.pos++
	}
	return nil, p.errorf("unterminated string")
}

// escapedString continues a string that has escapes; p.pos is at the first
// backslash.
func (p *jsonParser) escapedString(start int) (any, error) {
	buf := make([]byte, 0, p.pos-start+16)
	buf = append(buf, p.data[start:p.pos]...)
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(buf), nil
		case c < 0x20:
			return nil, p.errorf("control character in a string")
		case c != '\\':
			buf = append(buf, c)
			p.pos++
			continue
		}
		if p.pos+1 >= len(p.data) {
			break
		}
		e := p.data[p.pos+1]
		p.pos += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return nil, p.errorf("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				// A pair makes one character; a lone surrogate cannot be
				// kept in UTF-8 and becomes U+FFFD.
				save := p.pos
				if p.pos+1 < len(p.data) && p.data[p.pos] == '\\' && p.data[p.pos+1] == 'u' {
					p.pos += 2
					r2, ok := p.hex4()
					if ok {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							buf = utf8.AppendRune(buf, d)
							continue
						}
					}
					p.pos = save
				}
				r = utf8.RuneError
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return nil, p.errorf("invalid escape \\%c", e)
		}
	}
	return nil, p.errorf("unterminated string")
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.pos+4 > len(p.data) {
		return 0, false
	}
	var r rune
	for _, c := range p.data[p.pos : p.pos+4] {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.pos += 4
	return r, true
}

// number parses a JSON number or one of Python's NaN, Infinity, -Infinity.
func (p *jsonParser) number() (any, error) {
	start := p.pos
	d := p.data
	i := p.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	if rest := string(d[i:min(len(d), i+8)]); strings.HasPrefix(rest, "Infinity") || (i == start && strings.HasPrefix(rest, "NaN")) {
		if d[i] == 'N' {
			i += 3
		} else {
			i += 8
		}
	} else {
		digits := func() int {
			n := 0
			for i < len(d) && '0' <= d[i] && d[i] <= '9' {
				i++
				n++
			}
			return n
		}
		switch {
		case i < len(d) && d[i] == '0':
			i++
		case digits() == 0:
			p.pos = i
			return nil, p.errorf("invalid number")
		}
		if i < len(d) && d[i] == '.' {
			i++
			if digits() == 0 {
				p.pos = i
				return nil, p.errorf("invalid number")
			}
		}
		if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
			i++
			if i < len(d) && (d[i] == '+' || d[i] == '-') {
				i++
			}
			if digits() == 0 {
				p.pos = i
				return nil, p.errorf("invalid number")
			}
		}
	}
	p.pos = i
	n, ok := parseNumber(string(d[start:i]))
	if !ok {
		p.pos = start
		return nil, p.errorf("invalid number")
	}
	return n, nil
}
