package main

import (
	"context"
	"fmt"

	"github.com/ocsflux/ocsflux/agents"
)

// runInfluxDB runs the InfluxDB publisher agent.
func runInfluxDB(ctx context.Context, cfg *agentConfig, rt agents.Config) error {
	_, _ = ctx, rt
	return fmt.Errorf("agent-class %s is not wired in yet", cfg.Site.AgentClass)
}
