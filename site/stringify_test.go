package site_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocsflux/ocsflux/site"
)

// TestGoldenStringify checks that an instance's arguments are flattened and
// turned into text as PyYAML + Python's str() do (testdata/stringify.yaml,
// one expected text per line in testdata/stringify.golden).
func TestGoldenStringify(t *testing.T) {
	cfg, err := site.Load(filepath.Join("testdata", "stringify.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	host, err := cfg.Host("localhost")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := host.Instance("values")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(inst.Arguments, "\n") + "\n"
	compareGolden(t, filepath.Join("testdata", "stringify.golden"), []byte(got))
}
