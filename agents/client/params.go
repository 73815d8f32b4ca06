package client

import (
	"fmt"
	"strings"

	"github.com/ocsflux/ocsflux/agents/router/wampjson"
)

// ParseParams turns command-line words key=value into op params. A value
// that is valid JSON is taken as that JSON value, with Python's number
// rules (true, 1 an int, 1.0 and 1.5 floats, null, "quoted text", [1, 2],
// {"a": 1}; also NaN and Infinity); any other value is a string as typed
// (x, True, 2024-01-01). A key may appear once.
func ParseParams(words []string) (map[string]any, error) {
	params := make(map[string]any, len(words))
	for _, w := range words {
		key, value, ok := strings.Cut(w, "=")
		if !ok {
			return nil, fmt.Errorf("param %q: want key=value", w)
		}
		key = strings.TrimSpace(key)
		if key == "" {
			return nil, fmt.Errorf("param %q: empty key", w)
		}
		if _, dup := params[key]; dup {
			return nil, fmt.Errorf("param %q given twice", key)
		}
		if v, err := wampjson.Unmarshal([]byte(value)); err == nil {
			params[key] = v
		} else {
			params[key] = value
		}
	}
	return params, nil
}
