package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/ocsflux/ocsflux/agents"
	"github.com/ocsflux/ocsflux/agents/fakedata"
)

// run runs the configured agent until ctx is cancelled or the agent gives
// up, and is the one place where the agent runtime is wired into the
// command. cfg has been resolved, validated and logged.
func run(ctx context.Context, cfg *agentConfig) error {
	logger, closeLog, err := agentLogger(cfg)
	if err != nil {
		return err
	}
	defer closeLog()
	rt := runtimeConfig(cfg, logger)
	switch {
	case cfg.FakeData != nil:
		a, err := fakedata.New(fakedata.Config{Agent: rt, Options: *cfg.FakeData})
		if err != nil {
			return err
		}
		return a.Run(ctx)
	case cfg.InfluxDB != nil:
		return runInfluxDB(ctx, cfg, rt)
	}
	return fmt.Errorf("agent-class %s is not implemented by this ocsflux binary", cfg.Site.AgentClass)
}

// runtimeConfig is the OCS agent runtime's configuration from the resolved
// site config.
func runtimeConfig(cfg *agentConfig, logger *slog.Logger) agents.Config {
	r := cfg.Site
	return agents.Config{
		AddressRoot:     r.AddressRoot,
		InstanceID:      r.InstanceID,
		AgentClass:      r.AgentClass,
		URL:             r.WampServer,
		Realm:           r.WampRealm,
		CrossbarTimeout: time.Duration(r.CrossbarTimeout) * time.Second,
		AccessPolicy:    r.AccessPolicy,
		Hostname:        cfg.Hostname,
		Logger:          logger,
	}
}

// agentLogger adds OCS's log file, <log-dir>/<agent address>.log, to the
// command's logger when --log-dir (or the host's log-dir) is set. A relative
// log-dir is taken relative to --working-dir, as OCS does.
func agentLogger(cfg *agentConfig) (*slog.Logger, func(), error) {
	dir := cfg.Site.LogDir
	if dir == "" {
		return cfg.Logger, func() {}, nil
	}
	if !filepath.IsAbs(dir) && cfg.Site.WorkingDir != "" {
		dir = filepath.Join(cfg.Site.WorkingDir, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("log-dir: %w", err)
	}
	name := filepath.Join(dir, cfg.Site.AgentAddress+".log")
	f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("log-dir: %w", err)
	}
	file := slog.NewTextHandler(f, &slog.HandlerOptions{Level: cfg.LogLevel.slog})
	logger := slog.New(slog.NewMultiHandler(cfg.Logger.Handler(), file))
	logger.Info("logging to file", "file", name)
	return logger, func() { _ = f.Close() }, nil
}
