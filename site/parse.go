package site

import (
	"fmt"
	"regexp"
	"strings"
)

// This file parses tokens the way Python's argparse parses an OCS agent's
// command line (allow_abbrev on, no positionals), so that everything a site
// config or a docker compose file may pass to a Python agent means the same
// to ocsflux:
//
//   - "--name value" and "--name=value";
//   - unambiguous prefixes of long options ("--init idle"); an ambiguous one
//     is an error listing the candidates;
//   - a value may start with '-' only if it looks like a negative number
//     ("-5", "-0.5"); "--" ends the options (what follows is unrecognized);
//   - the last occurrence of an option wins; every occurrence is checked;
//   - bool flags (KindBool) take a value when the next token is one
//     ("--gzip True"), and are true when bare ("--gzip");
//   - "-h", "--help" (or a prefix such as "--he") asks for help;
//   - unknown options and stray values are an error ("unrecognized
//     arguments: ..."), reported after all known options were checked.

var reNegativeNumber = regexp.MustCompile(`^-\d+$|^-\d*\.\d+$`)

// occurrence is the last setting of one flag.
type occurrence struct {
	flag     *Flag
	key      Arg    // the option token
	value    string // the value text (for a bare bool flag: "")
	hasValue bool   // false for a bare bool flag
}

type parseResult struct {
	last  map[string]occurrence // by flag name
	order []string              // flag names in order of their last occurrence
}

func (r *parseResult) given(name string) bool {
	_, ok := r.last[name]
	return ok
}

// argParser parses tokens against a set of long options.
type argParser struct {
	flags   []*Flag
	options []string         // option strings in argparse's order, for prefix matching
	byOpt   map[string]*Flag // "--name" -> flag; nil value for help
}

const helpOption = "--help"

// newArgParser builds a parser; -h/--help come first, as in argparse.
func newArgParser(flags []*Flag) (*argParser, error) {
	p := &argParser{flags: flags, byOpt: map[string]*Flag{"-h": nil, helpOption: nil}}
	p.options = []string{"-h", helpOption}
	for _, f := range flags {
		opt := "--" + f.Name
		if _, dup := p.byOpt[opt]; dup {
			return nil, fmt.Errorf("option %s defined twice", opt)
		}
		p.byOpt[opt] = f
		p.options = append(p.options, opt)
	}
	return p, nil
}

type itemKind byte

const (
	itemValue    itemKind = 'A' // a value / positional
	itemOption   itemKind = 'O' // an option (known or not)
	itemDashDash itemKind = '-' // "--"
)

type item struct {
	kind     itemKind
	arg      Arg
	flag     *Flag // nil: unknown option, or help
	help     bool
	explicit *string // value after '='
}

// classify mirrors argparse's _parse_optional.
func (p *argParser) classify(a Arg) (item, error) {
	s := a.Text
	it := item{kind: itemValue, arg: a}
	if s == "" || s[0] != '-' {
		return it, nil
	}
	if f, ok := p.byOpt[s]; ok {
		return item{kind: itemOption, arg: a, flag: f, help: f == nil}, nil
	}
	if len(s) == 1 {
		return it, nil
	}
	if name, val, ok := strings.Cut(s, "="); ok {
		if f, ok := p.byOpt[name]; ok {
			return item{kind: itemOption, arg: a, flag: f, help: f == nil, explicit: &val}, nil
		}
	}
	var matches []string
	var explicit *string
	if strings.HasPrefix(s, "--") {
		prefix := s
		if name, val, ok := strings.Cut(s, "="); ok {
			prefix, explicit = name, &val
		}
		for _, opt := range p.options {
			if strings.HasPrefix(opt, prefix) {
				matches = append(matches, opt)
			}
		}
	} else if strings.HasPrefix(s, "-h") {
		matches = []string{"-h"} // "-hX": help with an attached value
	}
	switch len(matches) {
	case 0:
	case 1:
		f := p.byOpt[matches[0]]
		return item{kind: itemOption, arg: a, flag: f, help: f == nil, explicit: explicit}, nil
	default:
		return it, usagef("ambiguous option: %s could match %s", s, strings.Join(matches, ", "))
	}
	if reNegativeNumber.MatchString(s) || strings.Contains(s, " ") {
		return it, nil
	}
	return item{kind: itemOption, arg: a}, nil
}

// parse parses args, setting the flags' values. With knownOnly, unknown
// options and stray values are skipped (argparse's parse_known_args);
// otherwise they are a usage error.
func (p *argParser) parse(args []Arg, knownOnly bool) (*parseResult, error) {
	items := make([]item, 0, len(args))
	rest := false
	for _, a := range args {
		switch {
		case rest:
			items = append(items, item{kind: itemValue, arg: a})
		case a.Text == "--":
			items = append(items, item{kind: itemDashDash, arg: a})
			rest = true
		default:
			it, err := p.classify(a)
			if err != nil {
				return nil, err
			}
			items = append(items, it)
		}
	}
	res := &parseResult{last: map[string]occurrence{}}
	var extras []string
	for i := 0; i < len(items); i++ {
		it := items[i]
		switch {
		case it.kind == itemDashDash:
			continue
		case it.kind == itemValue:
			extras = append(extras, it.arg.Text)
			continue
		case it.help:
			return nil, &HelpRequested{}
		case it.flag == nil:
			extras = append(extras, it.arg.Text)
			continue
		}
		f := it.flag
		occ := occurrence{flag: f, key: it.arg}
		switch {
		case it.explicit != nil:
			occ.value, occ.hasValue = *it.explicit, true
		case i+1 < len(items) && items[i+1].kind == itemValue:
			occ.value, occ.hasValue = items[i+1].arg.Text, true
			i++
		case f.Kind() == KindBool:
			// bare flag
		default:
			return nil, usagef("argument --%s: expected one argument", f.Name)
		}
		text := occ.value
		if !occ.hasValue {
			text = "true"
		}
		if err := checkChoice(*f, text); err != nil {
			return nil, usagef("argument --%s: %v", f.Name, err)
		}
		if err := f.Value.Set(text); err != nil {
			return nil, usagef("argument --%s: %v", f.Name, err)
		}
		if _, seen := res.last[f.Name]; seen {
			for j, n := range res.order {
				if n == f.Name {
					res.order = append(res.order[:j], res.order[j+1:]...)
					break
				}
			}
		}
		res.last[f.Name] = occ
		res.order = append(res.order, f.Name)
	}
	if !knownOnly && len(extras) > 0 {
		return nil, usagef("unrecognized arguments: %s", strings.Join(extras, " "))
	}
	return res, nil
}

// IsHelpRequest reports whether the real command line asks for help, as
// OCS checks it before reading the site config: a token "-h" or "--help",
// or an unambiguous prefix of --help ("--he", "--hel").
func IsHelpRequest(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "-h" || (len(a) >= 4 && strings.HasPrefix(helpOption, a)) {
			return true
		}
	}
	return false
}
