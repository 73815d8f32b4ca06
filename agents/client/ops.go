package client

import (
	"context"
	"fmt"
)

// callFunc calls a procedure and returns its single result.
type callFunc func(ctx context.Context, procedure string, args []any, kwargs map[string]any) (any, error)

// Actions of an agent's .ops procedure.
const (
	ActionStart  = "start"
	ActionStop   = "stop"
	ActionAbort  = "abort"
	ActionWait   = "wait"
	ActionStatus = "status"
)

// getAPI calls the management procedure with "get_api".
func getAPI(ctx context.Context, call callFunc, address string) (map[string]any, error) {
	v, err := call(ctx, address, []any{"get_api"}, nil)
	if err != nil {
		return nil, err
	}
	api, ok := normalize(v).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("get_api of %s returned %s, not an object", address, short(v))
	}
	return api, nil
}

// ops calls <address>.ops with OCSClient's arguments: [action, op, params]
// (params {} when nil), and for wait the keyword timeout (null when nil).
func ops(ctx context.Context, call callFunc, address, action, op string, params map[string]any, timeout *float64) (Reply, error) {
	if params == nil {
		params = map[string]any{}
	}
	kwargs := map[string]any{}
	if action == ActionWait {
		if timeout != nil {
			kwargs["timeout"] = *timeout
		} else {
			kwargs["timeout"] = nil
		}
	}
	v, err := call(ctx, address+".ops", []any{action, op, params}, kwargs)
	if err != nil {
		return Reply{}, err
	}
	r, err := ReplyFromResult(v)
	if err != nil {
		return Reply{}, fmt.Errorf("%s %s on %s: %w", action, op, address, err)
	}
	return r, nil
}
