package site

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Source says where a value came from.
type Source string

// Sources of values.
const (
	SourceDefault     Source = "default"      // nobody set it
	SourceSCF         Source = "scf"          // the site config file (host, hub or instance arguments)
	SourceCommandLine Source = "command line" // the real command line
	SourceEnvironment Source = "environment"  // an environment variable acting as a flag
)

// Arg is one command-line token and where it came from.
type Arg struct {
	Text   string
	Source Source
	From   string // detail: "$SITE_HUB", "instance influxagent arguments", ...
}

// Args wraps plain tokens as Args from one source.
func Args(texts []string, src Source, from string) []Arg {
	out := make([]Arg, len(texts))
	for i, t := range texts {
		out[i] = Arg{Text: t, Source: src, From: from}
	}
	return out
}

// Texts returns the tokens' texts.
func Texts(args []Arg) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a.Text
	}
	return out
}

// IsKeyToken reports whether a token starts a group in OCS's argument merge:
// its first character is '-' and the first character after the leading
// dashes is a letter ("--port", "-x", "--port=9999"; not "-5", "-0.1").
// A token of dashes only is not a key (Python crashes on it; ocsflux treats
// it as a value).
func IsKeyToken(s string) bool {
	if !strings.HasPrefix(s, "-") {
		return false
	}
	rest := strings.TrimLeft(s, "-")
	if rest == "" {
		return false
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return unicode.IsLetter(r)
}

type argGroup struct {
	key    Arg
	values []Arg
}

type groupedArgs struct {
	positional []Arg
	groups     []argGroup
	index      map[string]int // key text -> position in groups
}

// groupArgs splits tokens into OCS's ordered groups (ocs.site_config
// ArgContainer): a key token starts a group; a repeated key keeps its first
// position and takes the values of its last occurrence.
func groupArgs(args []Arg) *groupedArgs {
	g := &groupedArgs{index: map[string]int{}}
	cur := -1
	for _, a := range args {
		if IsKeyToken(a.Text) {
			if i, ok := g.index[a.Text]; ok {
				g.groups[i] = argGroup{key: a}
				cur = i
			} else {
				g.index[a.Text] = len(g.groups)
				cur = len(g.groups)
				g.groups = append(g.groups, argGroup{key: a})
			}
			continue
		}
		if cur < 0 {
			g.positional = append(g.positional, a)
		} else {
			g.groups[cur].values = append(g.groups[cur].values, a)
		}
	}
	return g
}

// MergeArgs merges an instance's arguments with the real command line as
// OCS does (§9.5): both are split into groups; the command line's groups
// update the instance's like an ordered map (a key already present gets the
// command line's values in place, new keys are appended in command-line
// order); the positional group is always the command line's. The result is
// flattened back to tokens, to be parsed with "last occurrence wins".
func MergeArgs(instance, cmdline []Arg) []Arg {
	base := groupArgs(instance)
	upd := groupArgs(cmdline)
	for _, g := range upd.groups {
		if i, ok := base.index[g.key.Text]; ok {
			base.groups[i] = g
		} else {
			base.index[g.key.Text] = len(base.groups)
			base.groups = append(base.groups, g)
		}
	}
	out := append([]Arg(nil), upd.positional...)
	for _, g := range base.groups {
		out = append(out, g.key)
		out = append(out, g.values...)
	}
	return out
}
