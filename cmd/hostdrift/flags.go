package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/hostdrift/hostdrift/internal/cli"
)

// newFlagSet is a command's flag set (internal/cli), with its examples.
func newFlagSet(name, synopsis string, stdout, stderr io.Writer) *flag.FlagSet {
	return cli.NewFlagSet(name, synopsis, commandExamples[name], stdout, stderr)
}

// parseFlags parses args (internal/cli's conventions); it returns -1 to
// continue, or the exit code: 0 after --help, exitUsage after a bad flag.
func parseFlags(fs *flag.FlagSet, args []string) int {
	switch cli.Parse(fs, args) {
	case cli.Help:
		return exitOK
	case cli.Bad:
		return exitUsage
	}
	return -1
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
