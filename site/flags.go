package site

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Kind is the type of a flag's value.
type Kind string

// Kinds of flag values.
const (
	KindString   Kind = "string"
	KindInt      Kind = "int"      // Python int() syntax: "8086", " +12 ", "1_000"
	KindFloat    Kind = "float"    // Python float() syntax: "9.5", "5", "1e3", "inf"
	KindBool     Kind = "bool"     // value optional: bare flag = true; true/false/yes/no/on/off/1/0
	KindDuration Kind = "duration" // "1s", "500ms", "1m30s", "7d"; a bare number is seconds
	KindBytes    Kind = "bytes"    // "4MiB", "1GiB", "1500000", "64MB"
)

// Value is the target of a Flag: Set converts one command-line value and
// stores it (its error text follows "argument --name: " in usage errors);
// Get returns the stored value for display (string, int, float64, bool,
// int64, or a duration as text).
type Value interface {
	Set(text string) error
	Get() any
	Kind() Kind
}

// Flag defines one long option ("--name"). Help and parsing are both made
// from these definitions.
type Flag struct {
	Name        string   // without the leading "--"
	Value       Value    // where parsed values go
	Default     string   // default as command-line text, applied by ApplyDefaults; "" means none
	Choices     []string // allowed values; empty means any
	Help        string   // one or two sentences
	Group       string   // help section title, e.g. "Agent Options (InfluxDBAgent)"
	Placeholder string   // name of the value in help, e.g. "URL"; optional
}

// Kind returns the kind of the flag's value.
func (f Flag) Kind() Kind { return f.Value.Kind() }

// ApplyDefaults sets every flag that has a default to it. It fails if a
// default is not a valid value of its flag.
func ApplyDefaults(flags []Flag) error {
	for _, f := range flags {
		if f.Default == "" {
			continue
		}
		if err := checkChoice(f, f.Default); err != nil {
			return fmt.Errorf("default of --%s: %w", f.Name, err)
		}
		if err := f.Value.Set(f.Default); err != nil {
			return fmt.Errorf("default of --%s: %w", f.Name, err)
		}
	}
	return nil
}

func checkChoice(f Flag, v string) error {
	if len(f.Choices) == 0 {
		return nil
	}
	for _, c := range f.Choices {
		if v == c {
			return nil
		}
	}
	q := make([]string, len(f.Choices))
	for i, c := range f.Choices {
		q[i] = PyStrRepr(c)
	}
	return fmt.Errorf("invalid choice: %s (choose from %s)", PyStrRepr(v), strings.Join(q, ", "))
}

// StringsValue is a repeatable flag: each occurrence appends its text.
func StringsValue(p *[]string) Value { return (*stringsValue)(p) }

type stringsValue []string

func (v *stringsValue) Set(s string) error { *v = append(*v, s); return nil }
func (v *stringsValue) Get() any           { return append([]string{}, *v...) }
func (v *stringsValue) Kind() Kind         { return KindString }

// StringValue stores text as is.
func StringValue(p *string) Value { return (*stringValue)(p) }

type stringValue string

func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }
func (v *stringValue) Get() any           { return string(*v) }
func (v *stringValue) Kind() Kind         { return KindString }

// IntValue stores an integer written as Python's int() reads it, within
// [min, max].
func IntValue(p *int, min, max int) Value { return &intValue{p: p, min: min, max: max} }

type intValue struct {
	p        *int
	min, max int
}

func (v *intValue) Set(s string) error {
	n, err := ParsePyInt(s)
	if err != nil {
		return fmt.Errorf("invalid int value: %s", PyStrRepr(s))
	}
	if n < int64(v.min) || n > int64(v.max) {
		return fmt.Errorf("invalid value: %s (must be an integer from %d to %d)", PyStrRepr(s), v.min, v.max)
	}
	*v.p = int(n)
	return nil
}
func (v *intValue) Get() any   { return *v.p }
func (v *intValue) Kind() Kind { return KindInt }

// FloatValue stores a number written as Python's float() reads it.
func FloatValue(p *float64) Value { return (*floatValue)(p) }

type floatValue float64

func (v *floatValue) Set(s string) error {
	f, err := ParsePyFloat(s)
	if err != nil {
		return fmt.Errorf("invalid float value: %s", PyStrRepr(s))
	}
	*v = floatValue(f)
	return nil
}
func (v *floatValue) Get() any   { return float64(*v) }
func (v *floatValue) Kind() Kind { return KindFloat }

// BoolValue stores a boolean word (see ParseBool). A bool flag given with no
// value is set to true by the parser.
func BoolValue(p *bool) Value { return (*boolValue)(p) }

type boolValue bool

func (v *boolValue) Set(s string) error {
	b, err := ParseBool(s)
	if err != nil {
		return err
	}
	*v = boolValue(b)
	return nil
}
func (v *boolValue) Get() any   { return bool(*v) }
func (v *boolValue) Kind() Kind { return KindBool }

// DurationValue stores a duration (see ParseDuration).
func DurationValue(p *time.Duration) Value { return (*durationValue)(p) }

type durationValue time.Duration

func (v *durationValue) Set(s string) error {
	d, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*v = durationValue(d)
	return nil
}
func (v *durationValue) Get() any   { return FormatDuration(time.Duration(*v)) }
func (v *durationValue) Kind() Kind { return KindDuration }

// BytesValue stores a size in bytes (see ParseBytes).
func BytesValue(p *int64) Value { return (*bytesValue)(p) }

type bytesValue int64

func (v *bytesValue) Set(s string) error {
	n, err := ParseBytes(s)
	if err != nil {
		return err
	}
	*v = bytesValue(n)
	return nil
}
func (v *bytesValue) Get() any   { return int64(*v) }
func (v *bytesValue) Kind() Kind { return KindBytes }

var rePyInt = regexp.MustCompile(`^[-+]?[0-9]+(?:_[0-9]+)*$`)

// ParsePyInt reads s as Python's int(s) does for base-10 text: surrounding
// white space, a sign, digits with single underscores between them.
func ParsePyInt(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if !rePyInt.MatchString(t) {
		return 0, fmt.Errorf("invalid int %q", s)
	}
	return strconv.ParseInt(strings.ReplaceAll(t, "_", ""), 10, 64)
}

var rePyFloat = regexp.MustCompile(`^[-+]?(?:(?:[0-9]+(?:_[0-9]+)*)(?:\.(?:[0-9]+(?:_[0-9]+)*)?)?|\.[0-9]+(?:_[0-9]+)*)(?:[eE][-+]?[0-9]+(?:_[0-9]+)*)?$`)
var rePyFloatSpecial = regexp.MustCompile(`(?i)^[-+]?(?:inf|infinity|nan)$`)

// ParsePyFloat reads s as Python's float(s) does: surrounding white space,
// decimal and exponent notation with single underscores between digits,
// inf/infinity/nan in any case; too large values become infinities.
func ParsePyFloat(s string) (float64, error) {
	t := strings.TrimSpace(s)
	switch {
	case rePyFloatSpecial.MatchString(t):
		neg := t[0] == '-'
		t = strings.TrimLeft(t, "+-")
		f := math.Inf(1)
		if strings.EqualFold(t, "nan") {
			f = math.NaN()
		}
		if neg {
			f = -f
		}
		return f, nil
	case !rePyFloat.MatchString(t):
		return 0, fmt.Errorf("invalid float %q", s)
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(t, "_", ""), 64)
	var ne *strconv.NumError
	if err != nil && errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
		return f, nil // ±Inf or 0, like Python
	}
	return f, err
}

// ParseBool reads a boolean word, in any case: true, yes, on, 1 are true;
// false, no, off, 0 and the empty string are false.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0", "":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean value: %s (use true/false, yes/no, on/off or 1/0)", PyStrRepr(s))
}

var reDays = regexp.MustCompile(`^([0-9]+(?:\.[0-9]*)?)d$`)

// ParseDuration reads a Go duration ("1s", "500ms", "1h30m"), a number of
// days ("7d"), or a bare number of seconds ("1", "0.5").
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	bad := fmt.Errorf("invalid duration: %s (use e.g. 500ms, 10s, 5m, 1h or 7d)", PyStrRepr(s))
	if m := reDays.FindStringSubmatch(t); m != nil {
		f, err := strconv.ParseFloat(m[1], 64)
		if err != nil || f*24 > float64(math.MaxInt64)/float64(time.Hour) {
			return 0, bad
		}
		return time.Duration(f * 24 * float64(time.Hour)), nil
	}
	if f, err := strconv.ParseFloat(t, 64); err == nil && !strings.ContainsAny(t, "xXpPnNiI_") {
		if math.Abs(f) > float64(math.MaxInt64)/float64(time.Second) {
			return 0, bad
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, bad
	}
	return d, nil
}

// FormatDuration writes d the way ParseDuration reads it, briefly: "7d",
// "1h", "1m30s", "500ms".
func FormatDuration(d time.Duration) string {
	if d != 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

var reBytes = regexp.MustCompile(`^([0-9]+)\s*([a-zA-Z]*)$`)

var byteUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
	"ki": 1 << 10, "kib": 1 << 10, "mi": 1 << 20, "mib": 1 << 20,
	"gi": 1 << 30, "gib": 1 << 30, "ti": 1 << 40, "tib": 1 << 40,
}

// ParseBytes reads a size: a whole number with an optional unit, in any
// case: B; kB, MB, GB, TB (powers of 1000); KiB, MiB, GiB, TiB (powers of
// 1024); the trailing B may be left out ("4Mi", "64M").
func ParseBytes(s string) (int64, error) {
	bad := fmt.Errorf("invalid size: %s (use e.g. 4MiB, 512KiB, 1GiB or a number of bytes)", PyStrRepr(s))
	m := reBytes.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, bad
	}
	unit, ok := byteUnits[strings.ToLower(m[2])]
	if !ok {
		return 0, bad
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n > math.MaxInt64/unit {
		return 0, bad
	}
	return n * unit, nil
}

// FormatBytes writes n with the largest binary unit that divides it.
func FormatBytes(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}
