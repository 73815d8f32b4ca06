// Command ocsflux runs OCS agents written in Go (the InfluxDB publisher,
// InfluxDBAgent, and FakeDataAgent) as drop-in replacements of the Python
// agents started by ocs-agent-cli.
//
//	ocsflux [agent] [--instance-id ID] [site options] [agent options] [--print-config]
//	ocsflux version
//
// "agent" is the default command, so a docker compose file that runs
// ocs-agent-cli with command: ["--instance-id=influxagent"] works unchanged
// with the ocsflux image.
//
// This package owns the command line: the kong command tree and help, the
// exit statuses (2 for a bad argument, 1 for other start-up failures,
// "--instance-id (or $INSTANCE_ID) not provided. Exiting." when no instance
// is named), LOGLEVEL, the start-up log of the resolved configuration (each
// value with its source, secrets redacted) and --print-config. It does not
// parse the site config or the agent's arguments itself: package site does,
// with the flag tables of agents/influxdb and agents/fakedata, because OCS
// merges the command line with the instance's arguments before parsing.
// Kong chooses the command and prints help; it is given the agent flags
// (generated from the same tables) for help only. Running an agent is the
// job of run (run.go), the one place where the agent runtime is wired in.
// Main takes the process's arguments, environment and host name as an Env,
// so that tests run the whole command in-process.
package main
