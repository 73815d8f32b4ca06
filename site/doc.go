// Package site loads an OCS site config file (SCF) and resolves an agent's
// configuration from it and the command line exactly as OCS does
// (ocs.site_config and ocs-agent-cli; ocs-protocol.md §9 and §10.2):
//
//   - which file: --site-file, or $OCS_CONFIG_DIR/<--site or default>.yaml
//     (--site none: no file);
//   - which host: --site-host, else the machine's host name, then
//     "localhost"; the host's wamp_server/wamp_http/wamp_realm replace the
//     hub's;
//   - which instance: --instance-id, or the only instance of --agent-class;
//   - the instance's arguments, typed as PyYAML types YAML 1.1 scalars and
//     written as Python's str() writes them, merged with the command line
//     by OCS's group rules, then parsed with argparse's rules (long-option
//     prefixes, "--f v" and "--f=v", last occurrence wins) against the
//     site options and the agent class's options;
//   - the final site option values (merged arguments, then host, then hub,
//     then default), each with its Source.
//
// Errors are typed where the caller branches on them: *UsageError (exit 2),
// *MissingInstanceIDError (exit 1, ocs-agent-cli's message),
// *HelpRequested, *ConfigError (names the file, host, instance and line).
//
// The package reads nothing from the process: Resolve is given the command
// line, a LookupEnv function and the host name. It holds no global state.
// It does not know the agent classes: the caller passes their options as
// Flag tables (agents/influxdb, agents/fakedata), and decides what is
// supported (e.g. the access policy). It does not connect anywhere.
package site
