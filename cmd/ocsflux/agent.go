package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/ocsflux/ocsflux/agents/fakedata"
	"github.com/ocsflux/ocsflux/agents/influxdb"
	"github.com/ocsflux/ocsflux/site"
)

// agentConfig is everything an agent needs to run, resolved and checked.
type agentConfig struct {
	Site     *site.Resolved    // site config entry and site options
	InfluxDB *influxdb.Options // set when Site.AgentClass is influxdb.AgentClass or AgentClassV2
	FakeData *fakedata.Options // set when Site.AgentClass is fakedata.AgentClass

	Logger    *slog.Logger
	LogLevel  logLevel
	LookupEnv func(string) (string, bool) // for the InfluxDB credentials, read when record starts
	Hostname  string
	Version   string
}

// agentClass is an OCS agent class this binary implements.
type agentClass struct {
	name string
	// bind makes the class's options with their defaults, keeps them in
	// cfg, and returns their flags.
	bind func(cfg *agentConfig) []site.Flag
}

// agentClasses lists the agent classes this binary runs, by name.
func agentClasses() []agentClass {
	return []agentClass{
		{fakedata.AgentClass, func(cfg *agentConfig) []site.Flag {
			o := fakedata.Defaults()
			cfg.FakeData = &o
			return o.Flags()
		}},
		{influxdb.AgentClass, func(cfg *agentConfig) []site.Flag {
			o := influxdb.Defaults()
			cfg.InfluxDB = &o
			return o.Flags()
		}},
		{influxdb.AgentClassV2, func(cfg *agentConfig) []site.Flag {
			o := influxdb.DefaultsV2()
			cfg.InfluxDB = &o
			return o.Flags()
		}},
	}
}

// bindClass returns the options of an agent class, kept in cfg; an
// unknown class is an error listing the implemented ones.
func (cfg *agentConfig) bindClass(class string) ([]site.Flag, error) {
	var names []string
	for _, c := range agentClasses() {
		if c.name == class {
			return c.bind(cfg), nil
		}
		names = append(names, c.name)
	}
	return nil, fmt.Errorf("agent-class %s is not implemented by this ocsflux binary (it implements %s)",
		class, strings.Join(names, ", "))
}

// finish fills the defaults that depend on the instance and checks the
// options. Its errors are usage errors: they are about flag values.
func (cfg *agentConfig) finish() error {
	r := cfg.Site
	switch {
	case cfg.InfluxDB != nil:
		if cfg.InfluxDB.SpoolDir == "" {
			cfg.InfluxDB.SpoolDir = influxdb.DefaultSpoolDir(r.InstanceID)
			for i := range r.AgentSettings {
				if r.AgentSettings[i].Name == "spool-dir" {
					r.AgentSettings[i].Value = cfg.InfluxDB.SpoolDir
					r.AgentSettings[i].From = "ocsflux-spool-<instance-id>"
				}
			}
		}
		return cfg.InfluxDB.Validate()
	case cfg.FakeData != nil:
		return cfg.FakeData.Validate()
	}
	return nil
}

// checkSupported refuses what ocsflux does not implement.
func (cfg *agentConfig) checkSupported() error {
	switch p := cfg.Site.AccessPolicy; p {
	case "", "none":
		return nil
	default:
		return fmt.Errorf("access policy %q (from %s): only policy none is implemented by ocsflux",
			p, settingOrigin(cfg.Site.SiteSettings, site.OptAccessPolicy))
	}
}

func settingOrigin(ss []site.Setting, name string) string {
	for _, s := range ss {
		if s.Name == name {
			if s.From != "" && s.From != string(s.Source) {
				return string(s.Source) + ": " + s.From
			}
			return string(s.Source)
		}
	}
	return "unknown"
}

// runAgent is the agent command: resolve the site config and arguments,
// check them, then print them (--print-config) or log them and run the
// agent. It returns the exit status, or exitHelp.
func runAgent(ctx context.Context, env Env, args []string) int {
	p, code := prepareAgent(env, args)
	if p == nil {
		return code
	}
	if p.printConfig {
		if err := p.report.writeJSON(env.Stdout); err != nil {
			fmt.Fprintf(env.Stderr, "ocsflux: print config: %v\n", err)
			return exitError
		}
		return exitOK
	}
	p.report.log(p.cfg.Logger)
	if path, ok := env.LookupEnv(envCPUProfile); ok && path != "" {
		stop, err := startCPUProfile(path)
		if err != nil {
			fmt.Fprintf(env.Stderr, "ocsflux: %s: %v\n", envCPUProfile, err)
			return exitError
		}
		defer stop()
	}
	if err := run(ctx, p.cfg); err != nil {
		p.cfg.Logger.Error("agent stopped", "agent_class", p.cfg.Site.AgentClass,
			"instance_id", p.cfg.Site.InstanceID, "error", err)
		return exitError
	}
	return exitOK
}

// prepared is a resolved and checked agent configuration.
type prepared struct {
	cfg         *agentConfig
	report      *configReport
	printConfig bool
}

// prepareAgent does everything before the agent runs: LOGLEVEL, site
// config, arguments, checks; it logs the warnings. On failure it has
// reported the problem and returns nil and the exit status.
func prepareAgent(env Env, args []string) (*prepared, int) {
	level, levelSource, err := parseLogLevel(env.LookupEnv)
	if err != nil {
		fmt.Fprintf(env.Stderr, "ocsflux: %v\n", err)
		return nil, exitError
	}
	logger := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level.slog}))
	cfg := &agentConfig{
		Logger: logger, LogLevel: level, LookupEnv: env.LookupEnv,
		Hostname: env.Hostname, Version: buildVersion(),
	}
	var cmdOpts commandOptions
	r, err := site.Resolve(site.Request{
		Args:         args,
		LookupEnv:    env.LookupEnv,
		Hostname:     env.Hostname,
		AgentFlags:   cfg.bindClass,
		CommandFlags: cmdOpts.flags(),
	})
	if err != nil {
		return nil, reportResolveError(env, err)
	}
	cfg.Site = r
	if err := cfg.finish(); err != nil {
		return nil, usageError(env, err.Error())
	}
	if err := cfg.checkSupported(); err != nil {
		fmt.Fprintf(env.Stderr, "ocsflux: %v\n", err)
		return nil, exitError
	}
	for _, w := range r.Warnings {
		logger.Warn(w)
	}
	return &prepared{cfg: cfg, report: newConfigReport(cfg, levelSource), printConfig: cmdOpts.printConfig}, exitOK
}

func reportResolveError(env Env, err error) int {
	var (
		help    *site.HelpRequested
		usage   *site.UsageError
		missing *site.MissingInstanceIDError
	)
	switch {
	case errors.As(err, &help):
		return exitHelp
	case errors.As(err, &usage):
		return usageError(env, usage.Error())
	case errors.As(err, &missing):
		// ocs-agent-cli prints this on stdout and exits 1.
		fmt.Fprintln(env.Stdout, missing.Error())
		return exitError
	}
	fmt.Fprintf(env.Stderr, "ocsflux: %v\n", err)
	return exitError
}

// usageError reports a bad argument as argparse does: on stderr, status 2.
func usageError(env Env, msg string) int {
	msg = strings.ReplaceAll(msg, "\n", "\nocsflux: error: ")
	fmt.Fprintf(env.Stderr, "ocsflux: error: %s\nRun \"ocsflux agent --help\" for the options.\n", msg)
	return exitUsage
}
