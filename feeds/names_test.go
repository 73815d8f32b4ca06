package feeds_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ocsflux/ocsflux/feeds"
)

// TestVerifyFieldName checks every example of ocs-protocol.md §6.5's table.
func TestVerifyFieldName(t *testing.T) {
	valid := []string{"temp_1", "T", "__x2", "channel_00", "a_", "_", "___", strings.Repeat("a", 255), "A9_b"}
	for _, name := range valid {
		if err := feeds.VerifyFieldName(name); err != nil {
			t.Errorf("VerifyFieldName(%q) = %v, want valid", name, err)
		}
	}
	invalid := []struct {
		name string
		rule feeds.FieldNameRule
		text string
	}{
		{"", feeds.RuleEmpty, "Empty field name encountered, please enter a valid field name."},
		{"1abc", feeds.RuleStart, "message 'data' block contains the key 1abc, which does not start with a letter (after any number of leading underscores.)"},
		{"_9", feeds.RuleStart, "message 'data' block contains the key _9, which does not start with a letter (after any number of leading underscores.)"},
		{"__1_", feeds.RuleStart, "message 'data' block contains the key __1_, which does not start with a letter (after any number of leading underscores.)"},
		{"a-b", feeds.RuleCharacter, "message 'data' block contains the key a-b with the invalid character '-'. Valid characters are a-z, A-Z, 0-9, and underscore."},
		{"a b", feeds.RuleCharacter, "message 'data' block contains the key a b with the invalid character ' '. Valid characters are a-z, A-Z, 0-9, and underscore."},
		{"a.b", feeds.RuleCharacter, "message 'data' block contains the key a.b with the invalid character '.'. Valid characters are a-z, A-Z, 0-9, and underscore."},
		{"temp°", feeds.RuleCharacter, "message 'data' block contains the key temp° with the invalid character '°'. Valid characters are a-z, A-Z, 0-9, and underscore."},
		// The first offending character is named, and the character rule
		// comes before the start and length rules.
		{"1°-", feeds.RuleCharacter, "message 'data' block contains the key 1°- with the invalid character '°'. Valid characters are a-z, A-Z, 0-9, and underscore."},
		{strings.Repeat("a", 256), feeds.RuleLength, "message 'data' block contains key " + strings.Repeat("a", 256) + " which exceeds the valid length of 255 characters."},
		{"9" + strings.Repeat("a", 300), feeds.RuleStart, ""},
		{"a\xffb", feeds.RuleCharacter, `message 'data' block contains the key a` + "\xff" + `b with the invalid character '\xff'. Valid characters are a-z, A-Z, 0-9, and underscore.`},
	}
	for _, c := range invalid {
		err := feeds.VerifyFieldName(c.name)
		var fe *feeds.FieldNameError
		if !errors.As(err, &fe) {
			t.Errorf("VerifyFieldName(%q) = %v, want a *FieldNameError", c.name, err)
			continue
		}
		if fe.Rule != c.rule || fe.Name != c.name {
			t.Errorf("VerifyFieldName(%q): rule %d name %q, want rule %d", c.name, fe.Rule, fe.Name, c.rule)
		}
		if c.text != "" && err.Error() != c.text {
			t.Errorf("VerifyFieldName(%q) = %q\nwant %q", c.name, err.Error(), c.text)
		}
	}
}

// TestEnforceFieldName checks every example of ocs-protocol.md §6.5.
func TestEnforceFieldName(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "invalid_field"},
		{"a b", "a_b"},
		{"temp-1", "temp1"},
		{"1abc", "abc"},
		{"_9x", "_x"},
		{"°C", "C"},
		{"observatory.fake-data1_acq", "observatoryfakedata1_acq"},
		{"observatory_fake_data1_acq", "observatory_fake_data1_acq"},
		{"123", ""},
		{"__1_x", "__x"},
		{" 1x", "_x"},
		{"_ _9a", "___a"},
		{strings.Repeat("b", 300), strings.Repeat("b", 255)},
		{"ok_name", "ok_name"},
	}
	for _, c := range cases {
		if got := feeds.EnforceFieldName(c.in); got != c.want {
			t.Errorf("EnforceFieldName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func BenchmarkVerifyFieldName(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if err := feeds.VerifyFieldName("channel_00"); err != nil {
			b.Fatal(err)
		}
	}
}
