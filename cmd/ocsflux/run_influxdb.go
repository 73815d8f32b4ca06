package main

import (
	"context"

	"github.com/ocsflux/ocsflux/agents"
	"github.com/ocsflux/ocsflux/agents/influxdb"
)

// runInfluxDB runs the InfluxDB publisher agent.
func runInfluxDB(ctx context.Context, cfg *agentConfig, rt agents.Config) error {
	a, err := newInfluxDBAgent(rt, *cfg.InfluxDB, cfg.LookupEnv)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// newInfluxDBAgent builds the InfluxDB publisher agent.
func newInfluxDBAgent(rt agents.Config, opts influxdb.Options, lookupEnv func(string) (string, bool)) (*influxdb.Agent, error) {
	return influxdb.New(influxdb.Config{Agent: rt, Options: opts, LookupEnv: lookupEnv})
}
