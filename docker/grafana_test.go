package docker_test

import (
	"encoding/json"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// datasourceFile is grafana/provisioning/datasources/ocs.yaml.
type datasourceFile struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name      string         `yaml:"name"`
		UID       string         `yaml:"uid"`
		Type      string         `yaml:"type"`
		Access    string         `yaml:"access"`
		URL       string         `yaml:"url"`
		IsDefault bool           `yaml:"isDefault"`
		Editable  bool           `yaml:"editable"`
		Database  string         `yaml:"database"`
		JSONData  map[string]any `yaml:"jsonData"`
	} `yaml:"datasources"`
}

// providerFile is grafana/provisioning/dashboards/ocsflux.yaml. Decoding
// with KnownFields makes a misspelt key an error.
type providerFile struct {
	APIVersion int `yaml:"apiVersion"`
	Providers  []struct {
		Name                  string `yaml:"name"`
		OrgID                 int    `yaml:"orgId"`
		Type                  string `yaml:"type"`
		Folder                string `yaml:"folder"`
		DisableDeletion       bool   `yaml:"disableDeletion"`
		AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
		UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
		Options               struct {
			Path                      string `yaml:"path"`
			FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
		} `yaml:"options"`
	} `yaml:"providers"`
}

func readYAML(t *testing.T, rel string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dockerDir(t), filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

// dashboardFile is one parsed dashboard JSON.
type dashboardFile struct {
	Name string         // file name
	JSON map[string]any // the whole document
}

func loadDashboards(t *testing.T) []dashboardFile {
	t.Helper()
	dir := filepath.Join(dockerDir(t), "grafana", "dashboards")
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatalf("no dashboards in %s", dir)
	}
	var out []dashboardFile
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		var d map[string]any
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", filepath.Base(n), err)
		}
		out = append(out, dashboardFile{Name: filepath.Base(n), JSON: d})
	}
	return out
}

// panels returns every panel of a dashboard, including those nested in
// collapsed rows.
func panels(d map[string]any) []map[string]any {
	var out []map[string]any
	var walk func(list any)
	walk = func(list any) {
		items, _ := list.([]any)
		for _, it := range items {
			p, ok := it.(map[string]any)
			if !ok {
				continue
			}
			out = append(out, p)
			walk(p["panels"])
		}
	}
	walk(d["panels"])
	return out
}

// variables returns the dashboard's template variables.
func variables(d map[string]any) []map[string]any {
	tmpl, _ := d["templating"].(map[string]any)
	list, _ := tmpl["list"].([]any)
	var out []map[string]any
	for _, v := range list {
		if m, ok := v.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// dashboardQuery is one InfluxQL query of a dashboard.
type dashboardQuery struct {
	Where string // "panel <title> target <refId>" or "variable <name>"
	Query string
	Var   string // variable name for template-variable queries
}

// queries returns every InfluxQL query of the dashboard: the panels'
// targets and the query variables.
func queries(t *testing.T, d dashboardFile) []dashboardQuery {
	t.Helper()
	var out []dashboardQuery
	for _, p := range panels(d.JSON) {
		targets, _ := p["targets"].([]any)
		for _, tg := range targets {
			m, _ := tg.(map[string]any)
			q, _ := m["query"].(string)
			where := "panel " + strings.TrimSpace(p["title"].(string)) + " target " + m["refId"].(string)
			if m["rawQuery"] != true || q == "" {
				t.Errorf("%s %s: not a raw InfluxQL query, so the test cannot check it", d.Name, where)
				continue
			}
			out = append(out, dashboardQuery{Where: where, Query: q})
		}
	}
	for _, v := range variables(d.JSON) {
		if v["type"] != "query" {
			continue
		}
		q, _ := v["query"].(string)
		if q == "" {
			t.Errorf("%s: variable %v has no string query", d.Name, v["name"])
			continue
		}
		out = append(out, dashboardQuery{Where: "variable " + v["name"].(string), Query: q, Var: v["name"].(string)})
	}
	return out
}

// datasourceRefs returns every "datasource" object in the document.
func datasourceRefs(v any) []map[string]any {
	var out []map[string]any
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if ref, ok := e.(map[string]any); ok && k == "datasource" {
				out = append(out, ref)
			}
			out = append(out, datasourceRefs(e)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, datasourceRefs(e)...)
		}
	}
	return out
}

// TestGrafanaProvisioning checks the data source and dashboard provider
// files, and that the compose file mounts them where they say.
func TestGrafanaProvisioning(t *testing.T) {
	var ds datasourceFile
	readYAML(t, "grafana/provisioning/datasources/ocs.yaml", &ds)
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 {
		t.Fatalf("ocs.yaml: apiVersion %d with %d data sources, want 1 and 1", ds.APIVersion, len(ds.Datasources))
	}
	src := ds.Datasources[0]
	if src.Name != "OCS Feeds" || src.Type != "influxdb" || src.Access != "proxy" || src.UID == "" {
		t.Errorf("data source = %+v, want name \"OCS Feeds\", type influxdb, access proxy and a uid", src)
	}
	if v, ok := src.JSONData["version"]; ok && v != "InfluxQL" {
		t.Errorf("data source query language %v, want InfluxQL", v)
	}
	if src.JSONData["dbName"] != "ocs_feeds" {
		t.Errorf("data source jsonData.dbName = %v, want ocs_feeds", src.JSONData["dbName"])
	}

	// The data source must reach the InfluxDB container the publisher writes to.
	sc := loadSiteConfig(t)
	var pubArgs []string
	for _, inst := range sc.Hosts["ocs-docker"].Instances {
		if inst.ID == "influxagent" {
			pubArgs = flatArgs(inst.Arguments)
		}
	}
	u, err := url.Parse(src.URL)
	if err != nil {
		t.Fatalf("data source url %q: %v", src.URL, err)
	}
	if u.Hostname() != argValue(pubArgs, "--host") || u.Port() != argValue(pubArgs, "--port") {
		t.Errorf("data source url %s, but the publisher writes to %s:%s", src.URL,
			argValue(pubArgs, "--host"), argValue(pubArgs, "--port"))
	}
	if db := argValue(pubArgs, "--database"); src.JSONData["dbName"] != db {
		t.Errorf("data source database %v, but the publisher writes to %q", src.JSONData["dbName"], db)
	}

	var prov providerFile
	readYAML(t, "grafana/provisioning/dashboards/ocsflux.yaml", &prov)
	if prov.APIVersion != 1 || len(prov.Providers) != 1 || prov.Providers[0].Type != "file" ||
		prov.Providers[0].Options.Path == "" {
		t.Fatalf("ocsflux.yaml = %+v, want one file provider with a path", prov)
	}
	dashPath := prov.Providers[0].Options.Path

	p := composeConfig(t, filepath.Join(dockerDir(t), "influxdb", "docker-compose.yml"), "")
	graf, ok := p.Services["grafana"]
	if !ok {
		t.Fatalf("influxdb/docker-compose.yml has no grafana service")
	}
	want := map[string]string{
		dashPath:                                filepath.Join(dockerDir(t), "grafana", "dashboards"),
		"/etc/grafana/provisioning/datasources": filepath.Join(dockerDir(t), "grafana", "provisioning", "datasources"),
		"/etc/grafana/provisioning/dashboards":  filepath.Join(dockerDir(t), "grafana", "provisioning", "dashboards"),
	}
	got := map[string]string{}
	for _, v := range graf.Volumes {
		if s, d := bindSource(v); s != "" {
			got[d] = s
		}
	}
	for dst, srcDir := range want {
		if got[dst] != srcDir {
			t.Errorf("grafana mounts %q at %s, want %s", got[dst], dst, srcDir)
		}
	}
	if home := graf.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; home != "" {
		if path.Dir(home) != dashPath {
			t.Errorf("home dashboard %s is not in the provisioned directory %s", home, dashPath)
		} else if _, err := os.Stat(filepath.Join(dockerDir(t), "grafana", "dashboards", path.Base(home))); err != nil {
			t.Errorf("home dashboard %s: %v", home, err)
		}
	}
}

// TestDashboardsWellFormed checks both dashboards: unique uids, the
// provisioned data source everywhere, unique panel ids, layout, and that
// every $variable a query uses is defined.
func TestDashboardsWellFormed(t *testing.T) {
	var ds datasourceFile
	readYAML(t, "grafana/provisioning/datasources/ocs.yaml", &ds)
	dsUID := ds.Datasources[0].UID

	builtins := []string{"timeFilter", "__interval", "__interval_ms", "__timeFilter"}
	varRef := regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)
	uids := map[string]string{}
	for _, d := range loadDashboards(t) {
		uid, _ := d.JSON["uid"].(string)
		title, _ := d.JSON["title"].(string)
		if uid == "" || title == "" {
			t.Errorf("%s: uid %q title %q, both must be set", d.Name, uid, title)
		}
		if prev, dup := uids[uid]; dup {
			t.Errorf("%s and %s share uid %q", prev, d.Name, uid)
		}
		uids[uid] = d.Name
		if sv, _ := d.JSON["schemaVersion"].(float64); sv < 36 {
			t.Errorf("%s: schemaVersion %v, want >= 36 (datasource references by uid)", d.Name, d.JSON["schemaVersion"])
		}
		if _, ok := d.JSON["id"]; ok {
			t.Errorf("%s: has an id; provisioned dashboards must not", d.Name)
		}
		for _, ref := range datasourceRefs(d.JSON) {
			if ref["type"] == "grafana" {
				continue // the built-in annotations
			}
			if ref["type"] != "influxdb" || ref["uid"] != dsUID {
				t.Errorf("%s: datasource reference %v, want {type influxdb, uid %s}", d.Name, ref, dsUID)
			}
		}
		ids := map[float64]bool{}
		for _, p := range panels(d.JSON) {
			id, _ := p["id"].(float64)
			if id == 0 || ids[id] {
				t.Errorf("%s: panel %q has a missing or duplicate id %v", d.Name, p["title"], p["id"])
			}
			ids[id] = true
			if _, ok := p["gridPos"].(map[string]any); !ok {
				t.Errorf("%s: panel %q has no gridPos", d.Name, p["title"])
			}
		}
		defined := map[string]bool{}
		for _, v := range variables(d.JSON) {
			defined[v["name"].(string)] = true
		}
		for _, p := range panels(d.JSON) {
			if r, ok := p["repeat"].(string); ok && !defined[r] {
				t.Errorf("%s: panel %q repeats over undefined variable %s", d.Name, p["title"], r)
			}
		}
		for _, q := range queries(t, d) {
			for _, m := range varRef.FindAllStringSubmatch(q.Query, -1) {
				if !defined[m[1]] && !slices.Contains(builtins, m[1]) {
					t.Errorf("%s %s: uses undefined variable $%s", d.Name, q.Where, m[1])
				}
			}
		}
	}
	for _, want := range []string{"ocs-feeds", "ocsflux-health"} {
		if _, ok := uids[want]; !ok {
			t.Errorf("no dashboard with uid %s (have %v)", want, uids)
		}
	}
	// Links between the dashboards point at existing uids.
	for _, d := range loadDashboards(t) {
		links, _ := d.JSON["links"].([]any)
		for _, l := range links {
			u, _ := l.(map[string]any)["url"].(string)
			if uid, ok := strings.CutPrefix(u, "/d/"); ok {
				if _, exists := uids[uid]; !exists {
					t.Errorf("%s: link %s to unknown dashboard", d.Name, u)
				}
			}
		}
	}
}
