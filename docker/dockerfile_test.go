package docker_test

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// instruction is one Dockerfile instruction with continuation lines joined.
type instruction struct {
	Cmd  string // upper case: FROM, RUN, ARG, ...
	Args string
	Line int
}

// stage is one FROM ... section of a Dockerfile.
type stage struct {
	Name  string
	Insts []instruction
}

// parseDockerfile splits docker/Dockerfile into its global ARGs and stages.
func parseDockerfile(t *testing.T) (globals []instruction, stages []stage) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dockerDir(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var insts []instruction
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() > 0 && strings.HasPrefix(trimmed, "#") {
			continue // comment inside a continued instruction
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		insts = append(insts, instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args), Line: start})
		cur.Reset()
	}
	for _, in := range insts {
		if in.Cmd == "FROM" {
			f := strings.Fields(in.Args)
			name := ""
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				name = f[2]
			}
			stages = append(stages, stage{Name: name})
			continue
		}
		if len(stages) == 0 {
			globals = append(globals, in)
			continue
		}
		stages[len(stages)-1].Insts = append(stages[len(stages)-1].Insts, in)
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a runtime stage", len(stages))
	}
	return globals, stages
}

// keyValues parses ENV arguments of the form k=v [k2=v2 ...] (values may
// be double-quoted and refer to earlier variables) into vars.
func keyValues(t *testing.T, in instruction, vars map[string]string) {
	t.Helper()
	words, err := shellWords(in.Args, vars)
	if err != nil {
		t.Fatalf("Dockerfile line %d: %v", in.Line, err)
	}
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			t.Fatalf("Dockerfile line %d: use the %s key=value form", in.Line, in.Cmd)
		}
		vars[k] = v
	}
}

// declareArgs applies an ARG instruction as docker does: the value is the
// --build-arg if given, else the ARG's default, else (inside a stage) the
// value of the global ARG of that name declared before the first FROM.
func declareArgs(t *testing.T, in instruction, vars, globals, buildArgs map[string]string) {
	t.Helper()
	for _, w := range strings.Fields(in.Args) {
		name, def, hasDef := strings.Cut(w, "=")
		if hasDef {
			words, err := shellWords(def, vars)
			if err != nil || len(words) > 1 {
				t.Fatalf("Dockerfile line %d: ARG %s: bad default %q (%v)", in.Line, name, def, err)
			}
			def = strings.Join(words, "")
		}
		switch v, ok := buildArgs[name]; {
		case ok:
			vars[name] = v
		case hasDef:
			vars[name] = def
		default:
			if g, ok := globals[name]; ok {
				vars[name] = g
			}
		}
	}
}

// globalArgs evaluates the ARGs before the first FROM.
func globalArgs(t *testing.T, globals []instruction, buildArgs map[string]string) map[string]string {
	t.Helper()
	vars := map[string]string{}
	for _, g := range globals {
		if g.Cmd != "ARG" {
			t.Fatalf("Dockerfile line %d: only ARG may precede FROM, found %s", g.Line, g.Cmd)
		}
		declareArgs(t, g, vars, nil, buildArgs)
	}
	return vars
}

// shellWords splits a /bin/sh command line the way the shell would for the
// simple commands this Dockerfile uses: blanks separate words, single and
// double quotes group, $VAR and ${VAR} expand from vars (outside single
// quotes). Operators (&& ; | etc.) are rejected so that the test runs
// exactly one command.
func shellWords(s string, vars map[string]string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	expand := func(i int) (int, error) {
		// s[i] == '$'
		j := i + 1
		var name string
		if j < len(s) && s[j] == '{' {
			end := strings.IndexByte(s[j:], '}')
			if end < 0 {
				return 0, fmt.Errorf("unterminated ${ in %q", s)
			}
			name = s[j+1 : j+end]
			j += end + 1
		} else {
			k := j
			for k < len(s) && (s[k] == '_' || s[k] >= 'A' && s[k] <= 'Z' || s[k] >= 'a' && s[k] <= 'z' || s[k] >= '0' && s[k] <= '9') {
				k++
			}
			name = s[j:k]
			j = k
		}
		if name == "" || strings.ContainsAny(name, ":-=?+") {
			return 0, fmt.Errorf("unsupported expansion in %q", s)
		}
		v, ok := vars[name]
		if !ok {
			return 0, fmt.Errorf("variable %s is not set by an ARG or ENV before its use", name)
		}
		cur.WriteString(v)
		return j, nil
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
			i++
		case strings.IndexByte("&|;<>()`", c) >= 0:
			return nil, fmt.Errorf("shell operator %q in %q: keep the go build RUN a single command", c, s)
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("unterminated ' in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+end])
			inWord = true
			i += end + 2
		case c == '"':
			inWord = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				switch s[i] {
				case '$':
					j, err := expand(i)
					if err != nil {
						return nil, err
					}
					i = j - 1
				case '\\':
					if i+1 < len(s) && strings.IndexByte("$`\"\\", s[i+1]) >= 0 {
						i++
					}
					cur.WriteByte(s[i])
				default:
					cur.WriteByte(s[i])
				}
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated \" in %q", s)
			}
			i++
		case c == '$':
			j, err := expand(i)
			if err != nil {
				return nil, err
			}
			inWord = true
			i = j
		case c == '\\' && i+1 < len(s):
			cur.WriteByte(s[i+1])
			inWord = true
			i += 2
		default:
			cur.WriteByte(c)
			inWord = true
			i++
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// goBuild is the build stage's `go build` command, parsed.
type goBuild struct {
	Env    []string // NAME=value prefixes of the command
	Args   []string // after "go"
	Output string   // the -o argument
	Stage  string
}

// findGoBuild parses the Dockerfile's go build RUN line, expanding ARG and
// ENV values as docker would with buildArgs given as --build-arg.
func findGoBuild(t *testing.T, buildArgs map[string]string) goBuild {
	t.Helper()
	globals, stages := parseDockerfile(t)
	gvars := globalArgs(t, globals, buildArgs)
	var found []goBuild
	for _, st := range stages {
		vars := map[string]string{}
		for _, in := range st.Insts {
			switch in.Cmd {
			case "ARG":
				declareArgs(t, in, vars, gvars, buildArgs)
			case "ENV":
				keyValues(t, in, vars)
			case "RUN":
				if !strings.Contains(in.Args, "go build") {
					continue
				}
				words, err := shellWords(in.Args, vars)
				if err != nil {
					t.Fatalf("Dockerfile line %d: %v", in.Line, err)
				}
				var gb goBuild
				gb.Stage = st.Name
				i := 0
				for ; i < len(words) && regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`).MatchString(words[i]); i++ {
					gb.Env = append(gb.Env, words[i])
				}
				if i+1 >= len(words) || words[i] != "go" || words[i+1] != "build" {
					t.Fatalf("Dockerfile line %d: want [NAME=value ...] go build ..., got %q", in.Line, words)
				}
				gb.Args = words[i+1:]
				if j := slices.Index(gb.Args, "-o"); j >= 0 && j+1 < len(gb.Args) {
					gb.Output = gb.Args[j+1]
				}
				found = append(found, gb)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("Dockerfile has %d RUN lines with go build, want exactly one", len(found))
	}
	if found[0].Output == "" {
		t.Fatalf("the go build line has no -o OUTPUT: %q", found[0].Args)
	}
	return found[0]
}

// TestDockerfileGoBuild runs the Dockerfile's own go build command line (its
// env assignments, flags and package; only -o redirected to a temporary
// directory), then checks that the binary is statically linked and that
// `ocsflux version` prints the VERSION build argument.
func TestDockerfileGoBuild(t *testing.T) {
	version := "docker-test-" + strconv.Itoa(os.Getpid())
	gb := findGoBuild(t, map[string]string{"VERSION": version})
	if !slices.Contains(gb.Env, "CGO_ENABLED=0") {
		t.Errorf("go build env %q lacks CGO_ENABLED=0", gb.Env)
	}
	for _, flag := range []string{"-trimpath", "./cmd/ocsflux"} {
		if !slices.Contains(gb.Args, flag) {
			t.Errorf("go build args %q lack %s", gb.Args, flag)
		}
	}
	out := filepath.Join(t.TempDir(), "ocsflux")
	args := slices.Clone(gb.Args)
	args[slices.Index(args, "-o")+1] = out

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), gb.Env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}

	f, err := elf.Open(out)
	if err != nil {
		t.Fatalf("built binary is not an ELF file: %v", err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("binary has a %v program header: it is dynamically linked and will not run on a static base image", p.Type)
		}
	}
	for _, name := range []string{".interp", ".dynamic"} {
		if f.Section(name) != nil {
			t.Errorf("binary has a %s section: it is dynamically linked", name)
		}
	}
	f.Close()

	vctx, vcancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer vcancel()
	var stdout, stderr bytes.Buffer
	run := exec.CommandContext(vctx, out, "version")
	run.Stdout, run.Stderr = &stdout, &stderr
	if err := run.Run(); err != nil {
		t.Fatalf("ocsflux version: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	if got := stdout.String() + stderr.String(); !strings.Contains(got, version) {
		t.Errorf("ocsflux version printed %q, want it to contain the VERSION build arg %q (-X main.version)", got, version)
	}
}

// TestDockerfileContract checks the parts of the image contract the
// compose files and README rely on: the Go image matches go.mod, the
// runtime stage copies the binary the build produced, runs it as uid 9000
// with OCS_CONFIG_DIR=/config and TZ=Etc/UTC, and keeps its spool in the
// /var/lib/ocsflux volume.
func TestDockerfileContract(t *testing.T) {
	globals, stages := parseDockerfile(t)
	vars := globalArgs(t, globals, nil)

	gomod, err := os.ReadFile(filepath.Join(repoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)(?:\.(\d+))?\s*$`).FindStringSubmatch(string(gomod))
	if m == nil {
		t.Fatalf("go.mod has no go directive")
	}
	img := regexp.MustCompile(`^golang:(\d+)\.(\d+)(?:\.(\d+))?(-|$)`).FindStringSubmatch(vars["GO_IMAGE"])
	if img == nil {
		t.Fatalf("ARG GO_IMAGE=%q is not a golang:<version> image", vars["GO_IMAGE"])
	}
	if img[1] != m[1] || img[2] != m[2] {
		t.Errorf("GO_IMAGE %s is Go %s.%s, go.mod says go %s.%s", vars["GO_IMAGE"], img[1], img[2], m[1], m[2])
	}
	if img[3] != "" && m[3] != "" {
		ip, _ := strconv.Atoi(img[3])
		mp, _ := strconv.Atoi(m[3])
		if ip < mp {
			t.Errorf("GO_IMAGE %s is older than go.mod's go %s.%s.%s", vars["GO_IMAGE"], m[1], m[2], m[3])
		}
	}

	gb := findGoBuild(t, nil)
	final := stages[len(stages)-1]
	env := map[string]string{}
	byCmd := map[string][]string{}
	for _, in := range final.Insts {
		byCmd[in.Cmd] = append(byCmd[in.Cmd], in.Args)
		if in.Cmd == "ENV" {
			keyValues(t, in, env)
		}
	}
	copied := false
	for _, c := range byCmd["COPY"] {
		f := strings.Fields(c)
		if slices.Contains(f, "--from="+gb.Stage) && slices.Contains(f, gb.Output) {
			copied = true
		}
	}
	if !copied {
		t.Errorf("runtime stage does not COPY --from=%s %s (the go build output): %q", gb.Stage, gb.Output, byCmd["COPY"])
	}
	for k, want := range map[string]string{"OCS_CONFIG_DIR": "/config", "TZ": "Etc/UTC"} {
		if env[k] != want {
			t.Errorf("runtime ENV %s=%q, want %q", k, env[k], want)
		}
	}
	last := func(cmd string) string {
		if v := byCmd[cmd]; len(v) > 0 {
			return v[len(v)-1]
		}
		return ""
	}
	if u := last("USER"); u != "9000:9000" && u != "9000" {
		t.Errorf("runtime USER %q, want 9000:9000 (OCS's ocs user)", u)
	}
	if w := last("WORKDIR"); w != "/var/lib/ocsflux" {
		t.Errorf("runtime WORKDIR %q, want /var/lib/ocsflux", w)
	}
	if v := last("VOLUME"); !strings.Contains(v, "/var/lib/ocsflux") {
		t.Errorf("runtime VOLUME %q, want /var/lib/ocsflux", v)
	}
	if e := last("ENTRYPOINT"); !regexp.MustCompile(`^\["(/usr/local/bin/)?ocsflux"\]$`).MatchString(e) {
		t.Errorf("ENTRYPOINT %s, want [\"ocsflux\"] (exec form, so compose commands are its arguments)", e)
	}
}

// dockerignoreExcluded reports whether path (slash-separated, relative to
// the build context) is excluded by the patterns, with Docker's rules: a
// pattern excludes a path when it matches the path or one of its parent
// directories, `**` matches any number of directories, `!` re-includes, and
// the last matching pattern wins.
func dockerignoreExcluded(patterns []string, path string) bool {
	excluded := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		p = strings.TrimPrefix(filepath.ToSlash(filepath.Clean(p)), "/")
		re := dockerignoreRegexp(p)
		parts := strings.Split(path, "/")
		for i := 1; i <= len(parts); i++ {
			if re.MatchString(strings.Join(parts[:i], "/")) {
				excluded = !neg
				break
			}
		}
	}
	return excluded
}

func dockerignoreRegexp(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '*' && i+1 < len(p) && p[i+1] == '*':
			i++
			if i+1 < len(p) && p[i+1] == '/' {
				i++
				b.WriteString("(.*/)?")
			} else {
				b.WriteString(".*")
			}
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// TestDockerignoreKeepsSources checks that the build-context filter keeps
// go.mod, go.sum and every file the ocsflux build compiles or embeds, and
// that it does drop what an image build should not see.
func TestDockerignoreKeepsSources(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(dockerDir(t), "Dockerfile.dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}

	root := repoRoot(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "list", "-deps", "-f",
		`{{if .Module}}{{if .Module.Main}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}
{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}
{{end}}{{end}}{{end}}`, "./cmd/ocsflux")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go list -deps ./cmd/ocsflux: %v\n%s", err, stderr)
	}
	needed := []string{"go.mod", "go.sum"}
	for _, abs := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, abs)
		if err != nil {
			t.Fatal(err)
		}
		needed = append(needed, filepath.ToSlash(rel))
	}
	if len(needed) < 3 {
		t.Fatalf("go list found no source files of ./cmd/ocsflux: %q", out)
	}
	for _, p := range needed {
		if dockerignoreExcluded(patterns, p) {
			t.Errorf("Dockerfile.dockerignore excludes %s, which the build needs", p)
		}
	}
	for _, p := range []string{".git/HEAD", "bin/ocsflux", "docker/docker-compose.yml", "feeds/testdata/x/message.json"} {
		if !dockerignoreExcluded(patterns, p) {
			t.Errorf("Dockerfile.dockerignore keeps %s in the build context", p)
		}
	}
}
