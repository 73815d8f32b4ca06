package site

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file turns a yaml.v3 node tree into plain Go values typed the way
// PyYAML's safe_load types them (YAML 1.1 implicit resolution), so that
// Python's str() of every value can be reproduced exactly. yaml.v3 resolves
// plain scalars by YAML 1.2 rules (yes/on are strings there, 017 is 17), so
// the node's own Tag is ignored for plain scalars and the PyYAML resolver
// regular expressions below are applied instead.
//
// Values produced:
//
//	nil            YAML null (Python None)
//	bool           bool
//	*big.Int       int (Python ints are unbounded)
//	float64        float
//	string         str
//	pyTimestamp    datetime.date / datetime.datetime, kept as Python's str()
//	[]any          sequence
//	*yMap          mapping (ordered, last value wins, first position kept)

// pyTimestamp is a YAML timestamp; text is what Python's str() prints for the
// date or datetime PyYAML builds from it.
type pyTimestamp struct{ text string }

// yEntry is one key/value pair of a mapping.
type yEntry struct {
	key  any
	val  any
	line int // line of the key in the file
}

// yMap is a YAML mapping with the key order of a Python dict.
type yMap struct {
	entries []yEntry
	line    int
}

// get returns the value of the string key k.
func (m *yMap) get(k string) (any, bool) {
	for _, e := range m.entries {
		if s, ok := e.key.(string); ok && s == k {
			return e.val, true
		}
	}
	return nil, false
}

// entry returns the entry of the string key k.
func (m *yMap) entry(k string) (yEntry, bool) {
	for _, e := range m.entries {
		if s, ok := e.key.(string); ok && s == k {
			return e, true
		}
	}
	return yEntry{}, false
}

func (m *yMap) set(e yEntry) {
	for i := range m.entries {
		if sameKey(m.entries[i].key, e.key) {
			m.entries[i].val = e.val
			return
		}
	}
	m.entries = append(m.entries, e)
}

func sameKey(a, b any) bool {
	switch a := a.(type) {
	case *big.Int:
		b, ok := b.(*big.Int)
		return ok && a.Cmp(b) == 0
	case string, bool, float64, nil:
		return a == b
	case pyTimestamp:
		b, ok := b.(pyTimestamp)
		return ok && a == b
	}
	return false // unhashable in Python; never equal here
}

// PyYAML's implicit resolvers (resolver.py), verbose regular expressions
// written out. Each applies only to values whose first character is listed.
var (
	reBool  = regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`)
	reFloat = regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?` +
		`|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?` +
		`|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*` +
		`|[-+]?\.(?:inf|Inf|INF)` +
		`|\.(?:nan|NaN|NAN))$`)
	reInt = regexp.MustCompile(`^(?:[-+]?0b[0-1_]+` +
		`|[-+]?0[0-7_]+` +
		`|[-+]?(?:0|[1-9][0-9_]*)` +
		`|[-+]?0x[0-9a-fA-F_]+` +
		`|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	reNull      = regexp.MustCompile(`^(?:~|null|Null|NULL|)$`)
	reTimestamp = regexp.MustCompile(`^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]` +
		`|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?` +
		`(?:[Tt]|[ \t]+)[0-9][0-9]?` +
		`:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?` +
		`(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$`)
	// The constructor's regular expression, with groups.
	reTimestampParts = regexp.MustCompile(`^([0-9][0-9][0-9][0-9])-([0-9][0-9]?)-([0-9][0-9]?)` +
		`(?:(?:[Tt]|[ \t]+)([0-9][0-9]?):([0-9][0-9]):([0-9][0-9])(?:\.([0-9]*))?` +
		`(?:[ \t]*(Z|([-+])([0-9][0-9]?)(?::([0-9][0-9]))?))?)?$`)
)

// resolvePlain returns the YAML 1.1 tag PyYAML gives the plain scalar s.
func resolvePlain(s string) string {
	if s == "" {
		return "null"
	}
	c := s[0]
	switch {
	case strings.IndexByte("yYnNtTfFoO", c) >= 0 && reBool.MatchString(s):
		return "bool"
	}
	if strings.IndexByte("-+0123456789.", c) >= 0 && reFloat.MatchString(s) {
		return "float"
	}
	if strings.IndexByte("-+0123456789", c) >= 0 && reInt.MatchString(s) {
		return "int"
	}
	if c == '<' && s == "<<" {
		return "merge"
	}
	if strings.IndexByte("~nN", c) >= 0 && reNull.MatchString(s) {
		return "null"
	}
	if c >= '0' && c <= '9' && reTimestamp.MatchString(s) {
		return "timestamp"
	}
	if c == '=' && s == "=" {
		return "value"
	}
	return "str"
}

// construct builds the Python value of scalar text s with YAML 1.1 tag tag.
func construct(tag, s string) (any, error) {
	switch tag {
	case "null":
		return nil, nil
	case "bool":
		switch strings.ToLower(s) {
		case "yes", "true", "on":
			return true, nil
		case "no", "false", "off":
			return false, nil
		}
		return nil, fmt.Errorf("invalid bool %q", s)
	case "int":
		return constructInt(s)
	case "float":
		return constructFloat(s)
	case "timestamp":
		return constructTimestamp(s)
	case "str":
		return s, nil
	case "value":
		// PyYAML's safe_load has no constructor for it.
		return nil, errors.New(`could not determine a constructor for the tag 'tag:yaml.org,2002:value'`)
	}
	return nil, fmt.Errorf("unsupported tag %q", tag)
}

// constructInt mirrors SafeConstructor.construct_yaml_int.
func constructInt(s string) (any, error) {
	v := strings.ReplaceAll(s, "_", "")
	bad := fmt.Errorf("invalid int %q", s)
	if v == "" {
		return nil, bad
	}
	sign := 1
	if v[0] == '-' {
		sign = -1
	}
	if v[0] == '+' || v[0] == '-' {
		v = v[1:]
	}
	n := new(big.Int)
	switch {
	case v == "":
		return nil, bad
	case v == "0":
		return n, nil
	case strings.HasPrefix(v, "0b"):
		if _, ok := n.SetString(v[2:], 2); !ok {
			return nil, bad
		}
	case strings.HasPrefix(v, "0x"):
		if _, ok := n.SetString(v[2:], 16); !ok {
			return nil, bad
		}
	case v[0] == '0':
		if _, ok := n.SetString(v, 8); !ok {
			return nil, bad
		}
	case strings.Contains(v, ":"):
		parts := strings.Split(v, ":")
		base := big.NewInt(1)
		sixty := big.NewInt(60)
		for i := len(parts) - 1; i >= 0; i-- {
			d, ok := new(big.Int).SetString(parts[i], 10)
			if !ok {
				return nil, bad
			}
			n.Add(n, d.Mul(d, base))
			base.Mul(base, sixty)
		}
	default:
		if _, ok := n.SetString(v, 10); !ok {
			return nil, bad
		}
	}
	if sign < 0 {
		n.Neg(n)
	}
	return n, nil
}

// constructFloat mirrors SafeConstructor.construct_yaml_float.
func constructFloat(s string) (any, error) {
	v := strings.ToLower(strings.ReplaceAll(s, "_", ""))
	bad := fmt.Errorf("invalid float %q", s)
	if v == "" {
		return nil, bad
	}
	sign := 1.0
	if v[0] == '-' {
		sign = -1
	}
	if v[0] == '+' || v[0] == '-' {
		v = v[1:]
	}
	switch {
	case v == ".inf":
		return sign * math.Inf(1), nil
	case v == ".nan":
		return math.NaN(), nil
	case strings.Contains(v, ":"):
		parts := strings.Split(v, ":")
		base, sum := 1.0, 0.0
		for i := len(parts) - 1; i >= 0; i-- {
			d, err := parsePyFloatLiteral(parts[i])
			if err != nil {
				return nil, bad
			}
			sum += d * base
			base *= 60
		}
		return sign * sum, nil
	}
	f, err := parsePyFloatLiteral(v)
	if err != nil {
		return nil, bad
	}
	return sign * f, nil
}

// parsePyFloatLiteral parses a decimal literal as Python's float() does for
// the texts the YAML float resolver lets through ("1.", ".5", "1.0e+3").
// Out-of-range values become infinities, as in Python.
func parsePyFloatLiteral(v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return f, nil
		}
		return 0, err
	}
	return f, nil
}

// constructTimestamp mirrors SafeConstructor.construct_yaml_timestamp and
// returns what Python's str() prints for the result.
func constructTimestamp(s string) (any, error) {
	m := reTimestampParts.FindStringSubmatch(s)
	if m == nil {
		return nil, fmt.Errorf("invalid timestamp %q", s)
	}
	atoi := func(t string) int { n, _ := strconv.Atoi(t); return n }
	year, month, day := atoi(m[1]), atoi(m[2]), atoi(m[3])
	if !validDate(year, month, day) {
		return nil, fmt.Errorf("invalid date %q", s)
	}
	date := fmt.Sprintf("%04d-%02d-%02d", year, month, day)
	if m[4] == "" {
		return pyTimestamp{text: date}, nil
	}
	hour, minute, second := atoi(m[4]), atoi(m[5]), atoi(m[6])
	if hour > 23 || minute > 59 || second > 59 {
		return nil, fmt.Errorf("invalid time %q", s)
	}
	text := fmt.Sprintf("%s %02d:%02d:%02d", date, hour, minute, second)
	if frac := m[7]; frac != "" {
		if len(frac) > 6 {
			frac = frac[:6]
		}
		frac += strings.Repeat("0", 6-len(frac))
		if us := atoi(frac); us != 0 {
			text += fmt.Sprintf(".%06d", us)
		}
	}
	switch {
	case m[9] != "": // numeric offset
		offset := atoi(m[10])*60 + atoi(m[11])
		if offset >= 24*60 {
			return nil, fmt.Errorf("invalid time zone offset %q", s)
		}
		sign := "+"
		if m[9] == "-" && offset != 0 {
			sign = "-"
		}
		text += fmt.Sprintf("%s%02d:%02d", sign, offset/60, offset%60)
	case m[8] == "Z":
		text += "+00:00"
	}
	return pyTimestamp{text: text}, nil
}

func validDate(y, m, d int) bool {
	if y < 1 || m < 1 || m > 12 || d < 1 {
		return false
	}
	days := [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m-1]
	if m == 2 && (y%4 == 0 && (y%100 != 0 || y%400 == 0)) {
		days = 29
	}
	return d <= days
}

// yamlError is a problem in the YAML file at a line.
type yamlError struct {
	line int
	msg  string
}

func (e *yamlError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("line %d: %s", e.line, e.msg)
	}
	return e.msg
}

// Limits that stop recursive and exponentially expanding aliases.
const (
	maxYAMLDepth = 200
	maxYAMLNodes = 1 << 20
)

// pyValue converts a yaml.v3 node to the value PyYAML's safe_load builds.
func pyValue(n *yaml.Node) (any, error) {
	w := &walker{}
	return w.value(n, 0)
}

// walker converts a node tree, counting the nodes it builds (aliases are
// expanded, so a small file can describe a huge tree).
type walker struct {
	nodes int
}

func (w *walker) value(n *yaml.Node, depth int) (any, error) {
	if depth > maxYAMLDepth {
		return nil, &yamlError{line: n.Line, msg: "nesting too deep (recursive alias?)"}
	}
	if w.nodes++; w.nodes > maxYAMLNodes {
		return nil, &yamlError{line: n.Line, msg: "document too large (more than a million values once aliases are expanded)"}
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return w.value(n.Content[0], depth+1)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, &yamlError{line: n.Line, msg: "unknown alias"}
		}
		return w.value(n.Alias, depth+1)
	case yaml.ScalarNode:
		return pyScalar(n)
	case yaml.SequenceNode:
		if err := checkCollectionTag(n, "!!seq"); err != nil {
			return nil, err
		}
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := w.value(c, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		if err := checkCollectionTag(n, "!!map"); err != nil {
			return nil, err
		}
		return w.mapping(n, depth)
	}
	return nil, &yamlError{line: n.Line, msg: "unsupported YAML node"}
}

func checkCollectionTag(n *yaml.Node, want string) error {
	if n.Style&yaml.TaggedStyle != 0 && n.Tag != want {
		return &yamlError{line: n.Line, msg: fmt.Sprintf("unsupported tag %s", n.Tag)}
	}
	return nil
}

// pyMapping builds a mapping, applying merge keys ("<<") as PyYAML does:
// merged entries first, explicit entries after them (so they win).
func (w *walker) mapping(n *yaml.Node, depth int) (any, error) {
	var merged, explicit []yEntry
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if isMergeKey(kn) {
			es, err := w.mergeEntries(vn, depth)
			if err != nil {
				return nil, err
			}
			merged = append(merged, es...)
			continue
		}
		k, err := w.value(kn, depth+1)
		if err != nil {
			return nil, err
		}
		switch k.(type) {
		case []any, *yMap:
			return nil, &yamlError{line: kn.Line, msg: "found unhashable key"}
		}
		v, err := w.value(vn, depth+1)
		if err != nil {
			return nil, err
		}
		explicit = append(explicit, yEntry{key: k, val: v, line: kn.Line})
	}
	m := &yMap{line: n.Line}
	for _, e := range merged {
		m.set(e)
	}
	for _, e := range explicit {
		m.set(e)
	}
	return m, nil
}

func isMergeKey(kn *yaml.Node) bool {
	if kn.Kind != yaml.ScalarNode || kn.Value != "<<" {
		return false
	}
	if kn.Style&yaml.TaggedStyle != 0 {
		return kn.Tag == "!!merge"
	}
	return kn.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0
}

// mergeEntries returns the entries a merge key's value contributes, in the
// order PyYAML's flatten_mapping inserts them (later mappings of a sequence
// first, so that earlier ones win).
func (w *walker) mergeEntries(vn *yaml.Node, depth int) ([]yEntry, error) {
	for vn.Kind == yaml.AliasNode && vn.Alias != nil {
		vn = vn.Alias
	}
	switch vn.Kind {
	case yaml.MappingNode:
		v, err := w.value(vn, depth+1)
		if err != nil {
			return nil, err
		}
		return v.(*yMap).entries, nil
	case yaml.SequenceNode:
		var out []yEntry
		for i := len(vn.Content) - 1; i >= 0; i-- {
			sub := vn.Content[i]
			for sub.Kind == yaml.AliasNode && sub.Alias != nil {
				sub = sub.Alias
			}
			if sub.Kind != yaml.MappingNode {
				return nil, &yamlError{line: sub.Line, msg: "expected a mapping for merging"}
			}
			v, err := w.value(sub, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v.(*yMap).entries...)
		}
		return out, nil
	}
	return nil, &yamlError{line: vn.Line, msg: "expected a mapping or list of mappings for merging"}
}

func pyScalar(n *yaml.Node) (any, error) {
	var tag string
	switch {
	case n.Style&yaml.TaggedStyle != 0:
		switch n.Tag {
		case "!!str":
			tag = "str"
		case "!!int", "!!float", "!!bool", "!!null", "!!timestamp":
			tag = strings.TrimPrefix(n.Tag, "!!")
		default:
			return nil, &yamlError{line: n.Line, msg: fmt.Sprintf("unsupported tag %s", n.Tag)}
		}
	case n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		tag = "str"
	default:
		tag = resolvePlain(n.Value)
		if tag == "merge" {
			tag = "str" // a "<<" that is not a mapping key
		}
	}
	v, err := construct(tag, n.Value)
	if err != nil {
		return nil, &yamlError{line: n.Line, msg: err.Error()}
	}
	return v, nil
}
