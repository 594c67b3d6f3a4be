package main

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/hostdrift/hostdrift/internal/cli"
)

// completionCommands are the commands whose flags the completion scripts
// offer, as typed after hostdrift.
var completionCommands = [][]string{
	{"check"}, {"serve"}, {"snapshot"}, {"diff"}, {"explain"},
	{"policy", "validate"}, {"policy", "init"}, {"policy", "kinds"},
	{"version"}, {"completion"},
}

var usageFlag = regexp.MustCompile(`(?m)^  (--[a-z0-9-]+)`)

// commandFlags lists a command's flags as its --help prints them: the
// completion scripts are generated from the same flag sets the commands
// parse with, so they cannot fall out of step.
func commandFlags(cmd []string) []string {
	var help bytes.Buffer
	run(append(append([]string{}, cmd...), "--help"), strings.NewReader(""), &help, io.Discard)
	var out []string
	for _, m := range usageFlag.FindAllStringSubmatch(help.String(), -1) {
		out = append(out, m[1])
	}
	return out
}

// runCompletion prints a completion script for bash or zsh: the commands,
// the policy subcommands and each command's flags; other words complete as
// file names.
func runCompletion(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("completion", "completion bash|zsh", stdout, stderr)
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() != 1 || (fs.Arg(0) != "bash" && fs.Arg(0) != "zsh") {
		fmt.Fprintln(stderr, "hostdrift completion: name the shell, bash or zsh (e.g. hostdrift completion bash > /etc/bash_completion.d/hostdrift)")
		return exitUsage
	}
	var cmds []string
	flags := map[string][]string{}
	for _, cmd := range completionCommands {
		if cmd[0] == "completion" {
			continue // it would ask itself for its flags
		}
		name := strings.Join(cmd, " ")
		cmds = append(cmds, name)
		flags[name] = commandFlags(cmd)
	}
	top := []string{"check", "serve", "snapshot", "diff", "explain", "policy", "version", "completion", "help"}
	script, _ := cli.Completion(fs.Arg(0), top, cmds, flags)
	fmt.Fprint(stdout, script)
	return exitOK
}
