package site

import "math"

// GroupSite is the help section of the site options, as in OCS.
const GroupSite = "Site Config Options"

// Names of the site options (without "--").
const (
	OptSite            = "site"
	OptSiteFile        = "site-file"
	OptSiteHost        = "site-host"
	OptSiteHub         = "site-hub"
	OptSiteHTTP        = "site-http"
	OptSiteRealm       = "site-realm"
	OptInstanceID      = "instance-id"
	OptAddressRoot     = "address-root"
	OptRegistryAddress = "registry-address"
	OptLogDir          = "log-dir"
	OptWorkingDir      = "working-dir"
	OptCrossbarTimeout = "crossbar-timeout"
	OptAccessPolicy    = "access-policy"
	OptAgentClass      = "agent-class" // ocsflux only
)

// siteValues receives the site options while parsing.
type siteValues struct {
	site, siteFile, siteHost, siteHub, siteHTTP, siteRealm string
	instanceID, addressRoot, registryAddress, logDir       string
	workingDir, accessPolicy, agentClass                   string
	crossbarTimeout                                        int
}

// SiteFlags returns the definitions of the site options that every OCS
// agent accepts (ocs.site_config.add_arguments), plus ocsflux's
// --agent-class, bound to throwaway values. They have no defaults: an
// option that is not given takes its value from the site config (§9.4).
func SiteFlags() []Flag {
	return siteFlags(&siteValues{})
}

func siteFlags(v *siteValues) []Flag {
	str := func(name string, p *string, placeholder, help string) Flag {
		return Flag{Name: name, Value: StringValue(p), Help: help, Group: GroupSite, Placeholder: placeholder}
	}
	return []Flag{
		str(OptSite, &v.site, "NAME",
			"Use the site config $OCS_CONFIG_DIR/NAME.yaml instead of default.yaml. "+
				"--site none uses no site config file: then --site-hub, --site-realm, --address-root, "+
				"--instance-id and --agent-class must be given."),
		str(OptSiteFile, &v.siteFile, "PATH",
			"Use this site config file instead of $OCS_CONFIG_DIR/default.yaml."),
		str(OptSiteHost, &v.siteHost, "HOST",
			"Use this entry of the site config's hosts instead of the machine's host name "+
				"(then localhost). Environment: SITE_HOST."),
		str(OptSiteHub, &v.siteHub, "URL",
			"Override the WAMP router URL (wamp_server). Environment: SITE_HUB."),
		str(OptSiteHTTP, &v.siteHTTP, "URL",
			"Override the WAMP HTTP bridge URL (wamp_http). Environment: SITE_HTTP."),
		str(OptSiteRealm, &v.siteRealm, "REALM",
			"Override the WAMP realm (wamp_realm)."),
		str(OptInstanceID, &v.instanceID, "ID",
			"The agent instance to run: its entry in the site config's agent-instances gives "+
				"the agent class and arguments. Environment: INSTANCE_ID."),
		str(OptAddressRoot, &v.addressRoot, "ROOT",
			"Override the site's address root (address_root)."),
		str(OptRegistryAddress, &v.registryAddress, "ADDRESS",
			"Deprecated in OCS; accepted and ignored."),
		str(OptLogDir, &v.logDir, "DIR",
			"Set the logging directory (log-dir)."),
		str(OptWorkingDir, &v.workingDir, "DIR",
			"Propagate the working directory."),
		{Name: OptCrossbarTimeout, Value: IntValue(&v.crossbarTimeout, math.MinInt32, math.MaxInt32),
			Group: GroupSite, Placeholder: "SECONDS",
			Help: "Seconds to keep trying to reach the WAMP router after losing it before shutting down " +
				"(0: never give up; default: the host's crossbar_timeout, else 10). Environment: CROSSBAR_TIMEOUT."},
		str(OptAccessPolicy, &v.accessPolicy, "POLICY",
			"Override the access control policy (access_policy). ocsflux implements only policy none."),
		str(OptAgentClass, &v.agentClass, "CLASS",
			"ocsflux: the agent class to run. Default: the instance's agent-class in the site config. "+
				"Without --instance-id, the instance is the only one of this class on the host."),
	}
}
