package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/ocsflux/ocsflux/site"
)

// logLevel is a LOGLEVEL value (the txaio level names the Python agents
// take) and the slog level it maps to.
type logLevel struct {
	name string
	slog slog.Level
}

// Levels below Debug and above Error, for txaio's trace and critical.
const (
	levelTrace    = slog.LevelDebug - 4
	levelCritical = slog.LevelError + 4
)

// parseLogLevel reads $LOGLEVEL (default info): critical, error, warn,
// info, debug or trace, in any case.
func parseLogLevel(lookup func(string) (string, bool)) (logLevel, site.Source, error) {
	v, ok := lookup("LOGLEVEL")
	if !ok || v == "" {
		return logLevel{"info", slog.LevelInfo}, site.SourceDefault, nil
	}
	name := strings.ToLower(strings.TrimSpace(v))
	levels := map[string]slog.Level{
		"critical": levelCritical, "error": slog.LevelError, "warn": slog.LevelWarn,
		"info": slog.LevelInfo, "debug": slog.LevelDebug, "trace": levelTrace,
	}
	l, ok := levels[name]
	if !ok {
		return logLevel{}, "", fmt.Errorf("LOGLEVEL=%q: not a log level (use critical, error, warn, info, debug or trace)", v)
	}
	return logLevel{name, l}, site.SourceEnvironment, nil
}
