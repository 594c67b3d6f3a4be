package cli

import (
	"fmt"
	"strings"
)

// Completion is the completion script for shell (bash or zsh): top are
// the commands hostdrift takes, and flags each command's flags, keyed by
// the words typed after hostdrift ("policy init"), in the order of cmds;
// other words complete as file names. ok is false for another shell.
func Completion(shell string, top []string, cmds []string, flags map[string][]string) (script string, ok bool) {
	var cases strings.Builder
	for _, cmd := range cmds {
		fmt.Fprintf(&cases, "    %q) flags=%q ;;\n", cmd, strings.Join(flags[cmd], " "))
	}
	switch shell {
	case "bash":
		return fmt.Sprintf(bashCompletion, strings.Join(top, " "), cases.String()), true
	case "zsh":
		return fmt.Sprintf(zshCompletion, strings.Join(top, " "), cases.String()), true
	}
	return "", false
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
