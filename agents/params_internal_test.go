package agents

import (
	"errors"
	"reflect"
	"testing"
)

// The texts follow OCS's ParamHandler.get/batch (ocs/ocs_agent.py) with
// Python's str() formatting.
func TestCheckParams(t *testing.T) {
	testMode := []Param{{Key: "test_mode", Type: Bool, Default: false, HasDefault: true}}
	delay := []Param{
		{Key: "delay", Type: Float, Default: 5, HasDefault: true, Check: func(v any) bool { return v.(float64) >= 0 }},
		{Key: "succeed", Type: Bool, Default: true, HasDefault: true},
	}
	choice := []Param{{Key: "mode", Type: Str, Choices: []any{"idle", "acq"}}}
	cases := []struct {
		name   string
		decls  []Param
		raw    any
		want   Params
		errMsg string
		crash  bool
	}{
		{"absent", testMode, nil, Params{"test_mode": false}, "", false},
		{"empty", testMode, map[string]any{}, Params{"test_mode": false}, "", false},
		{"null value", testMode, map[string]any{"test_mode": nil}, Params{"test_mode": false}, "", false},
		{"true", testMode, map[string]any{"test_mode": true}, Params{"test_mode": true}, "", false},
		{"string for bool", testMode, map[string]any{"test_mode": "yes"}, nil,
			"Param 'test_mode'=yes is not of required type (<class 'bool'>)", false},
		{"int for bool", testMode, map[string]any{"test_mode": int64(1)}, nil,
			"Param 'test_mode'=1 is not of required type (<class 'bool'>)", false},
		{"stray", testMode, map[string]any{"bogus": int64(1)}, nil,
			"params included unexpected values: ['bogus']", false},
		{"strays sorted", testMode, map[string]any{"b": int64(1), "a": int64(2)}, nil,
			"params included unexpected values: ['a', 'b']", false},
		{"type error before strays", testMode, map[string]any{"bogus": int64(1), "test_mode": "x"}, nil,
			"Param 'test_mode'=x is not of required type (<class 'bool'>)", false},
		{"list params", testMode, []any{}, nil, "'list' object has no attribute 'get'", true},
		{"string params", testMode, "x", nil, "'str' object has no attribute 'get'", true},
		{"default converted", delay, nil, Params{"delay": 5.0, "succeed": true}, "", false},
		{"int to float", delay, map[string]any{"delay": int64(2)}, Params{"delay": 2.0, "succeed": true}, "", false},
		{"bool to float", delay, map[string]any{"delay": true}, Params{"delay": 1.0, "succeed": true}, "", false},
		{"check fails", delay, map[string]any{"delay": -1.5}, nil, "Param 'delay' failed validity check (see docs?).", false},
		{"last declared first", delay, map[string]any{"delay": "x", "succeed": "y"}, nil,
			"Param 'succeed'=y is not of required type (<class 'bool'>)", false},
		{"float str", delay, map[string]any{"delay": []any{int64(1), "a"}}, nil,
			"Param 'delay'=[1, 'a'] is not of required type (<class 'float'>)", false},
		{"required", choice, map[string]any{}, nil, "Param 'mode' is required and must not be None", false},
		{"choice ok", choice, map[string]any{"mode": "acq"}, Params{"mode": "acq"}, "", false},
		{"choice bad", choice, map[string]any{"mode": "run"}, nil,
			"Param 'mode'=run is not in allowed set (['idle', 'acq'])", false},
		{"optional null", []Param{{Key: "p", Type: Float, HasDefault: true}}, map[string]any{"p": nil}, Params{"p": nil}, "", false},
		{"int gets bool", []Param{{Key: "n", Type: Int}}, map[string]any{"n": true}, Params{"n": int64(1)}, "", false},
		{"int rejects float", []Param{{Key: "n", Type: Int}}, map[string]any{"n": 1.5}, nil,
			"Param 'n'=1.5 is not of required type (<class 'int'>)", false},
		{"tuple from list", []Param{{Key: "t", Type: Tuple}}, map[string]any{"t": []any{int64(1)}}, Params{"t": []any{int64(1)}}, "", false},
		{"tuple choices", []Param{{Key: "t", Type: Tuple, Choices: []any{[]any{int64(2)}}}}, map[string]any{"t": []any{int64(1)}}, nil,
			"Param 't'=(1,) is not in allowed set ([[2]])", false},
		{"dict str", []Param{{Key: "d", Type: Str}}, map[string]any{"d": map[string]any{"a": int64(1)}}, nil,
			"Param 'd'={'a': 1} is not of required type (<class 'str'>)", false},
		{"cast", []Param{{Key: "c", Type: Str, Cast: func(v any) (any, error) {
			s, ok := v.(string)
			if !ok {
				return nil, errors.New("no")
			}
			return s + "!", nil
		}, CastName: "<method 'lower' of 'str' objects>"}}, map[string]any{"c": 1.0}, nil,
			"Param 'c'=1.0 could not be cast to <method 'lower' of 'str' objects>.", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := checkParams(c.decls, c.raw)
			if c.errMsg == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if !reflect.DeepEqual(got, c.want) {
					t.Fatalf("params = %#v, want %#v", got, c.want)
				}
				return
			}
			var pe *ParamError
			var pc *paramCrash
			switch {
			case c.crash && errors.As(err, &pc):
				if pc.msg != c.errMsg {
					t.Fatalf("crash %q, want %q", pc.msg, c.errMsg)
				}
			case !c.crash && errors.As(err, &pe):
				if pe.Msg != c.errMsg {
					t.Fatalf("error %q, want %q", pe.Msg, c.errMsg)
				}
			default:
				t.Fatalf("error %v (%T), want %q", err, err, c.errMsg)
			}
		})
	}
}

func TestValidateDecls(t *testing.T) {
	if err := validateDecls("op", []Param{{Key: "a"}, {Key: "a"}}); err == nil {
		t.Error("duplicate key accepted")
	}
	if err := validateDecls("op", []Param{{Key: "d", Type: Float, Default: "x", HasDefault: true}}); err == nil {
		t.Error("default of the wrong type accepted")
	}
	if err := validateDecls("op", []Param{{Key: "d", Type: Float, Default: 5, HasDefault: true}, {Key: "r"}}); err != nil {
		t.Errorf("valid declarations rejected: %v", err)
	}
}
