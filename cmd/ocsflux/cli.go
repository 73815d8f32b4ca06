package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"github.com/ocsflux/ocsflux/agents/fakedata"
	"github.com/ocsflux/ocsflux/agents/influxdb"
	"github.com/ocsflux/ocsflux/site"
)

// Env is everything Main takes from the process, so that tests can run the
// whole command in-process.
type Env struct {
	Args      []string                    // command line without the program name
	LookupEnv func(string) (string, bool) // os.LookupEnv
	Hostname  string                      // os.Hostname(); "" if unknown
	Stdout    io.Writer                   // --print-config, version, help
	Stderr    io.Writer                   // logs and errors
}

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1 // start-up failure (site config, missing instance-id, run error)
	exitUsage = 2 // bad command line or instance arguments, as argparse
)

const cmdAgent = "agent"

const appHelp = `ocsflux runs OCS agents: the InfluxDB publisher (InfluxDBAgent) and the FakeDataAgent, as drop-in replacements of the Python agents. It reads the same site config file (SCF) and accepts the same arguments as ocs-agent-cli.

Without a command, ocsflux runs "agent": ocsflux --instance-id=influxagent`

const agentHelp = `Run the agent instance --instance-id (or $INSTANCE_ID) of the site config (default command).`

const agentDetail = `The site config is --site-file, or $OCS_CONFIG_DIR/<--site or default>.yaml; the host entry is --site-host, else this machine's host name, else localhost; the instance's agent-class chooses the agent. The instance's arguments are merged with the command line as OCS merges them, then parsed as argparse parses them: --flag value and --flag=value, unambiguous prefixes of long options, last occurrence wins. The environment variables INSTANCE_ID, SITE_HUB, SITE_HTTP, SITE_HOST and CROSSBAR_TIMEOUT stand in for their flags when these are not given; LOGLEVEL (critical, error, warn, info, debug, trace) sets the log level. Exit status: 2 for a bad argument, 1 for other start-up failures.`

// helpFlags returns every flag the agent command accepts, for help: the
// command's own, the site options, and each class's options.
func helpFlags() []site.Flag {
	var cmdOpts commandOptions
	fl := append(cmdOpts.flags(), site.SiteFlags()...)
	var throwaway agentConfig
	seen := map[string]bool{}
	for _, c := range agentClasses() {
		for _, f := range c.bind(&throwaway) {
			if !seen[f.Name] { // InfluxDBAgentv2's are InfluxDBAgent's, less the target's
				seen[f.Name] = true
				fl = append(fl, f)
			}
		}
	}
	return fl
}

// commandOptions are the agent command's own flags.
type commandOptions struct {
	printConfig bool
}

func (c *commandOptions) flags() []site.Flag {
	return []site.Flag{{
		Name: "print-config", Value: site.BoolValue(&c.printConfig),
		Help: "Print the resolved configuration (each value with where it came from) as JSON and exit.",
	}}
}

// helpStruct builds, from the flag tables, a struct type whose fields kong
// turns into the agent command's flags, so that kong's help lists exactly
// the flags the parser accepts. Kong never parses into it: the agent's
// arguments must first be merged with the site config (package site).
func helpStruct(flags []site.Flag) (model any, err error) {
	defer func() {
		if r := recover(); r != nil { // reflect.StructOf panics on invalid fields
			err = fmt.Errorf("agent help model: %v", r)
		}
	}()
	fields := make([]reflect.StructField, 0, len(flags))
	for i, f := range flags {
		typ := reflect.TypeOf("")
		if f.Kind() == site.KindBool {
			typ = reflect.TypeOf(false)
		}
		help := f.Help
		if f.Default != "" && f.Kind() != site.KindBool {
			help += " Default: " + f.Default + "."
		}
		placeholder := f.Placeholder
		if len(f.Choices) > 0 {
			placeholder = strings.Join(f.Choices, "|")
		}
		if placeholder == "" {
			placeholder = strings.ToUpper(string(f.Kind()))
		}
		tag := fmt.Sprintf(`name:%q help:%q placeholder:%q`, f.Name, help, placeholder)
		if f.Group != "" {
			tag += fmt.Sprintf(` group:%q`, f.Group)
		}
		fields = append(fields, reflect.StructField{
			Name: fmt.Sprintf("F%d", i),
			Type: typ,
			Tag:  reflect.StructTag(tag),
		})
	}
	return reflect.New(reflect.StructOf(fields)).Interface(), nil
}

// cli is the root of the command tree. Commands with a Run method are
// fields here (kong calls Run with the context and *Env bound); the agent
// command is added by newKong, as its flags are generated from the tables.
type cli struct {
	Router  routerCmd  `cmd:"" help:"Run an embedded WAMP router, a stand-in for an OCS site's crossbar: WebSocket at /ws, HTTP caller bridge at /call."`
	Client  clientCmd  `cmd:"" help:"Call an agent's operations like ocs-client-cli: api, start, stop, abort, wait, status; health (for healthchecks)."`
	Demo    demoCmd    `cmd:"" help:"Run a whole OCS chain in one process: a router, two FakeDataAgents and the InfluxDB publisher writing to InfluxDB (started for you when needed)."`
	Bench   benchCmd   `cmd:"" help:"Load test a running OCS InfluxDB publisher end to end: simulated agents publish feeds at given rates; report delivery, latency, CPU and RSS (--spawn starts everything itself)."`
	Version versionCmd `cmd:"" help:"Print the ocsflux version and the Go version it was built with."`
}

// versionCmd prints the version.
type versionCmd struct{}

// Run prints the version line.
func (versionCmd) Run(env *Env) error {
	_, err := fmt.Fprintln(env.Stdout, versionLine())
	return err
}

// newKong builds the command-line model: the agent command (default), then
// the commands of cli. exit records kong's exit requests (help) instead of
// exiting.
func newKong(ctx context.Context, env *Env, exit func(int)) (*kong.Kong, error) {
	agentFlags, err := helpStruct(helpFlags())
	if err != nil {
		return nil, err
	}
	groups := kong.Groups{
		site.GroupSite: site.GroupSite + ":\nOCS site options, as every OCS agent accepts them.",
		influxdb.GroupAgent: influxdb.GroupAgent + ":\nFor instances of agent-class InfluxDBAgent: " +
			"the Python agent's options, with its defaults and choices. Unlike the Python agent, " +
			"--ssl, --verify-ssl and --gzip read False, no, off and 0 as false (Python reads any non-empty value as true). " +
			"Instances of agent-class InfluxDBAgentv2 take only --initial-state, --protocol and --gzip of these, " +
			"and read their target from INFLUXDB_V2_URL, INFLUXDB_V2_ORG, INFLUXDB_V2_BUCKET and INFLUXDB_V2_TOKEN (or INFLUXDB_V2_TOKEN_FILE).",
		influxdb.GroupExtension: influxdb.GroupExtension + ":\nFor InfluxDBAgent and InfluxDBAgentv2; options the Python agents do not have.",
		fakedata.GroupAgent:     fakedata.GroupAgent + ":\nFor instances of agent-class FakeDataAgent.",
	}
	return kong.New(&cli{},
		kong.Name("ocsflux"),
		// Every DURATION of the commands reads as the agent's options do
		// (site.ParseDuration): Go syntax, Nd for days, or bare seconds.
		kong.TypeMapper(reflect.TypeFor[time.Duration](), kong.MapperFunc(func(ctx *kong.DecodeContext, target reflect.Value) error {
			var s string
			if err := ctx.Scan.PopValueInto("duration", &s); err != nil {
				return err
			}
			d, err := site.ParseDuration(s)
			if err != nil {
				return err
			}
			target.SetInt(int64(d))
			return nil
		})),
		kong.Description(appHelp),
		kong.Writers(env.Stdout, env.Stderr),
		kong.Exit(exit),
		groups,
		kong.ConfigureHelp(kong.HelpOptions{WrapUpperBound: 100, NoExpandSubcommands: true}),
		kong.BindTo(ctx, (*context.Context)(nil)),
		kong.Bind(env),
		kong.DynamicCommand(cmdAgent, agentHelp, "", agentFlags, `default:"withargs"`),
		kong.PostBuild(func(k *kong.Kong) error {
			// The agent command comes first in help, with its details.
			children := k.Model.Children
			for i, c := range children {
				if c.Name == cmdAgent {
					c.Detail = agentDetail
					copy(children[1:i+1], children[:i])
					children[0] = c
				}
			}
			return nil
		}),
	)
}

// Main runs ocsflux with the given command line and environment and returns
// the exit status.
func Main(ctx context.Context, env Env) int {
	if env.LookupEnv == nil {
		env.LookupEnv = func(string) (string, bool) { return "", false }
	}
	exitCode := -1
	k, err := newKong(ctx, &env, func(code int) {
		if exitCode < 0 {
			exitCode = code
		}
	})
	if err != nil {
		fmt.Fprintf(env.Stderr, "ocsflux: %v\n", err)
		return exitError
	}

	// Kong chooses the command. The agent's arguments are parsed by package
	// site once the site config is read (OCS merges them with the
	// instance's arguments first), so for the agent kong is given only the
	// command name, or --help.
	args := env.Args
	if len(args) == 1 && args[0] == "--version" { // as `ocsflux version`
		fmt.Fprintln(env.Stdout, versionLine())
		return 0
	}
	command, rest, explicit := cmdAgent, args, false
	if len(args) > 0 {
		for _, c := range k.Model.Children {
			if c.Name == args[0] {
				command, rest, explicit = args[0], args[1:], true
			}
		}
	}
	var kongArgs []string
	switch {
	case command != cmdAgent:
		kongArgs = args
	case site.IsHelpRequest(rest) && !explicit && len(rest) == 1:
		kongArgs = []string{"--help"} // "ocsflux --help": the application's help
	case site.IsHelpRequest(rest):
		kongArgs = []string{cmdAgent, "--help"}
	default:
		kongArgs = []string{cmdAgent}
	}
	kctx, err := k.Parse(kongArgs)
	if exitCode >= 0 {
		return exitCode // help was printed
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "ocsflux: error: %v\n", err)
		return exitUsage
	}
	if kctx.Command() != cmdAgent {
		if err := kctx.Run(); err != nil {
			fmt.Fprintf(env.Stderr, "ocsflux: %v\n", err)
			return exitError
		}
		return exitOK
	}
	code := runAgent(ctx, env, rest)
	if code == exitHelp {
		return printAgentHelp(ctx, env)
	}
	return code
}

// exitHelp is runAgent's request to print the agent help.
const exitHelp = -1

// printAgentHelp prints kong's help of the agent command.
func printAgentHelp(ctx context.Context, env Env) int {
	code := exitOK
	k, err := newKong(ctx, &env, func(c int) { code = c })
	if err == nil {
		_, err = k.Parse([]string{cmdAgent, "--help"})
	}
	if err != nil {
		var pe *kong.ParseError
		if !errors.As(err, &pe) {
			fmt.Fprintf(env.Stderr, "ocsflux: %v\n", err)
			return exitError
		}
	}
	return code
}
