package site_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ocsflux/ocsflux/agents/fakedata"
	"github.com/ocsflux/ocsflux/agents/influxdb"
	"github.com/ocsflux/ocsflux/site"
)

var update = flag.Bool("update", false, "rewrite the golden files of site/testdata")

// goldenCase is one file of testdata/cases: a command line, environment and
// host name. Relative paths are relative to testdata.
type goldenCase struct {
	Args     []string          `yaml:"args"`
	Env      map[string]string `yaml:"env"`
	Hostname string            `yaml:"hostname"`
}

// testAgentFlags gives the two classes ocsflux implements.
func testAgentFlags(class string) ([]site.Flag, error) {
	switch class {
	case influxdb.AgentClass:
		o := influxdb.Defaults()
		return o.Flags(), nil
	case fakedata.AgentClass:
		o := fakedata.Defaults()
		return o.Flags(), nil
	}
	return nil, fmt.Errorf("agent-class %s is not implemented by ocsflux (it implements %s, %s)",
		class, fakedata.AgentClass, influxdb.AgentClass)
}

// TestGoldenResolve runs every testdata/cases/<name>.yaml through Resolve
// and compares the outcome with <name>.golden.
func TestGoldenResolve(t *testing.T) {
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "cases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases in testdata/cases: %v", err)
	}
	t.Chdir(dir)
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var c goldenCase
			if err := yaml.Unmarshal(data, &c); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			out := []byte(strings.ReplaceAll(resolveCase(c), dir, "$TESTDATA"))
			compareGolden(t, strings.TrimSuffix(file, ".yaml")+".golden", out)
		})
	}
}

func compareGolden(t *testing.T, goldenFile string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(goldenFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatalf("%v (run go test ./site -update to create it, then review it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the result:\n--- got\n%s\n--- want\n%s", goldenFile, got, want)
	}
}

// resolveCase returns the golden text of a case: the error, or the resolved
// values one per line as "name = <JSON value>  (source: detail)".
func resolveCase(c goldenCase) string {
	env := c.Env
	r, err := site.Resolve(site.Request{
		Args: c.Args,
		LookupEnv: func(k string) (string, bool) {
			v, ok := env[k]
			return v, ok
		},
		Hostname:   c.Hostname,
		AgentFlags: testAgentFlags,
	})
	var b strings.Builder
	if err != nil {
		kind := "other"
		var (
			ue *site.UsageError
			ce *site.ConfigError
			me *site.MissingInstanceIDError
			he *site.HelpRequested
		)
		switch {
		case errors.As(err, &ue):
			kind = "usage"
		case errors.As(err, &ce):
			kind = "config"
		case errors.As(err, &me):
			kind = "missing instance-id"
		case errors.As(err, &he):
			kind = "help"
		}
		fmt.Fprintf(&b, "error (%s): %s\n", kind, err)
		return b.String()
	}
	fmt.Fprintf(&b, "agent-class: %s\ninstance-id: %s\nagent address: %s\nsite file: %s\nhost: %s\n",
		r.AgentClass, r.InstanceID, r.AgentAddress, r.SiteFile, r.HostName)
	writeSettings := func(title string, ss []site.Setting) {
		fmt.Fprintf(&b, "%s:\n", title)
		for _, s := range ss {
			v, _ := json.Marshal(s.Value)
			src := string(s.Source)
			if s.From != "" && s.From != string(s.Source) {
				src += ": " + s.From
			}
			fmt.Fprintf(&b, "  %s = %s  (%s)\n", s.Name, v, src)
		}
	}
	writeSettings("site options", r.SiteSettings)
	writeSettings("agent options", r.AgentSettings)
	if r.Instance != nil {
		v, _ := json.Marshal(r.Instance.Arguments)
		fmt.Fprintf(&b, "instance arguments: %s\n", v)
	}
	b.WriteString("merged arguments:\n")
	for _, a := range r.Arguments {
		v, _ := json.Marshal(a.Text)
		fmt.Fprintf(&b, "  %-14s %s\n", a.Source, v)
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}

// TestGoldenCasesCoverEveryFile makes sure no golden file is left without
// its case (a renamed case would otherwise leave a stale file behind).
func TestGoldenCasesCoverEveryFile(t *testing.T) {
	goldens, err := filepath.Glob(filepath.Join("testdata", "cases", "*.golden"))
	if err != nil {
		t.Fatal(err)
	}
	var orphans []string
	for _, g := range goldens {
		if _, err := os.Stat(strings.TrimSuffix(g, ".golden") + ".yaml"); err != nil {
			orphans = append(orphans, g)
		}
	}
	sort.Strings(orphans)
	if len(orphans) > 0 {
		t.Errorf("golden files without a case: %v", orphans)
	}
}
