package site

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DefaultCrossbarTimeout is the crossbar_timeout of a host entry without
// one, in seconds.
const DefaultCrossbarTimeout = 10

// SiteConfig is a loaded OCS site config file (SCF). Load checks what OCS
// checks when it loads a file (a hub mapping, a mapping of hosts each with
// agent-instances); the entries of a host are checked when the host is
// looked up with Host or FindHost, as OCS does, so a broken entry of another
// host does not stop an agent.
type SiteConfig struct {
	File string // absolute path
	Hub  Hub

	hosts []rawHost // in file order
}

// Hub is the hub section: how to reach the WAMP router. An empty string is
// a key that is absent (or null).
type Hub struct {
	WampServer      string // wamp_server: the router's WebSocket URL (--site-hub)
	WampHTTP        string // wamp_http: the HTTP caller bridge URL (--site-http)
	WampRealm       string // wamp_realm (--site-realm)
	AddressRoot     string // address_root (--address-root)
	RegistryAddress string // registry_address (deprecated in OCS; ignored)
	AccessPolicy    string // access_policy (--access-policy)
}

// Host is one entry of hosts. Its wamp_* keys, where present, replace the
// hub's.
type Host struct {
	Name                string
	WampServer          string
	WampHTTP            string
	WampRealm           string
	LogDir              string // log-dir
	CrossbarTimeout     int    // crossbar_timeout in seconds; DefaultCrossbarTimeout if absent
	HasCrossbarTimeout  bool   // the entry sets crossbar_timeout
	Instances           []Instance
	Warnings            []string // keys OCS ignores although they look meaningful
	file                string
	line                int
	crossbarTimeoutLine int
}

// Instance is one entry of a host's agent-instances.
type Instance struct {
	InstanceID string // instance-id
	AgentClass string // agent-class ("" if absent)
	Manage     string // manage (used by OCS's HostManager only)
	// Arguments is the entry's arguments list flattened and converted to
	// text exactly as Python's str() converts the values PyYAML loads
	// (8086 → "8086", True/yes/on → "True", 1.0e+3 → "1000.0", ~ → "None").
	Arguments []string
	Line      int // line of the entry in the file
}

type rawHost struct {
	name string
	val  any
	line int
}

// Load reads and checks the SCF at path (relative paths are relative to the
// working directory).
func Load(path string) (*SiteConfig, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &ConfigError{File: path, Msg: err.Error()}
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		msg := "cannot read the file: " + err.Error()
		switch {
		case errors.Is(err, fs.ErrNotExist):
			msg = "file does not exist"
		case errors.Is(err, fs.ErrPermission):
			msg = "permission denied reading the file"
		}
		return nil, &ConfigError{File: abs, Msg: msg}
	}
	return Parse(abs, data)
}

// Parse checks the SCF text data; file names it in errors and becomes
// SiteConfig.File.
func Parse(file string, data []byte) (*SiteConfig, error) {
	fail := func(line int, format string, args ...any) error {
		return &ConfigError{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fail(0, "the file is empty")
		}
		return nil, fail(0, "invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			return nil, fail(0, "invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		return nil, fail(line, "invalid YAML: expected a single document, found another one")
	}
	top, err := pyValue(&doc)
	if err != nil {
		var ye *yamlError
		if errors.As(err, &ye) {
			return nil, fail(ye.line, "invalid YAML: %s", ye.msg)
		}
		return nil, fail(0, "invalid YAML: %v", err)
	}
	if top == nil {
		return nil, fail(0, "the file is empty")
	}
	m, ok := top.(*yMap)
	if !ok {
		return nil, fail(1, "expected a mapping with hub and hosts at the top level, found %s", describe(top))
	}
	cfg := &SiteConfig{File: file}

	hubE, ok := m.entry("hub")
	if !ok {
		return nil, fail(0, "no hub section")
	}
	hub, ok := hubE.val.(*yMap)
	if !ok {
		return nil, fail(hubE.line, "hub: expected a mapping, found %s", describe(hubE.val))
	}
	for _, k := range []struct {
		key string
		dst *string
	}{
		{"wamp_server", &cfg.Hub.WampServer},
		{"wamp_http", &cfg.Hub.WampHTTP},
		{"wamp_realm", &cfg.Hub.WampRealm},
		{"address_root", &cfg.Hub.AddressRoot},
		{"registry_address", &cfg.Hub.RegistryAddress},
		{"access_policy", &cfg.Hub.AccessPolicy},
	} {
		s, line, err := optString(hub, k.key)
		if err != nil {
			return nil, fail(line, "hub.%s: %v", k.key, err)
		}
		*k.dst = s
	}

	hostsE, ok := m.entry("hosts")
	if !ok || hostsE.val == nil {
		return cfg, nil // OCS accepts this; the host lookup then fails
	}
	hosts, ok := hostsE.val.(*yMap)
	if !ok {
		return nil, fail(hostsE.line, "hosts: expected a mapping of host names, found %s", describe(hostsE.val))
	}
	for _, e := range hosts.entries {
		name, ok := e.key.(string)
		if !ok {
			continue // OCS compares host names as strings; this key can never match
		}
		h, ok := e.val.(*yMap)
		if !ok {
			return nil, &ConfigError{File: file, Host: name, Line: e.line,
				Msg: fmt.Sprintf("expected a mapping with agent-instances, found %s", describe(e.val))}
		}
		if _, ok := h.get("agent-instances"); !ok {
			return nil, &ConfigError{File: file, Host: name, Line: e.line, Msg: "no agent-instances list"}
		}
		cfg.hosts = append(cfg.hosts, rawHost{name: name, val: h, line: e.line})
	}
	return cfg, nil
}

// HostNames returns the names of the host entries, in file order.
func (c *SiteConfig) HostNames() []string {
	out := make([]string, len(c.hosts))
	for i, h := range c.hosts {
		out[i] = h.name
	}
	return out
}

// FindHost returns the first of candidates that is a host entry (OCS tries
// [--site-host or the machine's host name, "localhost"]).
func (c *SiteConfig) FindHost(candidates ...string) (*Host, error) {
	for _, name := range candidates {
		for _, h := range c.hosts {
			if h.name == name {
				return c.Host(name)
			}
		}
	}
	quoted := make([]string, len(candidates))
	for i, s := range candidates {
		quoted[i] = PyStrRepr(s)
	}
	have := "it has none"
	if names := c.HostNames(); len(names) > 0 {
		for i, s := range names {
			names[i] = PyStrRepr(s)
		}
		have = "it has " + strings.Join(names, ", ")
	}
	return nil, &ConfigError{File: c.File,
		Msg: fmt.Sprintf("no entry in hosts for [%s] (%s); use --site-host to choose one",
			strings.Join(quoted, ", "), have)}
}

// Host returns the host entry name, with its agent-instances checked:
// every entry a mapping with a string instance-id, no instance-id twice,
// arguments a list.
func (c *SiteConfig) Host(name string) (*Host, error) {
	var raw *rawHost
	for i := range c.hosts {
		if c.hosts[i].name == name {
			raw = &c.hosts[i]
		}
	}
	if raw == nil {
		return nil, &ConfigError{File: c.File, Msg: fmt.Sprintf("no entry %s in hosts", PyStrRepr(name))}
	}
	fail := func(line int, instance, format string, args ...any) error {
		return &ConfigError{File: c.File, Host: name, Instance: instance, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	m := raw.val.(*yMap)
	h := &Host{Name: name, CrossbarTimeout: DefaultCrossbarTimeout, file: c.File, line: raw.line}
	for _, k := range []struct {
		key string
		dst *string
	}{
		{"wamp_server", &h.WampServer},
		{"wamp_http", &h.WampHTTP},
		{"wamp_realm", &h.WampRealm},
		{"log-dir", &h.LogDir},
	} {
		s, line, err := optString(m, k.key)
		if err != nil {
			return nil, fail(line, "", "%s: %v", k.key, err)
		}
		*k.dst = s
	}
	if e, ok := m.entry("crossbar_timeout"); ok {
		n, isInt := e.val.(*big.Int)
		if !isInt || !n.IsInt64() || n.Int64() < -1<<31 || n.Int64() > 1<<31-1 {
			return nil, fail(e.line, "", "crossbar_timeout: expected an integer number of seconds, found %s", describe(e.val))
		}
		h.CrossbarTimeout = int(n.Int64())
		h.HasCrossbarTimeout = true
		h.crossbarTimeoutLine = e.line
	}
	if e, ok := m.entry("crossbar-timeout"); ok {
		h.Warnings = append(h.Warnings, fmt.Sprintf(
			"site file %s: host %q: line %d: key crossbar-timeout is ignored, as by OCS, which reads crossbar_timeout (with an underscore); crossbar timeout is %d s",
			c.File, name, e.line, h.CrossbarTimeout))
	}

	instE, _ := m.entry("agent-instances")
	list, ok := instE.val.([]any)
	if !ok {
		return nil, fail(instE.line, "", "agent-instances: expected a list, found %s", describe(instE.val))
	}
	seen := map[string]int{}
	for i, v := range list {
		im, ok := v.(*yMap)
		if !ok {
			return nil, fail(instE.line, "", "agent-instances[%d]: expected a mapping with instance-id, found %s", i, describe(v))
		}
		inst := Instance{Line: im.line}
		idE, ok := im.entry("instance-id")
		if !ok {
			return nil, fail(im.line, "", "agent-instances[%d]: no instance-id", i)
		}
		id, ok := idE.val.(string)
		if !ok {
			return nil, fail(idE.line, "", "agent-instances[%d]: instance-id must be a string, found %s (quote it)", i, describe(idE.val))
		}
		inst.InstanceID = id
		if first, dup := seen[id]; dup {
			return nil, fail(idE.line, id, "instance-id appears twice in agent-instances (entries %d and %d); OCS would silently use the first", first, i)
		}
		seen[id] = i
		if e, ok := im.entry("agent-class"); ok && e.val != nil {
			cls, ok := e.val.(string)
			if !ok {
				return nil, fail(e.line, id, "agent-class must be a string, found %s", describe(e.val))
			}
			inst.AgentClass = cls
		}
		if e, ok := im.entry("manage"); ok && e.val != nil {
			inst.Manage = pyStr(e.val)
		}
		if e, ok := im.entry("arguments"); ok {
			args, ok := e.val.([]any)
			if !ok {
				return nil, fail(e.line, id, "arguments must be a list (of strings or of lists like [--port, 8086]), found %s", describe(e.val))
			}
			flat, err := flattenArgs(args)
			if err != nil {
				return nil, fail(e.line, id, "arguments%s", err)
			}
			inst.Arguments = flat
		}
		h.Instances = append(h.Instances, inst)
	}
	return h, nil
}

// Instance returns the entry with instance-id id.
func (h *Host) Instance(id string) (*Instance, error) {
	for i := range h.Instances {
		if h.Instances[i].InstanceID == id {
			return &h.Instances[i], nil
		}
	}
	ids := make([]string, len(h.Instances))
	for i, inst := range h.Instances {
		ids[i] = inst.InstanceID
	}
	sort.Strings(ids)
	known := "it has no agent-instances"
	if len(ids) > 0 {
		known = "known instance-ids: " + strings.Join(ids, ", ")
	}
	return nil, &ConfigError{File: h.file, Host: h.Name,
		Msg: fmt.Sprintf("no agent-instances entry with instance-id %q (%s)", id, known)}
}

// InstanceByClass returns the only entry whose agent-class is class.
func (h *Host) InstanceByClass(class string) (*Instance, error) {
	var found *Instance
	var ids []string
	for i := range h.Instances {
		if h.Instances[i].AgentClass == class {
			if found == nil {
				found = &h.Instances[i]
			}
			ids = append(ids, h.Instances[i].InstanceID)
		}
	}
	switch {
	case len(ids) > 1:
		return nil, &ConfigError{File: h.file, Host: h.Name,
			Msg: fmt.Sprintf("several agent-instances have agent-class %s (%s); choose one with --instance-id", class, strings.Join(ids, ", "))}
	case found == nil:
		return nil, &ConfigError{File: h.file, Host: h.Name,
			Msg: fmt.Sprintf("no agent-instances entry has agent-class %s; give --instance-id", class)}
	}
	return found, nil
}

// flattenArgs flattens nested lists and converts every element with
// Python's str(). A mapping inside arguments is refused (Python would pass
// its repr as one argument).
func flattenArgs(list []any) ([]string, error) {
	var out []string
	var walk func(prefix string, l []any) error
	walk = func(prefix string, l []any) error {
		for i, v := range l {
			where := fmt.Sprintf("%s[%d]", prefix, i)
			switch v := v.(type) {
			case []any:
				if err := walk(where, v); err != nil {
					return err
				}
			case *yMap:
				return fmt.Errorf("%s: found a mapping %s; arguments are strings or lists of strings", where, pyStr(v))
			default:
				out = append(out, pyStr(v))
			}
		}
		return nil
	}
	if err := walk("", list); err != nil {
		return nil, err
	}
	return out, nil
}

// optString returns the string value of key k: "" if absent or null, an
// error for other types.
func optString(m *yMap, k string) (string, int, error) {
	e, ok := m.entry(k)
	if !ok || e.val == nil {
		return "", e.line, nil
	}
	s, ok := e.val.(string)
	if !ok {
		return "", e.line, fmt.Errorf("expected a string, found %s", describe(e.val))
	}
	return s, e.line, nil
}

// describe names a value's YAML type and shows it, for error messages.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool " + pyStr(v)
	case *big.Int:
		return "int " + pyStr(v)
	case float64:
		return "float " + pyStr(v)
	case string:
		return "string " + PyStrRepr(v)
	case pyTimestamp:
		return "timestamp " + v.text
	case []any:
		return "a list"
	case *yMap:
		return "a mapping"
	}
	return fmt.Sprintf("%T", v)
}
