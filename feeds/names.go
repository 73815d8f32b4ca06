package feeds

import (
	"strconv"
	"unicode/utf8"
)

// MaxFieldNameLen is the longest field name OCS accepts (ocs-protocol.md §6.5).
const MaxFieldNameLen = 255

// FieldNameRule says which OCS field-name rule a name breaks.
type FieldNameRule uint8

// The field-name rules of ocs-protocol.md §6.5, in the order OCS checks them.
const (
	RuleEmpty     FieldNameRule = iota + 1 // the name is empty
	RuleCharacter                          // a character outside A–Z, a–z, 0–9, _
	RuleStart                              // after stripping underscores, the rest starts with a non-letter
	RuleLength                             // longer than MaxFieldNameLen
)

// FieldNameError is the error VerifyFieldName returns. Its text is OCS's
// (ocs_feed.Feed.verify_data_field_string), so a Go agent raises what a
// Python agent would.
type FieldNameError struct {
	Name string        // the offending name
	Rule FieldNameRule // the first rule it breaks
	Char rune          // for RuleCharacter: the first offending character (utf8.RuneError for a bad byte)
	Byte byte          // for RuleCharacter with an invalid UTF-8 byte: that byte
}

// Error returns OCS's message for the broken rule.
func (e *FieldNameError) Error() string {
	switch e.Rule {
	case RuleEmpty:
		return "Empty field name encountered, please enter a valid field name."
	case RuleCharacter:
		c := string(e.Char)
		if e.Char == utf8.RuneError && e.Byte != 0 {
			c = `\x` + strconv.FormatUint(uint64(e.Byte), 16)
		}
		return "message 'data' block contains the key " + e.Name +
			" with the invalid character '" + c + "'. " +
			"Valid characters are a-z, A-Z, 0-9, and underscore."
	case RuleStart:
		return "message 'data' block contains the key " + e.Name +
			", which does not start with a letter (after any number of leading underscores.)"
	case RuleLength:
		return "message 'data' block contains key " + e.Name +
			" which exceeds the valid length of 255 characters."
	}
	return "invalid field name " + strconv.Quote(e.Name)
}

// nameChar reports whether c may appear in a field name.
func nameChar(c byte) bool {
	return c == '_' || isLetter(c) || ('0' <= c && c <= '9')
}

func isLetter(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// VerifyFieldName applies OCS's field-name rules (ocs-protocol.md §6.5) in
// OCS's order: non-empty; only A–Z, a–z, 0–9 and _ (the error names the first
// offending character); after stripping all leading and trailing underscores
// the rest does not start with a non-letter (an empty rest passes, so "_" and
// "___" are valid, as in OCS); at most 255 characters. It returns nil or a
// *FieldNameError and does not allocate for a valid name.
func VerifyFieldName(name string) error {
	if name == "" {
		return &FieldNameError{Name: name, Rule: RuleEmpty}
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !nameChar(c) {
			r, size := utf8.DecodeRuneInString(name[i:])
			e := &FieldNameError{Name: name, Rule: RuleCharacter, Char: r}
			if r == utf8.RuneError && size <= 1 {
				e.Byte = c
			}
			return e
		}
	}
	// Only ASCII is left, so bytes are characters from here on.
	lo, hi := 0, len(name)
	for lo < hi && name[lo] == '_' {
		lo++
	}
	for hi > lo && name[hi-1] == '_' {
		hi--
	}
	if lo < hi && !isLetter(name[lo]) {
		return &FieldNameError{Name: name, Rule: RuleStart}
	}
	if len(name) > MaxFieldNameLen {
		return &FieldNameError{Name: name, Rule: RuleLength}
	}
	return nil
}

// EnforceFieldName is OCS's repair of a field name
// (ocs_feed.Feed.enforce_field_name_rules), used by the Registry and the
// Aggregator, never by the InfluxDB publisher: "" becomes "invalid_field";
// spaces become "_"; every character outside A–Z, a–z, 0–9, _ is deleted;
// the leading run of underscores is kept, the non-letters after it are
// dropped; the result is cut to 255 characters. Like OCS it can return an
// invalid name ("123" → "").
func EnforceFieldName(name string) string {
	if name == "" {
		return "invalid_field"
	}
	out := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == ' ':
			out = append(out, '_')
		case nameChar(c):
			out = append(out, c)
		}
		// Bytes of multi-byte characters are all >= 0x80 and so deleted,
		// as OCS deletes the whole character.
	}
	under := 0
	for under < len(out) && out[under] == '_' {
		under++
	}
	rest := under
	for rest < len(out) && !isLetter(out[rest]) {
		rest++
	}
	out = append(out[:under], out[rest:]...)
	if len(out) > MaxFieldNameLen {
		out = out[:MaxFieldNameLen]
	}
	return string(out)
}
