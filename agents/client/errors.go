package client

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ocsflux/ocsflux/agents/router/wampjson"
)

// Error URIs of failures that are not WAMP errors, as OCS's client_http
// names them.
const (
	// ErrConnection: the router could not be reached. Args holds
	// "Failed to connect to <url>".
	ErrConnection = "client_http.error.connection_error"
	// ErrRequest: the bridge answered with an HTTP status other than 200.
	// Args holds "Server replied with code <n>".
	ErrRequest = "client_http.error.request_error"
)

// Error is OCS's ControlClientError: a call that did not produce a result.
// URI is ErrConnection, ErrRequest, or the URI of the WAMP error the
// router or the agent answered with (e.g. wamp.error.no_such_procedure
// when the agent is not running); Args and Kwargs are that error's
// arguments.
type Error struct {
	URI    string
	Args   []any
	Kwargs map[string]any
	// StatusCode is the HTTP status of an ErrRequest, else 0.
	StatusCode int
	// Err is the underlying failure of an ErrConnection, else nil.
	Err error
}

// Error formats the URI followed by the arguments, e.g.
// "wamp.error.no_such_procedure: no callee registered for procedure <observatory.x>".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.URI)
	sep := ": "
	for _, a := range e.Args {
		b.WriteString(sep)
		sep = ", "
		if s, ok := a.(string); ok {
			b.WriteString(s)
			continue
		}
		enc, err := wampjson.Marshal(a)
		if err != nil {
			fmt.Fprint(&b, a)
			continue
		}
		b.Write(enc)
	}
	keys := make([]string, 0, len(e.Kwargs))
	for k := range e.Kwargs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteString(sep)
		sep = ", "
		enc, err := wampjson.Marshal(e.Kwargs[k])
		if err != nil {
			fmt.Fprintf(&b, "%s=%v", k, e.Kwargs[k])
			continue
		}
		fmt.Fprintf(&b, "%s=%s", k, enc)
	}
	return b.String()
}

// Unwrap returns the underlying failure, if any.
func (e *Error) Unwrap() error { return e.Err }

func connectionError(url string, err error) *Error {
	return &Error{URI: ErrConnection, Args: []any{"Failed to connect to " + url}, Err: err}
}
