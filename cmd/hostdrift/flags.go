package main

// Flags: one convention for every subcommand.
//
// hostdrift parses flags with the standard library's flag package, made to
// read flags before, between and after the arguments (parseFlags), to accept
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
	"strings"

	"github.com/agext/levenshtein"
	"golang.org/x/sys/unix"
)

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// listFlag collects a repeatable flag whose values may also be
// comma-separated: --only a,b --only c is a, b and c.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v == "" {
			return fmt.Errorf("empty item in %q", s)
		}
		*l = append(*l, v)
	}
	return nil
}

// varFlags parses repeated --var NAME=VALUE.
type varFlags map[string]string

func (v varFlags) String() string { return "" }
func (v varFlags) Set(s string) error {
	name, val, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", s)
	}
	v[name] = val
	return nil
}

// newFlagSet returns a flag set that reports its own errors as usage errors
// on stderr. Its usage, asked for with --help, goes to stdout (so that
// "hostdrift check --help | less" shows it) and shows the synopsis, the
// flags and the command's examples (commandExamples).
func newFlagSet(name, synopsis string, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { printUsage(stdout, fs, synopsis) }
	return fs
}

// printUsage writes a command's synopsis, its flags (spelt --flag) and its
// examples.
func printUsage(w io.Writer, fs *flag.FlagSet, synopsis string) {
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
	if ex := commandExamples[fs.Name()]; len(ex) > 0 {
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

// parseFlags parses args, flags and arguments in any order: it reads the
// flags up to the first argument, sets that argument aside and goes on, so
// "diff OLD NEW --format json" is "diff --format json OLD NEW". After "--"
// everything is an argument. The arguments, in their order, are then
// fs.Args(). It returns -1 to continue, or the exit code: 0 after --help,
// exitUsage after a bad flag, which it reports with the nearest flag's name
// when one is close.
func parseFlags(fs *flag.FlagSet, args []string) int {
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
				return exitOK
			}
			fmt.Fprintf(out, "hostdrift %s: %s\nRun 'hostdrift %s --help' for its flags and examples.\n", fs.Name(), flagError(fs, err), fs.Name())
			return exitUsage
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
		return exitUsage
	}
	return -1
}

// flagError rewords the flag package's errors with --flag names and, for an
// unknown flag, the nearest known one.
func flagError(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		if near := nearestFlag(fs, name); near != "" {
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

// nearestFlag returns the flag of fs that name most likely misspells: the
// only one it is a prefix of, or the closest by edit distance.
func nearestFlag(fs *flag.FlagSet, name string) string {
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
	near := nearest(name, names, 1)
	if len(near) == 0 {
		return ""
	}
	return near[0]
}

// nearest returns up to n candidates closest to s by edit distance, closest
// first, among those close enough to be a likely misspelling.
func nearest(s string, candidates []string, n int) []string {
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

// useColor decides whether to colour output for a writer.
func useColor(mode string, w io.Writer) (bool, error) {
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

// terminalWidth returns the width of the terminal behind w, or 0.
func terminalWidth(w io.Writer) int {
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

// didYouMean is ": did you mean X?" for the first of near, or nothing.
func didYouMean(near []string) string {
	if len(near) == 0 {
		return ""
	}
	return ": did you mean " + near[0] + "?"
}

// parseNoArgs parses the flags of a command that takes no flags of its own
// and no arguments (--help aside); it returns -1 to continue, or the exit
// code.
func parseNoArgs(name string, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet(name, name, stdout, stderr)
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hostdrift %s: unexpected argument %q\n", name, fs.Arg(0))
		return exitUsage
	}
	return -1
}
