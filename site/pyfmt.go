package site

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/ocsflux/ocsflux/internal/pyrepr"
)

// Python's str() and repr() of the values pyValue builds.

// pyStr returns Python's str() of a value built by pyValue.
func pyStr(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		if v {
			return "True"
		}
		return "False"
	case *big.Int:
		return v.String()
	case float64:
		return PyFloatRepr(v)
	case string:
		return v
	case pyTimestamp:
		return v.text
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = pyRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case *yMap:
		parts := make([]string, len(v.entries))
		for i, e := range v.entries {
			parts[i] = pyRepr(e.key) + ": " + pyRepr(e.val)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

// pyRepr returns Python's repr() of a value built by pyValue (used only for
// messages and for containers' str()).
func pyRepr(v any) string {
	switch v := v.(type) {
	case string:
		return PyStrRepr(v)
	case pyTimestamp:
		return v.text
	}
	return pyStr(v)
}

// PyFloatRepr formats f as Python's repr(float) does: the shortest text that
// reads back as f, in fixed notation when the decimal exponent is in
// [-4, 16) (with ".0" when integral), otherwise as d.ddde±XX; "nan", "inf",
// "-inf" for non-finite values.
func PyFloatRepr(f float64) string {
	var buf [32]byte
	return string(pyrepr.AppendFloat(buf[:0], f))
}

// PyStrRepr formats s as Python's repr(str) does for printable text: single
// quotes unless s contains a single quote and no double quote.
func PyStrRepr(s string) string {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(q):
			b.WriteByte('\\')
			b.WriteByte(q)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}
