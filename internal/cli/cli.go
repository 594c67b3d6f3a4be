// Package cli is the command-line convention every hostdrift command
// shares: flags before, between or after the arguments, --flag value and
// --flag=value alike, a misspelt flag named with the nearest one, help on
// standard output when asked for, and duration and count flags whose range
// is checked as they are parsed.
package cli

// hostdrift parses flags with the standard library's flag package, made to
// read flags before, between and after the arguments (Parse), to accept
// --flag value, --flag=value and the single-dash -flag forms alike, and to
// suggest the nearest flag for a misspelt one. github.com/spf13/pflag and
// cobra were considered and not taken:
//
//   - pflag reads -format as the shorthand cluster -f -o -r ...: every
//     script, unit file and playbook written with Go's single-dash long
//     flags (hostdrift -format json has worked since the first release)
//     would break, and pflag has no switch to keep them;
//   - cobra would restructure every command around its own types for what is
//     here about two hundred lines (interspersed parsing, suggestions,
//     examples in --help), adds two modules to a static binary that audits
//     hosts, and its one real gift, completion scripts, is cheap to generate
//     from our own flag sets (hostdrift completion bash|zsh);
//   - the commands' flag helpers (policy, live, outputs) register on a
//     *flag.FlagSet and stay as they are.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	"golang.org/x/sys/unix"
)

// Strings collects a repeatable flag.
type Strings []string

func (m *Strings) String() string     { return strings.Join(*m, ",") }
func (m *Strings) Set(s string) error { *m = append(*m, s); return nil }

// List collects a repeatable flag whose values may also be
// comma-separated: --only a,b --only c is a, b and c.
type List []string

func (l *List) String() string { return strings.Join(*l, ",") }
func (l *List) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v == "" {
			return fmt.Errorf("empty item in %q", s)
		}
		*l = append(*l, v)
	}
	return nil
}

// KeyValues parses repeated --var NAME=VALUE.
type KeyValues map[string]string

func (v KeyValues) String() string { return "" }
func (v KeyValues) Set(s string) error {
	name, val, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", s)
	}
	v[name] = val
	return nil
}

// NewFlagSet returns a flag set that reports its own errors as usage errors
// on stderr. Its usage, asked for with --help, goes to stdout (so that
// "hostdrift check --help | less" shows it) and shows the synopsis, the
// flags and the command's examples.
func NewFlagSet(name, synopsis string, examples []string, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { PrintUsage(stdout, fs, synopsis, examples) }
	return fs
}

// PrintUsage writes a command's synopsis, its flags (spelt --flag) and its
// examples.
func PrintUsage(w io.Writer, fs *flag.FlagSet, synopsis string, examples []string) {
	fmt.Fprintf(w, "Usage: hostdrift %s\n", synopsis)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintf(w, "\nFlags (before or after the arguments; --flag value or --flag=value):\n")
		fs.VisitAll(func(f *flag.Flag) {
			arg, usage := flag.UnquoteUsage(f)
			if n, ok := f.Value.(interface{ argName() string }); ok && arg == "value" {
				arg = n.argName()
			}
			if arg == "" || isBool(f) {
				fmt.Fprintf(w, "  --%s\n", f.Name)
			} else {
				fmt.Fprintf(w, "  --%s %s\n", f.Name, arg)
			}
			fmt.Fprintf(w, "        %s", strings.ReplaceAll(usage, "\n", "\n        "))
			if showDefault(f) {
				fmt.Fprintf(w, " (default %s)", f.DefValue)
			}
			fmt.Fprintln(w)
		})
	}
	if ex := examples; len(ex) > 0 {
		fmt.Fprintf(w, "\nExamples:\n")
		for _, e := range ex {
			fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(e, "\n", "\n  "))
		}
	}
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func showDefault(f *flag.Flag) bool {
	switch f.DefValue {
	case "", "false", "0", "0s", "[]":
		return false
	}
	return true
}

// Parse parses args, flags and arguments in any order: it reads the
// flags up to the first argument, sets that argument aside and goes on, so
// "diff OLD NEW --format json" is "diff --format json OLD NEW". After "--"
// everything is an argument. The arguments, in their order, are then
// fs.Args(). It reports a bad flag on fs's output, with the nearest flag's
// name when one is close, and prints the help when it is asked for.
func Parse(fs *flag.FlagSet, args []string) Outcome {
	out, help := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard) // errors are reported below, in our words
	fs.Usage = func() {}     // and help printed once, only when asked for
	defer func() { fs.SetOutput(out); fs.Usage = help }()
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			fs.SetOutput(out)
			if errors.Is(err, flag.ErrHelp) {
				help()
				return Help
			}
			fmt.Fprintf(out, "hostdrift %s: %s\nRun 'hostdrift %s --help' for its flags and examples.\n", fs.Name(), flagError(fs, err), fs.Name())
			return Bad
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if used := args[:len(args)-len(rest)]; len(used) > 0 && used[len(used)-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	// Leave the arguments in fs.Args(): "--" stops the parse at once.
	if err := fs.Parse(append([]string{"--"}, pos...)); err != nil {
		fmt.Fprintf(out, "hostdrift %s: %v\n", fs.Name(), err)
		return Bad
	}
	return Continue
}

// Outcome is how parsing the flags ended.
type Outcome int

const (
	// Continue: the flags were read; the command goes on.
	Continue Outcome = iota
	// Help was asked for and printed.
	Help
	// Bad: a flag or its value was wrong, and that was said.
	Bad
)

// flagError rewords the flag package's errors with --flag names and, for an
// unknown flag, the nearest known one.
func flagError(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		if near := NearestFlag(fs, name); near != "" {
			return fmt.Sprintf("unknown flag --%s: did you mean --%s?", name, near)
		}
		return fmt.Sprintf("unknown flag --%s", name)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return fmt.Sprintf("flag --%s needs a value (--%s VALUE or --%s=VALUE)", strings.TrimLeft(name, "-"), strings.TrimLeft(name, "-"), strings.TrimLeft(name, "-"))
	}
	// "invalid value "x" for flag -keep: ..."
	return strings.Replace(msg, "for flag -", "for flag --", 1)
}

// NearestFlag returns the flag of fs that name most likely misspells: the
// only one it is a prefix of, or the closest by edit distance.
func NearestFlag(fs *flag.FlagSet, name string) string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	var prefixed []string
	for _, n := range names {
		if strings.HasPrefix(n, name) {
			prefixed = append(prefixed, n)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	near := Nearest(name, names, 1)
	if len(near) == 0 {
		return ""
	}
	return near[0]
}

// nearest returns up to n candidates closest to s by edit distance, closest
// first, among those close enough to be a likely misspelling.
func Nearest(s string, candidates []string, n int) []string {
	type scored struct {
		c string
		d int
	}
	limit := max(2, len(s)/3)
	var close []scored
	for _, c := range candidates {
		d := levenshtein.Distance(strings.ToLower(s), strings.ToLower(c), nil)
		if d <= limit {
			close = append(close, scored{c, d})
		}
	}
	sort.SliceStable(close, func(i, j int) bool { return close[i].d < close[j].d })
	var out []string
	for _, sc := range close {
		if len(out) == n {
			break
		}
		out = append(out, sc.c)
	}
	return out
}

// UseColor decides whether to colour output for a writer.
func UseColor(mode string, w io.Writer) (bool, error) {
	switch mode {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto", "":
		if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
			return false, nil
		}
		f, ok := w.(*os.File)
		if !ok {
			return false, nil
		}
		_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
		return err == nil, nil
	default:
		return false, fmt.Errorf("--color must be auto, always or never, not %q", mode)
	}
}

// TerminalWidth returns the width of the terminal behind w, or 0.
func TerminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok {
		return 0
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 {
		return 0
	}
	return int(ws.Col)
}

// DidYouMean is ": did you mean X?" for the first of near, or nothing.
func DidYouMean(near []string) string {
	if len(near) == 0 {
		return ""
	}
	return ": did you mean " + near[0] + "?"
}

// Duration and count flags declare the values they accept where they are
// defined, and a value outside them is a usage error while the flags are
// parsed: one way for every such flag, before anything is read.

// durationValue is a duration flag with its accepted range: at least min,
// or exactly 0 when zero says what 0 means ("no limit").
type durationValue struct {
	p    *time.Duration
	min  time.Duration
	zero string
}

// Duration defines a duration flag that accepts 0 (meaning zero) when
// zero is not empty, and otherwise values of at least min.
func Duration(fs *flag.FlagSet, p *time.Duration, name string, def, min time.Duration, zero, usage string) {
	*p = def
	fs.Var(&durationValue{p: p, min: min, zero: zero}, name, usage)
}

func (v *durationValue) String() string {
	if v.p == nil {
		return ""
	}
	return v.p.String()
}

func (v *durationValue) argName() string { return "DURATION" }

func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		if n, nerr := strconv.ParseFloat(s, 64); nerr == nil && n != 0 {
			return fmt.Errorf("add a unit: %ss (or ms, m, h)", s)
		}
		return fmt.Errorf("not a duration (30s, 2m, 1h30m); it must be %s", v.accepted())
	}
	if (d == 0 && v.zero != "") || d >= v.min && d > 0 {
		*v.p = d
		return nil
	}
	return fmt.Errorf("it must be %s", v.accepted())
}

// accepted renders the range: "0 (no limit) or more", "more than 0",
// "at least 1s".
func (v *durationValue) accepted() string {
	switch {
	case v.min > time.Nanosecond && v.zero != "":
		return fmt.Sprintf("0 (%s) or at least %s", v.zero, v.min)
	case v.min > time.Nanosecond:
		return "at least " + v.min.String()
	case v.zero != "":
		return fmt.Sprintf("0 (%s) or more", v.zero)
	}
	return "more than 0"
}

// countValue is an integer flag with its accepted range: at least min, or
// exactly 0 when zero says what 0 means ("keep all").
type countValue struct {
	p    *int
	min  int
	zero string
}

// Count defines an integer flag that accepts 0 (meaning zero) when zero
// is not empty, and otherwise values of at least min.
func Count(fs *flag.FlagSet, p *int, name string, def, min int, zero, usage string) {
	*p = def
	fs.Var(&countValue{p: p, min: min, zero: zero}, name, usage)
}

func (v *countValue) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.Itoa(*v.p)
}

func (v *countValue) argName() string { return "N" }

func (v *countValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("not a whole number; it must be %s", v.accepted())
	}
	if (n == 0 && v.zero != "") || n >= v.min && n > 0 {
		*v.p = n
		return nil
	}
	return fmt.Errorf("it must be %s", v.accepted())
}

func (v *countValue) accepted() string {
	switch {
	case v.zero != "" && v.min <= 1:
		return fmt.Sprintf("0 (%s) or more", v.zero)
	case v.zero != "":
		return fmt.Sprintf("0 (%s) or at least %d", v.zero, v.min)
	}
	return fmt.Sprintf("%d or more", max(v.min, 1))
}
