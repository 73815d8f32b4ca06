package main

import (
	"context"
	"fmt"
)

// run runs the configured agent until ctx is cancelled or the agent gives
// up, and is the one place where the agent runtime is wired into the
// command. cfg has been resolved, validated and logged.
func run(ctx context.Context, cfg *agentConfig) error {
	_ = ctx
	return fmt.Errorf("running agent-class %s is not wired in yet", cfg.Site.AgentClass)
}
