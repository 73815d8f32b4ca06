package site_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocsflux/ocsflux/site"
)

// FuzzParse feeds arbitrary files to the SCF loader and the host lookup:
// they may fail, but must not panic or hang.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	more, _ := filepath.Glob(filepath.Join("testdata", "*", "*.yaml"))
	for _, file := range append(files, more...) {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("hub: {}\nhosts: {h: {agent-instances: [{instance-id: i, arguments: [<<, =, 1:2:3.5, 0b_]}]}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := site.Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		for _, name := range cfg.HostNames() {
			if h, err := cfg.Host(name); err == nil {
				for _, inst := range h.Instances {
					_ = site.MergeArgs(site.Args(inst.Arguments, site.SourceSCF, ""), nil)
				}
			}
		}
	})
}

// TestAliasExpansionIsBounded: nested aliases that expand to a billion
// values are refused quickly instead of exhausting memory.
func TestAliasExpansionIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	_, err := site.Parse("bomb.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "document too large") {
		t.Errorf("got %v", err)
	}
	_, err = site.Parse("loop.yaml", []byte("a: &x [*x]\n"))
	if err == nil || !strings.Contains(err.Error(), "nesting too deep") {
		t.Errorf("recursive alias: got %v", err)
	}
}
