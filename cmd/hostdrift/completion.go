package main

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strings"
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
	var cases strings.Builder
	for _, cmd := range completionCommands {
		if cmd[0] == "completion" {
			continue // it would ask itself for its flags
		}
		fmt.Fprintf(&cases, "    %q) flags=%q ;;\n", strings.Join(cmd, " "), strings.Join(commandFlags(cmd), " "))
	}
	top := "check serve snapshot diff explain policy version completion help"
	if fs.Arg(0) == "bash" {
		fmt.Fprintf(stdout, bashCompletion, top, cases.String())
	} else {
		fmt.Fprintf(stdout, zshCompletion, top, cases.String())
	}
	return exitOK
}

// bashCompletion is the bash script: %s the commands, %s the case arms.
const bashCompletion = `# bash completion for hostdrift (hostdrift completion bash)
_hostdrift() {
  local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]} flags=
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W "%s" -- "$cur"))
    return
  fi
  if [[ $cmd == policy ]]; then
    if [[ $COMP_CWORD -eq 2 ]]; then
      COMPREPLY=($(compgen -W "validate init kinds" -- "$cur"))
      return
    fi
    cmd="policy ${COMP_WORDS[2]}"
  fi
  if [[ $cmd == completion ]]; then
    COMPREPLY=($(compgen -W "bash zsh" -- "$cur"))
    return
  fi
  case $cmd in
%s  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    return
  fi
  COMPREPLY=($(compgen -f -- "$cur"))
}
complete -o default -F _hostdrift hostdrift
`

// zshCompletion is the zsh function: %s the commands, %s the case arms.
const zshCompletion = `#compdef hostdrift
# zsh completion for hostdrift (hostdrift completion zsh > "${fpath[1]}/_hostdrift")
_hostdrift() {
  local cmd=${words[2]} flags=
  if (( CURRENT == 2 )); then
    compadd -- %s
    return
  fi
  if [[ $cmd == policy ]]; then
    if (( CURRENT == 3 )); then
      compadd -- validate init kinds
      return
    fi
    cmd="policy ${words[3]}"
  fi
  if [[ $cmd == completion ]]; then
    compadd -- bash zsh
    return
  fi
  case $cmd in
%s  esac
  if [[ $PREFIX == -* ]]; then
    compadd -- ${=flags}
    return
  fi
  _files
}
_hostdrift "$@"
`
