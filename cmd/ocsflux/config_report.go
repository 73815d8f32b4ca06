package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"

	"github.com/ocsflux/ocsflux/agents/influxdb"
	"github.com/ocsflux/ocsflux/site"
)

// configReport is the resolved configuration as it is logged at start-up
// and printed by --print-config, with secrets redacted.
type configReport struct {
	version      string
	agentClass   string
	instanceID   string
	agentAddress string
	siteFile     string
	host         string
	site         []site.Setting
	agent        []site.Setting
	credentials  []site.Setting
	logLevel     site.Setting
	arguments    []string
	warnings     []string
}

// redacted replaces secret values.
const redacted = "***"

func newConfigReport(cfg *agentConfig, levelSource site.Source) *configReport {
	r := cfg.Site
	rep := &configReport{
		version:      cfg.Version,
		agentClass:   r.AgentClass,
		instanceID:   r.InstanceID,
		agentAddress: r.AgentAddress,
		siteFile:     r.SiteFile,
		host:         r.HostName,
		site:         redactURLs(r.SiteSettings),
		agent:        redactURLs(r.AgentSettings),
		logLevel:     site.Setting{Name: "LOGLEVEL", Value: cfg.LogLevel.name, Source: levelSource},
		arguments:    redactArgs(site.Texts(r.Arguments)),
		warnings:     r.Warnings,
	}
	if cfg.InfluxDB != nil {
		names := influxdb.CredentialVariables()
		if cfg.InfluxDB.V2 {
			names = influxdb.V2Variables()
		}
		for _, name := range names {
			s := site.Setting{Name: name, Source: site.SourceDefault}
			if v, ok := cfg.LookupEnv(name); ok {
				s.Value, s.Source = redacted, site.SourceEnvironment
				if influxdb.ShowVariable(name) {
					s.Value = redactURL(v)
				}
			}
			rep.credentials = append(rep.credentials, s)
		}
	}
	return rep
}

// redactURLs hides the password of any URL-looking string value.
func redactURLs(ss []site.Setting) []site.Setting {
	out := make([]site.Setting, len(ss))
	for i, s := range ss {
		switch v := s.Value.(type) {
		case string:
			s.Value = redactURL(v)
		case []string:
			s.Value = redactArgs(v)
		}
		out[i] = s
	}
	return out
}

func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(k, "-") {
			out[i] = k + "=" + redactURL(v)
		} else {
			out[i] = redactURL(a)
		}
	}
	return out
}

// redactURL replaces the password in a URL's user information.
func redactURL(s string) string {
	if !strings.Contains(s, "@") || !strings.Contains(s, "://") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		// Not parseable: hide everything between "://" and the last "@".
		i, j := strings.Index(s, "://")+3, strings.LastIndex(s, "@")
		if j > i {
			return s[:i] + redacted + s[j:]
		}
		return s
	}
	if u.User == nil {
		return s
	}
	if _, has := u.User.Password(); !has {
		return s
	}
	user := url.User(u.User.Username()).String()
	u.User = nil
	prefix := u.Scheme + "://"
	return prefix + user + ":" + redacted + "@" + strings.TrimPrefix(u.String(), prefix)
}

// orderedObject is a JSON object that keeps its key order.
type orderedObject []keyValue

type keyValue struct {
	key   string
	value any
}

func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := marshal(kv.key)
		if err != nil {
			return nil, err
		}
		v, err := marshal(kv.value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kv.key, err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func settingsObject(ss []site.Setting) orderedObject {
	o := make(orderedObject, 0, len(ss))
	for _, s := range ss {
		v := orderedObject{{"value", s.Value}, {"source", s.Source}}
		if s.From != "" && s.From != string(s.Source) {
			v = append(v, keyValue{"from", s.From})
		}
		o = append(o, keyValue{s.Name, v})
	}
	return o
}

// writeJSON prints the report for --print-config.
func (rep *configReport) writeJSON(w io.Writer) error {
	obj := orderedObject{
		{"ocsflux_version", rep.version},
		{"agent_class", rep.agentClass},
		{"instance_id", rep.instanceID},
		{"agent_address", rep.agentAddress},
		{"site_file", nullIfEmpty(rep.siteFile)},
		{"host", nullIfEmpty(rep.host)},
		{"site_options", settingsObject(rep.site)},
		{"agent_options", settingsObject(rep.agent)},
	}
	if rep.credentials != nil {
		obj = append(obj, keyValue{"credentials", settingsObject(rep.credentials)})
	}
	obj = append(obj,
		keyValue{"log_level", settingsObject([]site.Setting{rep.logLevel})[0].value},
		keyValue{"arguments", rep.arguments},
		keyValue{"warnings", nonNil(rep.warnings)},
	)
	out, err := marshal(obj)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, out, "", "  "); err != nil {
		return err
	}
	b.WriteByte('\n')
	_, err = w.Write(b.Bytes())
	return err
}

// marshal is json.Marshal without HTML escaping ("<instance-id>" stays
// readable).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// log logs the report at info level, one record per value.
func (rep *configReport) log(logger *slog.Logger) {
	logger.Info("ocsflux starting", "version", rep.version, "agent_class", rep.agentClass,
		"instance_id", rep.instanceID, "agent_address", rep.agentAddress,
		"site_file", rep.siteFile, "host", rep.host)
	logSettings := func(kind string, ss []site.Setting) {
		for _, s := range ss {
			attrs := []any{"option", s.Name, "value", s.Value, "source", string(s.Source)}
			if s.From != "" && s.From != string(s.Source) {
				attrs = append(attrs, "from", s.From)
			}
			logger.Info(kind, attrs...)
		}
	}
	logSettings("site option", rep.site)
	logSettings("agent option", rep.agent)
	logSettings("credential variable", rep.credentials)
	logSettings("log level", []site.Setting{rep.logLevel})
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
