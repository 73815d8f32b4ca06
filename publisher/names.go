package publisher

import (
	"unicode/utf8"

	"github.com/influxdata/influxdb1-client/models"
)

// Line-protocol escaping (InfluxDB 1.x rules, as implemented by
// influxdb1-client/models and the server's parser):
//
//   - measurement: comma and space are written \, and \ ;
//   - tag keys, tag values and field keys: comma, equals sign and space are
//     written \, \= and \ ;
//   - string field values: " and \ are written \" and \\; everything else,
//     newlines included, goes between the quotes unchanged.
//
// InfluxDB 1.x has no escape for a backslash in a name: a backslash is kept
// literally unless it precedes one of the escaped characters. A name in
// which a backslash is followed by \ , = " or a space, or that ends in a
// backslash, therefore cannot be written so that it reads back unchanged;
// such names are rejected, as are names InfluxDB refuses (empty, not valid
// UTF-8, or holding a non-printable character, which includes newlines and
// tabs: models.ValidKeyToken) and measurements starting with '#', which
// the parser would take for a comment line.

// nameKind selects the escaping rules of one part of a line.
type nameKind uint8

const (
	nameMeasurement nameKind = iota
	nameTag                  // tag key or tag value
	nameField                // field key
)

// mustEscape reports whether byte c must be backslash-escaped in a name of
// kind k.
func mustEscape(c byte, k nameKind) bool {
	return c == ',' || c == ' ' || (c == '=' && k != nameMeasurement)
}

// validName reports whether s can be written as a name of kind k and read
// back unchanged by InfluxDB.
func validName(s string, k nameKind) bool {
	if s == "" {
		return false
	}
	if k == nameMeasurement && s[0] == '#' {
		return false
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			ascii = false
			continue
		}
		if c < 0x20 || c == 0x7f {
			return false
		}
		if c == '\\' {
			if i+1 == len(s) {
				return false
			}
			switch s[i+1] {
			case '\\', ',', '=', '"', ' ':
				return false
			}
		}
	}
	return ascii || models.ValidKeyToken(s)
}

// appendName appends s escaped as a name of kind k. s must have passed
// validName. Names without special characters (all names OCS produces) are
// copied in one append.
func appendName(dst []byte, s string, k nameKind) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		if mustEscape(s[i], k) {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', s[i])
			start = i + 1
		}
	}
	return append(dst, s[start:]...)
}

// appendStringValue appends s as a quoted line-protocol string value.
func appendStringValue(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', c)
			start = i + 1
		}
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
