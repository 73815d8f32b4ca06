package site

import (
	"fmt"
	"strings"
)

// ConfigError is a problem with the site config file or with what the
// command line asks of it. It names the file, host and instance concerned
// (those that are known) and the line in the file where that helps.
type ConfigError struct {
	File     string // absolute path of the SCF, if one was chosen
	Host     string // host entry, if one was chosen
	Instance string // instance-id, if one was chosen
	Line     int    // line in File, if known
	Msg      string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	if e.File != "" {
		fmt.Fprintf(&b, "site file %s: ", e.File)
	}
	if e.Host != "" {
		fmt.Fprintf(&b, "host %q: ", e.Host)
	}
	if e.Instance != "" {
		fmt.Fprintf(&b, "instance %q: ", e.Instance)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// UsageError is a bad command line (or a bad argument in an instance's
// arguments, which are parsed as command-line arguments): an unknown or
// ambiguous option, a missing or invalid value. OCS agents exit with status
// 2 on these, before connecting anywhere.
type UsageError struct {
	Msg string
}

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// HelpRequested is returned when the arguments ask for help (-h, --help or
// an unambiguous prefix of --help). The caller prints help and exits 0.
type HelpRequested struct{}

func (*HelpRequested) Error() string { return "help requested" }

// MissingInstanceIDError is returned when no instance-id is given on the
// command line or in $INSTANCE_ID (and no --agent-class to find one by).
// Its text is ocs-agent-cli's message; ocs-agent-cli then exits with status 1.
type MissingInstanceIDError struct{}

func (*MissingInstanceIDError) Error() string {
	return "--instance-id (or $INSTANCE_ID) not provided. Exiting."
}
