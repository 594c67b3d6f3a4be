package crontab

import (
	"bufio"
	"io"
	"strings"
)

// SystemdDir is the folder that exists when systemd is the init system
// (sd_booted(3)); packages' cron jobs test it and leave the work to a
// systemd timer.
const SystemdDir = "/run/systemd/system"

// maxGuardHead bounds how much of a script is read for its guard.
const (
	maxGuardLines = 64
	maxGuardBytes = 16 << 10
)

// SystemdGuarded reports whether a cron command does nothing when systemd
// is the init system: it is a test that SystemdDir exists followed by ||
// and one command (Debian's e2scrub_all: "test -e /run/systemd/system ||
// SERVICE_MODE=1 /sbin/e2scrub_all -A -r"), or an if on its absence around
// the whole rest ("if [ ! -d /run/systemd/system ]; then ...; fi"), either
// possibly after "[ -x PROGRAM ] &&" tests. Anything after the guarded part
// (a ; or && at the top level) would run anyway, and is not guarded.
func SystemdGuarded(cmd string) bool {
	toks := (&analysis{guards: map[string]bool{}}).tokenize(cmd)
	for len(toks) > 0 && toks[len(toks)-1].op == ";" {
		toks = toks[:len(toks)-1]
	}
	i := 0
	for {
		end, ok := testCommand(toks, i)
		if !ok || end >= len(toks) || toks[end].op != "&&" {
			break
		}
		if _, neg, ok := systemdTest(toks, i); ok && !neg {
			return false // "systemd runs && X": X runs under systemd
		}
		i = end + 1
	}
	if end, neg, ok := systemdTest(toks, i); ok && !neg && end < len(toks) && toks[end].op == "||" {
		rest := toks[end+1:]
		return len(rest) > 0 && !topLevelList(rest)
	}
	if i < len(toks) && isWord(toks[i], "if") {
		end, neg, ok := systemdTest(toks, i+1)
		if !ok || !neg || end+1 >= len(toks) || toks[end].op != ";" || !isWord(toks[end+1], "then") {
			return false
		}
		body := toks[end+2:]
		if len(body) == 0 || !isWord(body[len(body)-1], "fi") {
			return false
		}
		// The if must close at the very end, with no else branch.
		depth := 1
		for k, t := range body {
			switch {
			case isWord(t, "if"):
				depth++
			case isWord(t, "fi"):
				depth--
				if depth == 0 && k != len(body)-1 {
					return false
				}
			case depth == 1 && (isWord(t, "else") || isWord(t, "elif")):
				return false
			}
		}
		return depth == 0
	}
	return false
}

// SystemdGuardedScript reports whether a shell script exits at once, with
// status 0, when systemd is the init system: after its #! line, comments and
// set commands, its first statement is "if [ -d /run/systemd/system ]; then
// exit 0; fi" (over one or several lines) or "[ -d /run/systemd/system ] &&
// exit 0", as Debian's apt-compat, dpkg, logrotate and man-db jobs begin. It
// returns the guard's line. Only the script's head is read.
func SystemdGuardedScript(r io.Reader) (int, bool) {
	sc := bufio.NewScanner(io.LimitReader(r, maxGuardBytes))
	var toks []token
	var lines []int // line of each token
	a := &analysis{guards: map[string]bool{}}
	for n := 1; n <= maxGuardLines && sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			if !shellShebang(line) {
				return 0, false
			}
			continue
		}
		if strings.HasSuffix(line, "\\") {
			break // a continued line: too clever to read here
		}
		for _, t := range a.tokenize(line) {
			toks, lines = append(toks, t), append(lines, n)
		}
		if len(toks) > 0 && toks[len(toks)-1].op != ";" {
			toks, lines = append(toks, token{op: ";"}), append(lines, n)
		}
	}
	i := 0
	// set -e, set -u...: they change nothing before the guard.
	for i < len(toks) && isWord(toks[i], "set") {
		for i < len(toks) && toks[i].op != ";" {
			i++
		}
		i++
	}
	if i >= len(toks) {
		return 0, false
	}
	skipSemis := func(k int) int {
		for k < len(toks) && toks[k].op == ";" {
			k++
		}
		return k
	}
	// exitZero matches "exit" or "exit 0" at k and returns what follows.
	exitZero := func(k int) (int, bool) {
		if k >= len(toks) || !isWord(toks[k], "exit") {
			return 0, false
		}
		k++
		if k < len(toks) && toks[k].op == "" {
			if toks[k].word != "0" {
				return 0, false
			}
			k++
		}
		return k, k >= len(toks) || toks[k].op == ";"
	}
	start := lines[i]
	if isWord(toks[i], "if") {
		end, neg, ok := systemdTest(toks, i+1)
		if !ok || neg || end >= len(toks) || toks[end].op != ";" {
			return 0, false
		}
		k := skipSemis(end)
		if k >= len(toks) || !isWord(toks[k], "then") {
			return 0, false
		}
		k, ok = exitZero(skipSemis(k + 1))
		if !ok {
			return 0, false
		}
		k = skipSemis(k)
		return start, k < len(toks) && isWord(toks[k], "fi")
	}
	end, neg, ok := systemdTest(toks, i)
	if !ok || neg || end >= len(toks) || toks[end].op != "&&" {
		return 0, false
	}
	_, ok = exitZero(end + 1)
	return start, ok
}

// shellShebang reports whether a #! line runs a POSIX shell.
func shellShebang(line string) bool {
	rest, ok := strings.CutPrefix(line, "#!")
	if !ok {
		return false
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return false
	}
	prog := f[0]
	if strings.HasSuffix(prog, "/env") && len(f) > 1 {
		prog = f[1]
	}
	switch prog[strings.LastIndexByte(prog, '/')+1:] {
	case "sh", "bash", "dash":
		return true
	}
	return false
}

func isWord(t token, w string) bool { return t.op == "" && t.word == w }

// testCommand matches a test command at i ("test ARGS", "[ ARGS ]",
// "[[ ARGS ]]", possibly after "!") and returns the index after it.
func testCommand(toks []token, i int) (int, bool) {
	if i < len(toks) && isWord(toks[i], "!") {
		i++
	}
	if i >= len(toks) || toks[i].op != "" {
		return 0, false
	}
	closer := ""
	switch toks[i].word {
	case "test":
	case "[":
		closer = "]"
	case "[[":
		closer = "]]"
	default:
		return 0, false
	}
	k := i + 1
	for k < len(toks) && toks[k].op == "" {
		if closer != "" && toks[k].word == closer {
			return k + 1, true
		}
		k++
	}
	return k, closer == ""
}

// systemdTest matches a test that SystemdDir exists (-d or -e) at i, and
// says whether it is negated (! test, test !, [ ! ... ]).
func systemdTest(toks []token, i int) (end int, negated bool, ok bool) {
	end, ok = testCommand(toks, i)
	if !ok {
		return 0, false, false
	}
	var args []string
	for _, t := range toks[i:end] {
		args = append(args, t.word)
	}
	if args[0] == "!" {
		negated, args = true, args[1:]
	}
	args = args[1:] // test, [ or [[
	if len(args) > 0 && (args[len(args)-1] == "]" || args[len(args)-1] == "]]") {
		args = args[:len(args)-1]
	}
	if len(args) == 3 && args[0] == "!" {
		negated, args = !negated, args[1:]
	}
	if len(args) != 2 || (args[0] != "-d" && args[0] != "-e") || strings.TrimSuffix(args[1], "/") != SystemdDir {
		return 0, false, false
	}
	return end, negated, true
}

// topLevelList reports whether toks hold a list operator (; & && ||) outside
// any group, if, case or loop: a part that would run whatever came before.
func topLevelList(toks []token) bool {
	depth := 0
	for _, t := range toks {
		switch {
		case t.op == "(" || isWord(t, "{") || isWord(t, "if") || isWord(t, "case") || isWord(t, "while") || isWord(t, "until") || isWord(t, "for"):
			depth++
		case t.op == ")" || isWord(t, "}") || isWord(t, "fi") || isWord(t, "esac") || isWord(t, "done"):
			depth--
		case depth == 0 && (t.op == ";" || t.op == "&" || t.op == "&&" || t.op == "||" || t.op == ";;"):
			return true
		}
	}
	return false
}
