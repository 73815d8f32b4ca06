package agents

import (
	"fmt"
	"math/big"
	"sort"
)

// ParamType is the Python type a declared param must have (OCS's
// @param(type=...)).
type ParamType uint8

// Param types. Values reach the op as: Bool → bool, Int → int64, Float →
// float64 (an int or a bool given for a Float param is converted, as
// Python does), Str → string, Tuple and List → []any (a list given for a
// Tuple param is accepted), Dict → map[string]any. AnyType checks nothing.
const (
	AnyType ParamType = iota
	Bool
	Int
	Float
	Str
	Tuple
	List
	Dict
)

// pyName is the Python class name used in "(<class 'float'>)".
func (t ParamType) pyName() string {
	switch t {
	case Bool:
		return "bool"
	case Int:
		return "int"
	case Float:
		return "float"
	case Str:
		return "str"
	case Tuple:
		return "tuple"
	case List:
		return "list"
	case Dict:
		return "dict"
	}
	return "object"
}

// String returns the Python type name.
func (t ParamType) String() string { return t.pyName() }

// Param declares one parameter of an op, like OCS's @ocs_agent.param
// decorator. A value that is absent or null is "unset": without a default it
// is an error, with one the default is used (and checked like a given value
// unless it is nil). Checks run in this order: Cast, Type, Choices, Check.
type Param struct {
	Key string
	// Type is checked after Cast; AnyType skips the check.
	Type ParamType
	// Default is used when the value is unset, if HasDefault is true
	// (HasDefault with a nil Default means "optional, null when unset").
	Default    any
	HasDefault bool
	// Choices, if non-nil, lists the allowed values (compared like Python's
	// ==, so 1, 1.0 and true are equal).
	Choices []any
	// Check, if set, must return true for a valid value. It runs on the
	// state machine's goroutine and must not call into the agent.
	Check func(v any) bool
	// Cast, if set, converts the value first; an error gives
	// "Param '<key>'=<value> could not be cast to <CastName>."
	Cast     func(v any) (any, error)
	CastName string
}

// Params are the params an op receives: for an op with declarations,
// exactly the declared keys with values of the declared types (nil when
// unset without default); for an op without declarations, the params object
// of the start request as decoded (nil if it was not an object).
type Params map[string]any

// Bool returns the param as a bool (false if unset or not a bool).
func (p Params) Bool(key string) bool {
	b, _ := p[key].(bool)
	return b
}

// Int returns the param as an int64 (0 if unset or not an integer).
func (p Params) Int(key string) int64 {
	switch x := p[key].(type) {
	case int64:
		return x
	case bool:
		if x {
			return 1
		}
	}
	return 0
}

// Float returns the param as a float64; an integer is converted (0 if
// unset or not a number).
func (p Params) Float(key string) float64 {
	switch x := p[key].(type) {
	case float64:
		return x
	case int64:
		return float64(x)
	case bool:
		if x {
			return 1
		}
	}
	return 0
}

// String returns the param as a string ("" if unset or not a string).
func (p Params) String(key string) string {
	s, _ := p[key].(string)
	return s
}

// IsNull reports whether the param is absent or null.
func (p Params) IsNull(key string) bool { return p[key] == nil }

// ParamError is the error of a params check. An op that checks params
// itself may return one: the session then gets "ERROR: <Msg>" instead of
// "CRASH: ...", as in OCS.
type ParamError struct{ Msg string }

func (e *ParamError) Error() string { return e.Msg }

// paramCrash is a failure outside the declared checks ("CRASH: during param
// pre-processing: <Msg>").
type paramCrash struct{ msg string }

func (e *paramCrash) Error() string { return e.msg }

// checkParams validates raw (the decoded params argument of start) against
// decls the way OCS's ParamHandler.batch does: declarations are evaluated
// last-declared first (Python applies decorators bottom-up), the first
// failure is returned, and keys that were not declared are rejected after
// all declarations passed.
func checkParams(decls []Param, raw any) (Params, error) {
	var m map[string]any
	switch x := normalize(raw).(type) {
	case nil:
		m = map[string]any{}
	case map[string]any:
		m = x
	default:
		return nil, &paramCrash{fmt.Sprintf("'%s' object has no attribute 'get'", pyTypeName(x))}
	}
	out := make(Params, len(decls))
	checked := make(map[string]bool, len(decls))
	for i := len(decls) - 1; i >= 0; i-- {
		d := &decls[i]
		checked[d.Key] = true
		v, err := d.get(m)
		if err != nil {
			return nil, err
		}
		out[d.Key] = v
	}
	var strays []any
	for k := range m {
		if !checked[k] {
			strays = append(strays, k)
		}
	}
	if len(strays) > 0 {
		// Python lists them in the order of the params object; a decoded Go
		// map has no order, so they are sorted.
		sort.Slice(strays, func(i, j int) bool { return strays[i].(string) < strays[j].(string) })
		return nil, &ParamError{"params included unexpected values: " + pyRepr(strays)}
	}
	return out, nil
}

// get extracts and checks one declared param (ParamHandler.get).
func (d *Param) get(m map[string]any) (any, error) {
	value := m[d.Key]
	if value == nil {
		if !d.HasDefault {
			return nil, &ParamError{fmt.Sprintf("Param '%s' is required and must not be None", d.Key)}
		}
		value = normalize(d.Default)
	}
	if value == nil {
		return nil, nil
	}
	if d.Cast != nil {
		v, err := d.Cast(value)
		if err != nil {
			return nil, &ParamError{fmt.Sprintf("Param '%s'=%s could not be cast to %s.", d.Key, pyStr(value), d.CastName)}
		}
		value = normalize(v)
	}
	if d.Type != AnyType {
		value = d.Type.convert(value)
		if !d.Type.isInstance(value) {
			return nil, &ParamError{fmt.Sprintf("Param '%s'=%s is not of required type (<class '%s'>)", d.Key, pyStr(value), d.Type.pyName())}
		}
	}
	if d.Choices != nil {
		in := false
		for _, c := range d.Choices {
			if pyEqual(value, normalize(c)) {
				in = true
				break
			}
		}
		if !in {
			return nil, &ParamError{fmt.Sprintf("Param '%s'=%s is not in allowed set (%s)", d.Key, pyStr(value), pyRepr(normalize(d.Choices)))}
		}
	}
	if tup, ok := value.(pyTuple); ok {
		value = []any(tup)
	}
	if d.Check != nil && !d.Check(value) {
		return nil, &ParamError{fmt.Sprintf("Param '%s' failed validity check (see docs?).", d.Key)}
	}
	if d.Type == Int {
		if b, ok := value.(bool); ok { // Python keeps True; Go ops get 1
			value = int64(0)
			if b {
				value = int64(1)
			}
		}
	}
	return value, nil
}

// convert applies Python's free conversions before the type check: int (or
// bool) to float for Float, list to tuple for Tuple.
func (t ParamType) convert(v any) any {
	switch t {
	case Float:
		switch x := v.(type) {
		case bool:
			if x {
				return 1.0
			}
			return 0.0
		case int64:
			return float64(x)
		case uint64:
			return float64(x)
		case *big.Int:
			f, _ := new(big.Float).SetInt(x).Float64()
			return f
		}
	case Tuple:
		if l, ok := v.([]any); ok {
			return pyTuple(l)
		}
	}
	return v
}

// isInstance is Python's isinstance(v, t) for normalized values.
func (t ParamType) isInstance(v any) bool {
	switch t {
	case Bool:
		_, ok := v.(bool)
		return ok
	case Int:
		switch v.(type) {
		case bool, int64, uint64, *big.Int:
			return true
		}
		return false
	case Float:
		_, ok := v.(float64)
		return ok
	case Str:
		_, ok := v.(string)
		return ok
	case Tuple:
		_, ok := v.(pyTuple)
		return ok
	case List:
		_, ok := v.([]any)
		return ok
	case Dict:
		_, ok := v.(map[string]any)
		return ok
	}
	return true
}

// validateDecls checks declarations at registration, as OCS's @param does
// by running them on empty params: keys must be unique and non-empty and
// every default must pass its own checks.
func validateDecls(op string, decls []Param) error {
	seen := map[string]bool{}
	for i := range decls {
		d := &decls[i]
		if d.Key == "" {
			return fmt.Errorf("op %q: param %d has no key", op, i)
		}
		if seen[d.Key] {
			return fmt.Errorf("op %q: param %q declared twice", op, d.Key)
		}
		seen[d.Key] = true
		if d.Cast != nil && d.CastName == "" {
			return fmt.Errorf("op %q: param %q has a Cast without CastName", op, d.Key)
		}
		if !d.HasDefault {
			continue
		}
		if _, err := d.get(map[string]any{}); err != nil {
			return fmt.Errorf("op %q: default of param %q: %w", op, d.Key, err)
		}
	}
	return nil
}
