package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/ocsflux/ocsflux/agents/router/wampjson"
)

// HTTP controls an agent through the router's HTTP caller bridge, as OCS's
// OCSClient does. The zero Client means a client without a timeout: an
// .ops wait without a timeout lasts as long as the operation.
type HTTP struct {
	// URL is the bridge, the site's hub.wamp_http
	// (e.g. http://localhost:8001/call).
	URL string
	// Address is the agent's address, <address_root>.<instance-id>.
	Address string
	// Client sends the requests; nil means a client without timeout.
	Client *http.Client
}

// maxReplySize bounds how much of a bridge reply is read.
const maxReplySize = 256 << 20

// Call posts {"procedure", "args", "kwargs"} (no Content-Type, as OCS's
// client_http) and returns the result, args[0] of the reply. Failures are
// *Error values as described on Error; a cancelled ctx returns ctx's
// error.
func (c *HTTP) Call(ctx context.Context, procedure string, args []any, kwargs map[string]any) (any, error) {
	if args == nil {
		args = []any{}
	}
	if kwargs == nil {
		kwargs = map[string]any{}
	}
	body, err := wampjson.Marshal(map[string]any{"procedure": procedure, "args": args, "kwargs": kwargs})
	if err != nil {
		return nil, fmt.Errorf("encode call of %s: %w", procedure, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", procedure, err)
	}
	hc := c.Client
	if hc == nil {
		hc = &http.Client{}
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("call %s: %w", procedure, ctx.Err())
		}
		return nil, connectionError(c.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReplySize))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("call %s: %w", procedure, ctx.Err())
		}
		return nil, connectionError(c.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &Error{
			URI:        ErrRequest,
			Args:       []any{fmt.Sprintf("Server replied with code %d", resp.StatusCode)},
			StatusCode: resp.StatusCode,
		}
	}
	decoded, err := wampjson.Unmarshal(data)
	if err != nil {
		return nil, fmt.Errorf("call %s: reply from %s is not JSON: %w", procedure, c.URL, err)
	}
	reply, ok := decoded.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("call %s: reply from %s is not a JSON object", procedure, c.URL)
	}
	if e, ok := reply["error"]; ok {
		uri, _ := e.(string)
		werr := &Error{URI: uri}
		werr.Args, _ = reply["args"].([]any)
		werr.Kwargs, _ = reply["kwargs"].(map[string]any)
		return nil, werr
	}
	results, ok := reply["args"].([]any)
	if !ok || len(results) == 0 {
		return nil, errors.New("call " + procedure + ": reply has no args")
	}
	return results[0], nil
}

// GetAPI returns the agent's get_api dict.
func (c *HTTP) GetAPI(ctx context.Context) (map[string]any, error) {
	return getAPI(ctx, c.Call, c.Address)
}

// Ops calls the agent's .ops procedure: action is start, stop, abort, wait
// or status; params are the op's parameters (start only; nil means none);
// timeout is wait's timeout in seconds (nil: wait until the op is done;
// ignored for other actions).
func (c *HTTP) Ops(ctx context.Context, action, op string, params map[string]any, timeout *float64) (Reply, error) {
	return ops(ctx, c.Call, c.Address, action, op, params, timeout)
}
