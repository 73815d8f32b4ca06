package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/ocsflux/ocsflux/agents/client"
	"github.com/ocsflux/ocsflux/agents/router/wampjson"
	"github.com/ocsflux/ocsflux/site"
)

// clientCmd is an operator's command line for one agent, like OCS's
// OCSClient in ocs-client-cli's shell: list the API, or start, stop,
// abort, wait for or ask the status of an operation; or, for healthchecks,
// check that an operation is running and not degraded for too long
// (health).
type clientCmd struct {
	SiteHTTP    string   `name:"site-http" placeholder:"URL" help:"Call through this HTTP bridge (hub.wamp_http), e.g. http://localhost:8001/call, as OCSClient does."`
	SiteHub     string   `name:"site-hub" placeholder:"URL" help:"Call over a WAMP WebSocket session (msgpack) at this URL (hub.wamp_server) instead, e.g. ws://localhost:8001/ws."`
	SiteRealm   string   `name:"site-realm" placeholder:"REALM" help:"Realm for --site-hub. Default: the site config's wamp_realm, else test_realm."`
	AddressRoot string   `name:"address-root" placeholder:"ROOT" help:"Agent addresses are ROOT.<instance-id>. Default: the site config's address_root, else observatory."`
	Site        string   `name:"site" placeholder:"NAME" help:"Use the site config $OCS_CONFIG_DIR/NAME.yaml (default: default.yaml when OCS_CONFIG_DIR is set). --site none: no site config."`
	SiteFile    string   `name:"site-file" placeholder:"PATH" help:"Use this site config file."`
	SiteHost    string   `name:"site-host" placeholder:"HOST" help:"Apply this host entry's wamp_http/wamp_server/wamp_realm (default: this machine's host name, then localhost, if present)."`
	Timeout     *float64 `name:"timeout" placeholder:"SECONDS" help:"For wait: give up after SECONDS with a TIMEOUT reply (0 or negative, written --timeout=-1: answer at once). Default: wait until the operation is done."`
	MaxDegraded *string  `name:"max-degraded" placeholder:"DURATION" help:"For health: how long the operation may have been degraded and still pass, a Go duration (90s, 5m) or seconds; 0: degraded fails at once. Default: 5m."`
	JSON        bool     `name:"json" help:"Print the reply as JSON (for scripts) instead of OCSReply's text."`

	InstanceID string   `arg:"" name:"instance-id" help:"The agent's instance-id (its address is ROOT.<instance-id>)."`
	Action     string   `arg:"" name:"action" enum:"api,start,stop,abort,wait,status,health" help:"api (the agent's API), or an operation action: start, stop, abort, wait, status, or health (status, then exit 1 unless the operation is running and not degraded for longer than --max-degraded)."`
	Op         string   `arg:"" name:"op" optional:"" help:"The operation (task or process), for every action but api."`
	Params     []string `arg:"" name:"params" optional:"" help:"For start: the operation's params as key=value; a value that is JSON (true, 1, 1.5, \"text\", [1, 2]) is that value, anything else a string."`

	params      map[string]any
	maxDegraded time.Duration // health's limit (--max-degraded)
}

// actionHealth is the client's own action: status, then a verdict.
const actionHealth = "health"

// defaultMaxDegraded is --max-degraded's default.
const defaultMaxDegraded = 5 * time.Minute

// Help is the command's detailed help.
func (c *clientCmd) Help() string {
	return "Calls the agent's management procedure (api) or its .ops procedure, with the arguments " +
		"OCS's OCSClient sends, through the HTTP bridge (--site-http, or the site config's wamp_http) " +
		"or over WAMP (--site-hub, or the site config's wamp_server when it has no wamp_http), and " +
		"prints the reply as OCSReply does (the latest five messages, the session data), or as JSON " +
		"with --json. Exit status: 0 for an OK reply, 1 for an ERROR or TIMEOUT reply or a failed " +
		"call (the error, e.g. wamp.error.no_such_procedure when the agent is not running, goes to " +
		"stderr, and to stdout as {\"error\", \"args\", \"kwargs\"} with --json), 2 for a usage error.\n\n" +
		"health (for healthchecks) asks the operation's status as status does and exits 0 only if " +
		"the reply is OK, the session's status is running, and the session is not degraded or has " +
		"been degraded for at most --max-degraded (default 5m), as told by its data's degraded_since " +
		"(record of InfluxDBAgent); a degraded session without degraded_since fails (its degraded time " +
		"is unknown). It prints one line: the verdict on stdout, or why it fails on stderr (exit " +
		"status 1); with --json, the reply as status prints it, and why it fails on stderr."
}

// Validate reports usage errors (exit status 2).
func (c *clientCmd) Validate() error {
	if c.SiteHTTP != "" && c.SiteHub != "" {
		return errors.New("give --site-http or --site-hub, not both")
	}
	if c.InstanceID == "" || strings.Contains(c.InstanceID, ".") {
		return fmt.Errorf("instance-id %q: must be non-empty and contain no '.'", c.InstanceID)
	}
	if c.Action == "api" {
		if c.Op != "" {
			return fmt.Errorf("api takes no operation (got %q)", c.Op)
		}
	} else if c.Op == "" {
		return fmt.Errorf("%s needs an operation name", c.Action)
	}
	if len(c.Params) > 0 && c.Action != client.ActionStart {
		return fmt.Errorf("params (%s) are for start only", strings.Join(c.Params, " "))
	}
	if c.Timeout != nil && c.Action != client.ActionWait {
		return errors.New("--timeout is for wait only")
	}
	c.maxDegraded = defaultMaxDegraded
	if c.MaxDegraded != nil {
		if c.Action != actionHealth {
			return errors.New("--max-degraded is for health only")
		}
		d, err := site.ParseDuration(*c.MaxDegraded)
		if err != nil {
			return fmt.Errorf("--max-degraded: %w", err)
		}
		if d < 0 {
			return fmt.Errorf("--max-degraded %s: must not be negative", *c.MaxDegraded)
		}
		c.maxDegraded = d
	}
	params, err := client.ParseParams(c.Params)
	if err != nil {
		return err
	}
	c.params = params
	return nil
}

// opsCaller is what both clients (HTTP bridge, WAMP) offer.
type opsCaller interface {
	GetAPI(ctx context.Context) (map[string]any, error)
	Ops(ctx context.Context, action, op string, params map[string]any, timeout *float64) (client.Reply, error)
}

// replyError is a reply whose status is not OK: exit status 1.
type replyError struct{ reply client.Reply }

func (e *replyError) Error() string {
	return fmt.Sprintf("reply %s: %s", e.reply.Status, e.reply.Message)
}

// Run makes the call, prints the reply, and fails (exit status 1) on a
// call failure or a reply that is not OK.
func (c *clientCmd) Run(ctx context.Context, env *Env) error {
	caller, address, closeFn, err := c.connect(ctx, env)
	if err != nil {
		return c.failed(env, err)
	}
	defer closeFn()

	if c.Action == "api" {
		api, err := caller.GetAPI(ctx)
		if err != nil {
			return c.failed(env, err)
		}
		if c.JSON {
			return printJSON(env, api)
		}
		_, err = fmt.Fprintln(env.Stdout, client.FormatAPI(address, api))
		return err
	}

	action := c.Action
	if action == actionHealth {
		action = client.ActionStatus
	}
	reply, err := caller.Ops(ctx, action, c.Op, c.params, c.Timeout)
	if err != nil {
		return c.failed(env, err)
	}
	if c.Action == actionHealth {
		return c.health(env, reply)
	}
	if c.JSON {
		err = printJSON(env, reply.Map())
	} else {
		_, err = fmt.Fprintln(env.Stdout, reply.Format(time.Now()))
	}
	if err != nil {
		return err
	}
	if reply.Status != client.OK {
		return &replyError{reply}
	}
	return nil
}

// connect chooses the transport: --site-http or --site-hub as given, else
// the site config's wamp_http (as OCSClient), else its wamp_server.
func (c *clientCmd) connect(ctx context.Context, env *Env) (opsCaller, string, func(), error) {
	hub, from, err := siteHub(env, c.Site, c.SiteFile, c.SiteHost)
	if err != nil {
		return nil, "", nil, err
	}
	root := firstNonEmpty(c.AddressRoot, hub.AddressRoot, "observatory")
	address := root + "." + c.InstanceID
	realm := firstNonEmpty(c.SiteRealm, hub.WampRealm, "test_realm")
	httpURL, wsURL := c.SiteHTTP, c.SiteHub
	if httpURL == "" && wsURL == "" {
		httpURL, wsURL = hub.WampHTTP, hub.WampServer
		if httpURL != "" {
			wsURL = ""
		}
	}
	switch {
	case httpURL != "":
		return &client.HTTP{URL: httpURL, Address: address}, address, func() {}, nil
	case wsURL != "":
		w, err := client.DialWAMP(ctx, client.WAMPConfig{URL: wsURL, Realm: realm, Address: address})
		if err != nil {
			return nil, "", nil, err
		}
		return w, address, func() { _ = w.Close() }, nil
	}
	if from != "" {
		return nil, "", nil, fmt.Errorf("site config %s has neither wamp_http nor wamp_server; give --site-http or --site-hub", from)
	}
	return nil, "", nil, errors.New("no router to call: give --site-http URL or --site-hub URL, or a site config (--site-file, $OCS_CONFIG_DIR)")
}

// failed prints a call failure as JSON when --json is given, and returns
// it.
func (c *clientCmd) failed(env *Env, err error) error {
	var cerr *client.Error
	if c.JSON && errors.As(err, &cerr) {
		args, kwargs := cerr.Args, cerr.Kwargs
		if args == nil {
			args = []any{}
		}
		if kwargs == nil {
			kwargs = map[string]any{}
		}
		if perr := printJSON(env, map[string]any{"error": cerr.URI, "args": args, "kwargs": kwargs}); perr != nil {
			return perr
		}
	}
	return err
}

func printJSON(env *Env, v any) error {
	b, err := wampjson.MarshalIndent(v, "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(env.Stdout, "%s\n", b)
	return err
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// health prints the verdict on the status reply (the reply itself with
// --json) and fails (exit status 1) when the operation is unhealthy.
func (c *clientCmd) health(env *Env, reply client.Reply) error {
	verdict, err := healthOf(c.Op, reply, c.maxDegraded, time.Now())
	if c.JSON {
		if perr := printJSON(env, reply.Map()); perr != nil {
			return perr
		}
	} else if err == nil {
		if _, perr := fmt.Fprintln(env.Stdout, verdict); perr != nil {
			return perr
		}
	}
	return err
}

// healthOf judges the status reply of op as of now: healthy (a nil error,
// and a line saying so) when the reply is OK, the session is running, and
// it is not degraded or has been degraded for at most maxDegraded (0: not
// at all). How long it has been degraded is its data's degraded_since
// (Unix seconds; record of InfluxDBAgent sets it); a degraded session
// without one (another agent class) fails, its degraded time being
// unknown. The error is one line for the healthcheck's log.
func healthOf(op string, reply client.Reply, maxDegraded time.Duration, now time.Time) (string, error) {
	if reply.Status != client.OK {
		return "", fmt.Errorf("%s: status reply %s: %s", op, reply.Status, reply.Message)
	}
	s := reply.Session
	status, _ := s["status"].(string)
	switch {
	case len(s) == 0:
		return "", fmt.Errorf("%s is not running (no session: it has not run since the agent started)", op)
	case status != "running":
		return "", fmt.Errorf("%s is not running (status %s)", op, fmt.Sprint(s["status"]))
	}
	data, _ := s["data"].(map[string]any)
	since, hasSince := seconds(data["degraded_since"])
	degraded, ok := s["degraded"].(bool)
	if !ok { // not an OCS session as OCS sends it: op_code 8 is degraded
		code, _ := seconds(s["op_code"])
		degraded = code == 8 || hasSince
	}
	if !degraded {
		return op + " is running", nil
	}
	reason := ""
	if r, _ := data["degraded_reason"].(string); r != "" {
		reason = ": " + r
	}
	if !hasSince {
		if maxDegraded == 0 {
			return "", fmt.Errorf("%s is degraded (--max-degraded 0)%s", op, reason)
		}
		return "", fmt.Errorf("%s is degraded, for an unknown time (its session data has no degraded_since)%s", op, reason)
	}
	// Rounded to the second before the comparison, so that the message
	// never reads "5m0s (more than 5m)"; a degraded_since in the future
	// (clock skew) counts as just now.
	secs := min(max(0, float64(now.UnixNano())/1e9-since), float64(math.MaxInt64/time.Second))
	d := time.Duration(math.Round(secs)) * time.Second
	switch {
	case maxDegraded == 0:
		return "", fmt.Errorf("%s has been degraded for %s (--max-degraded 0)%s", op, d, reason)
	case d > maxDegraded:
		return "", fmt.Errorf("%s has been degraded for %s (more than %s)%s", op, d, site.FormatDuration(maxDegraded), reason)
	}
	return fmt.Sprintf("%s is running, degraded for %s (at most %s)%s", op, d, site.FormatDuration(maxDegraded), reason), nil
}

// seconds is a finite JSON number as a float64.
func seconds(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case int64:
		f = float64(x)
	case uint64:
		f = float64(x)
	default:
		return 0, false
	}
	return f, !math.IsNaN(f) && !math.IsInf(f, 0)
}
