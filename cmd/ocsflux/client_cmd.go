package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ocsflux/ocsflux/agents/client"
	"github.com/ocsflux/ocsflux/agents/router/wampjson"
)

// clientCmd is an operator's command line for one agent, like OCS's
// OCSClient in ocs-client-cli's shell: list the API, or start, stop,
// abort, wait for or ask the status of an operation.
type clientCmd struct {
	SiteHTTP    string   `name:"site-http" placeholder:"URL" help:"Call through this HTTP bridge (hub.wamp_http), e.g. http://localhost:8001/call, as OCSClient does."`
	SiteHub     string   `name:"site-hub" placeholder:"URL" help:"Call over a WAMP WebSocket session (msgpack) at this URL (hub.wamp_server) instead, e.g. ws://localhost:8001/ws."`
	SiteRealm   string   `name:"site-realm" placeholder:"REALM" help:"Realm for --site-hub. Default: the site config's wamp_realm, else test_realm."`
	AddressRoot string   `name:"address-root" placeholder:"ROOT" help:"Agent addresses are ROOT.<instance-id>. Default: the site config's address_root, else observatory."`
	Site        string   `name:"site" placeholder:"NAME" help:"Use the site config $OCS_CONFIG_DIR/NAME.yaml (default: default.yaml when OCS_CONFIG_DIR is set). --site none: no site config."`
	SiteFile    string   `name:"site-file" placeholder:"PATH" help:"Use this site config file."`
	SiteHost    string   `name:"site-host" placeholder:"HOST" help:"Apply this host entry's wamp_http/wamp_server/wamp_realm (default: this machine's host name, then localhost, if present)."`
	Timeout     *float64 `name:"timeout" placeholder:"SECONDS" help:"For wait: give up after SECONDS with a TIMEOUT reply (0 or negative, written --timeout=-1: answer at once). Default: wait until the operation is done."`
	JSON        bool     `name:"json" help:"Print the reply as JSON (for scripts) instead of OCSReply's text."`

	InstanceID string   `arg:"" name:"instance-id" help:"The agent's instance-id (its address is ROOT.<instance-id>)."`
	Action     string   `arg:"" name:"action" enum:"api,start,stop,abort,wait,status" help:"api (the agent's API), or an operation action: start, stop, abort, wait, status."`
	Op         string   `arg:"" name:"op" optional:"" help:"The operation (task or process), for every action but api."`
	Params     []string `arg:"" name:"params" optional:"" help:"For start: the operation's params as key=value; a value that is JSON (true, 1, 1.5, \"text\", [1, 2]) is that value, anything else a string."`

	params map[string]any
}

// Help is the command's detailed help.
func (c *clientCmd) Help() string {
	return "Calls the agent's management procedure (api) or its .ops procedure, with the arguments " +
		"OCS's OCSClient sends, through the HTTP bridge (--site-http, or the site config's wamp_http) " +
		"or over WAMP (--site-hub, or the site config's wamp_server when it has no wamp_http), and " +
		"prints the reply as OCSReply does (the latest five messages, the session data), or as JSON " +
		"with --json. Exit status: 0 for an OK reply, 1 for an ERROR or TIMEOUT reply or a failed " +
		"call (the error, e.g. wamp.error.no_such_procedure when the agent is not running, goes to " +
		"stderr, and to stdout as {\"error\", \"args\", \"kwargs\"} with --json), 2 for a usage error."
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

	reply, err := caller.Ops(ctx, c.Action, c.Op, c.params, c.Timeout)
	if err != nil {
		return c.failed(env, err)
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
