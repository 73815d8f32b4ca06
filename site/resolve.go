package site

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Request is what Resolve works from. Nothing is read from the process:
// the environment and the host name are passed in.
type Request struct {
	// Args is the real command line (without the program and command name).
	Args []string
	// LookupEnv reads an environment variable (os.LookupEnv); nil means an
	// empty environment. Read: OCS_CONFIG_DIR, and INSTANCE_ID, SITE_HUB,
	// SITE_HTTP, SITE_HOST, CROSSBAR_TIMEOUT as ocs-agent-cli reads them.
	LookupEnv func(string) (string, bool)
	// Hostname is the machine's host name (os.Hostname), tried before
	// "localhost" when --site-host is not given.
	Hostname string
	// AgentFlags returns the options of an agent class, bound to where the
	// caller wants the values, or an error if the class is not available.
	AgentFlags func(agentClass string) ([]Flag, error)
	// CommandFlags are further options the caller accepts (e.g.
	// --print-config), parsed with the rest.
	CommandFlags []Flag
}

// Setting is the final value of one option and where it came from.
type Setting struct {
	Name   string `json:"name"`           // option name without "--"
	Value  any    `json:"value"`          // string, int, float64, bool, int64, or nil for "not set" (Python None)
	Source Source `json:"source"`         // default, scf, command line, environment
	From   string `json:"from,omitempty"` // detail: "hosts.ocs-docker.wamp_server", "$SITE_HUB", ...
}

// Resolved is the outcome of Resolve: the site config entry an agent runs
// as, the final site option values (§9.4), and the merged arguments, which
// have also been parsed into the agent's flags.
type Resolved struct {
	Config   *SiteConfig // nil with --site none
	Host     *Host       // nil with --site none
	Instance *Instance   // nil with --site none

	AgentClass   string
	InstanceID   string
	AgentAddress string // AddressRoot + "." + InstanceID

	SiteFile        string // absolute path of the SCF; "" with --site none
	HostName        string // the hosts entry used; "" with --site none
	WampServer      string // --site-hub
	WampHTTP        string // --site-http; "" if none
	WampRealm       string // --site-realm
	AddressRoot     string // --address-root
	AccessPolicy    string // --access-policy; "" if none (policy none)
	LogDir          string // --log-dir; "" if none
	WorkingDir      string // --working-dir; "" if none
	CrossbarTimeout int    // --crossbar-timeout, seconds; 0 means never give up

	// Arguments is the instance's arguments merged with the command line
	// (§9.5), as parsed.
	Arguments []Arg
	// SiteSettings are the site options, AgentSettings the agent class's
	// options, CommandSettings the request's CommandFlags, each in
	// definition order.
	SiteSettings    []Setting
	AgentSettings   []Setting
	CommandSettings []Setting
	// Warnings are things OCS silently ignores or reads differently.
	Warnings []string
}

// Resolve does what ocs-agent-cli and ocs.site_config.parse_args do
// before an agent starts: environment fallbacks, choice of the site file,
// host and instance, merging the instance's arguments with the command line,
// parsing them with the agent's options, and the final site option values.
//
// Errors: *HelpRequested; *UsageError (bad arguments: exit status 2);
// *MissingInstanceIDError (exit status 1); *ConfigError for the rest.
func Resolve(req Request) (*Resolved, error) {
	lookup := req.LookupEnv
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	if IsHelpRequest(req.Args) {
		return nil, &HelpRequested{}
	}
	cmdline := Args(req.Args, SourceCommandLine, "command line")

	// ocs-agent-cli: environment variables stand in for missing flags.
	pre, _, err := preParse(cmdline)
	if err != nil {
		return nil, err
	}
	for _, fb := range envFallbacks() {
		if pre.given(fb.flag) {
			continue
		}
		if v, ok := lookup(fb.env); ok && v != "" {
			from := "$" + fb.env
			cmdline = append(cmdline,
				Arg{Text: "--" + fb.flag, Source: SourceEnvironment, From: from},
				Arg{Text: v, Source: SourceEnvironment, From: from})
		}
	}
	pre, sv, err := preParse(cmdline)
	if err != nil {
		return nil, err
	}
	if !pre.given(OptInstanceID) && !pre.given(OptAgentClass) {
		return nil, &MissingInstanceIDError{}
	}

	r := &Resolved{}
	var instanceArgs []Arg
	var agentClass string
	if pre.given(OptSite) && sv.site == "none" {
		if pre.given(OptSiteFile) {
			return nil, usagef("--site none and --site-file cannot be used together")
		}
		if !pre.given(OptInstanceID) {
			return nil, &MissingInstanceIDError{}
		}
		if !pre.given(OptAgentClass) {
			return nil, &ConfigError{Msg: "--site none: give --agent-class (there is no site config to read it from)"}
		}
		r.InstanceID, agentClass = sv.instanceID, sv.agentClass
	} else {
		file, err := chooseFile(pre, sv, lookup)
		if err != nil {
			return nil, err
		}
		if r.Config, err = Load(file); err != nil {
			return nil, err
		}
		r.SiteFile = r.Config.File
		candidates := []string{"localhost"}
		switch {
		case pre.given(OptSiteHost):
			candidates = []string{sv.siteHost, "localhost"}
		case req.Hostname != "":
			candidates = []string{req.Hostname, "localhost"}
		}
		if r.Host, err = r.Config.FindHost(candidates...); err != nil {
			return nil, err
		}
		r.HostName = r.Host.Name
		r.Warnings = append(r.Warnings, r.Host.Warnings...)
		if pre.given(OptInstanceID) {
			r.Instance, err = r.Host.Instance(sv.instanceID)
		} else {
			r.Instance, err = r.Host.InstanceByClass(sv.agentClass)
		}
		if err != nil {
			return nil, err
		}
		r.InstanceID = r.Instance.InstanceID
		from := fmt.Sprintf("hosts.%s instance %s arguments", r.HostName, r.InstanceID)
		instanceArgs = Args(r.Instance.Arguments, SourceSCF, from)
		if !pre.given(OptInstanceID) {
			// OCS appends the instance-id it found to the instance's arguments.
			instanceArgs = append(instanceArgs,
				Arg{Text: "--" + OptInstanceID, Source: SourceSCF, From: from},
				Arg{Text: r.InstanceID, Source: SourceSCF, From: from})
		}
		agentClass = r.Instance.AgentClass
		if pre.given(OptAgentClass) {
			if agentClass != "" && agentClass != sv.agentClass {
				r.Warnings = append(r.Warnings, fmt.Sprintf(
					"instance %q has agent-class %s; running it as %s as --agent-class says",
					r.InstanceID, agentClass, sv.agentClass))
			}
			agentClass = sv.agentClass
		}
	}
	cfgErr := func(msg string) error {
		return &ConfigError{File: r.SiteFile, Host: r.HostName, Instance: r.InstanceID, Msg: msg}
	}
	if strings.Contains(r.InstanceID, ".") {
		return nil, cfgErr("instance-id must not contain '.' (it becomes one component of the agent's WAMP address)")
	}
	if r.InstanceID == "" {
		return nil, cfgErr("instance-id is empty")
	}
	if agentClass == "" {
		return nil, cfgErr("the instance has no agent-class; give --agent-class")
	}
	r.AgentClass = agentClass
	var agentFlags []Flag
	if req.AgentFlags != nil {
		if agentFlags, err = req.AgentFlags(agentClass); err != nil {
			return nil, cfgErr(err.Error())
		}
	}

	// Merge and parse with everything the agent accepts (agent options
	// first, as OCS adds them to the parser first).
	r.Arguments = MergeArgs(instanceArgs, cmdline)
	var full siteValues
	siteF := siteFlags(&full)
	all := make([]*Flag, 0, len(agentFlags)+len(siteF)+len(req.CommandFlags))
	for i := range agentFlags {
		all = append(all, &agentFlags[i])
	}
	for i := range siteF {
		all = append(all, &siteF[i])
	}
	for i := range req.CommandFlags {
		all = append(all, &req.CommandFlags[i])
	}
	p, err := newArgParser(all)
	if err != nil {
		return nil, fmt.Errorf("agent class %s: %w", agentClass, err)
	}
	res, err := p.parse(r.Arguments, false)
	if err != nil {
		return nil, err
	}

	if err := r.finishSite(pre, res); err != nil {
		return nil, err
	}
	r.AgentSettings = settings(agentFlags, res)
	r.CommandSettings = settings(req.CommandFlags, res)
	r.Warnings = append(r.Warnings, boolWarnings(agentFlags, res)...)
	return r, nil
}

// envFallbacks are the environment variables ocs-agent-cli turns into
// flags when the flag is not on the command line, in the order it appends
// them.
func envFallbacks() []struct{ flag, env string } {
	return []struct{ flag, env string }{
		{OptInstanceID, "INSTANCE_ID"},
		{OptSiteHub, "SITE_HUB"},
		{OptSiteHTTP, "SITE_HTTP"},
		{OptSiteHost, "SITE_HOST"},
		{OptCrossbarTimeout, "CROSSBAR_TIMEOUT"},
	}
}

// preParse reads the site options from the real command line, ignoring
// everything else (OCS's pre-parser).
func preParse(args []Arg) (*parseResult, *siteValues, error) {
	var v siteValues
	fs := siteFlags(&v)
	ptrs := make([]*Flag, len(fs))
	for i := range fs {
		ptrs[i] = &fs[i]
	}
	p, err := newArgParser(ptrs)
	if err != nil {
		return nil, nil, err
	}
	res, err := p.parse(args, true)
	if err != nil {
		return nil, nil, err
	}
	return res, &v, nil
}

// chooseFile returns the SCF path per §9.2.
func chooseFile(pre *parseResult, sv *siteValues, lookup func(string) (string, bool)) (string, error) {
	if pre.given(OptSiteFile) {
		if pre.given(OptSite) {
			return "", usagef("--site and --site-file cannot be used together")
		}
		return sv.siteFile, nil
	}
	name := "default"
	if pre.given(OptSite) {
		name = sv.site
	}
	dir, ok := lookup("OCS_CONFIG_DIR")
	if !ok || dir == "" {
		return "", &ConfigError{Msg: fmt.Sprintf(
			"OCS_CONFIG_DIR is not set: set it to the directory that holds %s.yaml, or give --site-file", name)}
	}
	return filepath.Join(dir, name+".yaml"), nil
}

// finishSite computes the final site option values (§9.4): merged
// arguments, then the host entry, then the hub, then the default.
func (r *Resolved) finishSite(pre, res *parseResult) error {
	var hub Hub
	var host Host
	if r.Config != nil {
		hub, host = r.Config.Hub, *r.Host
	}
	hostKey := func(k string) string { return fmt.Sprintf("hosts.%s.%s", r.HostName, k) }

	// pick returns the first of: merged arguments, host value, hub value.
	pick := func(opt, hostVal, hostName, hubVal, hubName string) (string, Setting, bool) {
		if occ, ok := res.last[opt]; ok {
			return occ.value, Setting{Name: opt, Value: occ.value, Source: occ.key.Source, From: occ.key.From}, true
		}
		if hostVal != "" {
			return hostVal, Setting{Name: opt, Value: hostVal, Source: SourceSCF, From: hostKey(hostName)}, true
		}
		if hubVal != "" {
			return hubVal, Setting{Name: opt, Value: hubVal, Source: SourceSCF, From: "hub." + hubName}, true
		}
		return "", Setting{Name: opt, Source: SourceDefault}, false
	}
	var ok bool
	var sHub, sHTTP, sRealm, sRoot, sReg, sPolicy, sLog, sWork Setting
	r.WampServer, sHub, ok = pick(OptSiteHub, host.WampServer, "wamp_server", hub.WampServer, "wamp_server")
	if !ok {
		return r.missing("the WAMP router URL", "hub.wamp_server", "--site-hub")
	}
	r.WampHTTP, sHTTP, _ = pick(OptSiteHTTP, host.WampHTTP, "wamp_http", hub.WampHTTP, "wamp_http")
	r.WampRealm, sRealm, ok = pick(OptSiteRealm, host.WampRealm, "wamp_realm", hub.WampRealm, "wamp_realm")
	if !ok {
		return r.missing("the WAMP realm", "hub.wamp_realm", "--site-realm")
	}
	r.AddressRoot, sRoot, ok = pick(OptAddressRoot, "", "", hub.AddressRoot, "address_root")
	if !ok {
		return r.missing("the address root", "hub.address_root", "--address-root")
	}
	_, sReg, _ = pick(OptRegistryAddress, "", "", "", "") // deprecated: OCS ignores hub.registry_address too
	r.AccessPolicy, sPolicy, _ = pick(OptAccessPolicy, "", "", hub.AccessPolicy, "access_policy")
	r.LogDir, sLog, _ = pick(OptLogDir, host.LogDir, "log-dir", "", "")
	r.WorkingDir, sWork, _ = pick(OptWorkingDir, "", "", "", "")

	sTimeout := Setting{Name: OptCrossbarTimeout, Value: DefaultCrossbarTimeout, Source: SourceDefault}
	r.CrossbarTimeout = DefaultCrossbarTimeout
	if occ, ok := res.last[OptCrossbarTimeout]; ok {
		n, _ := ParsePyInt(occ.value) // checked by the parser
		r.CrossbarTimeout = int(n)
		sTimeout = Setting{Name: OptCrossbarTimeout, Value: r.CrossbarTimeout, Source: occ.key.Source, From: occ.key.From}
	} else if host.HasCrossbarTimeout {
		r.CrossbarTimeout = host.CrossbarTimeout
		sTimeout = Setting{Name: OptCrossbarTimeout, Value: r.CrossbarTimeout, Source: SourceSCF, From: hostKey("crossbar_timeout")}
	}

	// The options that choose the file, host and instance come from the
	// real command line (and environment) only.
	fromPre := func(opt string, used any) Setting {
		if occ, ok := pre.last[opt]; ok {
			return Setting{Name: opt, Value: used, Source: occ.key.Source, From: occ.key.From}
		}
		return Setting{Name: opt, Source: SourceDefault}
	}
	sSite := fromPre(OptSite, preValue(pre, OptSite))
	sFile := fromPre(OptSiteFile, r.SiteFile)
	if r.SiteFile != "" && !pre.given(OptSiteFile) {
		from := "$OCS_CONFIG_DIR/default.yaml"
		src := SourceEnvironment
		if pre.given(OptSite) {
			from = "$OCS_CONFIG_DIR/" + preValue(pre, OptSite).(string) + ".yaml"
		}
		sFile = Setting{Name: OptSiteFile, Value: r.SiteFile, Source: src, From: from}
	}
	sSiteHost := fromPre(OptSiteHost, preValue(pre, OptSiteHost))
	sID := fromPre(OptInstanceID, r.InstanceID)
	if !pre.given(OptInstanceID) {
		sID = Setting{Name: OptInstanceID, Value: r.InstanceID, Source: SourceSCF,
			From: fmt.Sprintf("hosts.%s: the only instance of agent-class %s", r.HostName, r.AgentClass)}
	}
	sClass := fromPre(OptAgentClass, r.AgentClass)
	if !pre.given(OptAgentClass) {
		sClass = Setting{Name: OptAgentClass, Value: r.AgentClass, Source: SourceSCF,
			From: fmt.Sprintf("hosts.%s instance %s agent-class", r.HostName, r.InstanceID)}
	}
	for _, opt := range []string{OptSite, OptSiteFile, OptSiteHost, OptInstanceID, OptAgentClass} {
		occ, ok := res.last[opt]
		if ok && occ.key.Source == SourceSCF && (!pre.given(opt) || pre.last[opt].value != occ.value) &&
			!(opt == OptInstanceID && occ.value == r.InstanceID) {
			r.Warnings = append(r.Warnings, fmt.Sprintf(
				"instance %q arguments set --%s %s; ignored: only the real command line chooses the site file, host, instance and class",
				r.InstanceID, opt, occ.value))
		}
	}

	r.AgentAddress = r.AddressRoot + "." + r.InstanceID
	r.SiteSettings = []Setting{sSite, sFile, sSiteHost, sHub, sHTTP, sRealm, sID, sRoot, sReg, sLog, sWork,
		sTimeout, sPolicy, sClass}
	return nil
}

func preValue(pre *parseResult, opt string) any {
	if occ, ok := pre.last[opt]; ok {
		return occ.value
	}
	return nil
}

func (r *Resolved) missing(what, key, flag string) error {
	msg := fmt.Sprintf("--site none: %s is not set: give %s", what, flag)
	if r.Config != nil {
		msg = fmt.Sprintf("%s is not set: the site config has no %s (nor hosts.%s.%s), and %s was not given",
			what, key, r.HostName, strings.TrimPrefix(key, "hub."), flag)
		if key == "hub.address_root" {
			msg = fmt.Sprintf("%s is not set: the site config has no %s, and %s was not given", what, key, flag)
		}
	}
	return &ConfigError{File: r.SiteFile, Host: r.HostName, Instance: r.InstanceID, Msg: msg}
}

// settings returns the final values of flags: the last occurrence in the
// merged arguments, else the flag's default.
func settings(flags []Flag, res *parseResult) []Setting {
	out := make([]Setting, 0, len(flags))
	for _, f := range flags {
		s := Setting{Name: f.Name, Value: f.Value.Get(), Source: SourceDefault}
		if occ, ok := res.last[f.Name]; ok {
			s.Source, s.From = occ.key.Source, occ.key.From
		}
		out = append(out, s)
	}
	return out
}

// boolWarnings warns about bool flags whose final value is a false word
// that Python's type=bool would have read as true (any non-empty string).
func boolWarnings(flags []Flag, res *parseResult) []string {
	var out []string
	for _, f := range flags {
		occ, ok := res.last[f.Name]
		if !ok || f.Kind() != KindBool || !occ.hasValue || occ.value == "" {
			continue
		}
		if b, err := ParseBool(occ.value); err == nil && !b {
			out = append(out, fmt.Sprintf(
				"--%s %s: ocsflux reads this as false; the Python agent reads every non-empty value, including %s, as true",
				f.Name, occ.value, PyStrRepr(occ.value)))
		}
	}
	return out
}
