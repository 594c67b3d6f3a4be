package crontab

import (
	"path"
	"slices"
	"strings"
)

// Command is what a job's shell command runs and where its output goes, as
// far as reading it can tell.
type Command struct {
	// Programs are the programs the command starts, in order; shell
	// builtins are left out.
	Programs []Program
	// ToCron lists the streams ("stdout", "stderr") that are not
	// redirected and so reach cron, which mails them.
	ToCron []string
	// Files are the files output is redirected to, /dev/null left out.
	Files []string
}

// Program is one program a command starts, or a script an interpreter reads.
type Program struct {
	// Word is as written, with ~, $HOME and ${HOME} expanded.
	Word string
	// Dir is where a relative Word is found: the folder of a preceding
	// cd, or empty for the job's home folder.
	Dir string
	// Script marks a file an interpreter reads (python3 /opt/x.py, sh
	// x.sh, . x): it must exist and be readable, not executable.
	Script bool
	// Guarded marks a program the command tests for before running it
	// (test -x P && P, command -v P): its absence is expected.
	Guarded bool
	// Unresolved marks a word holding a variable or a substitution that
	// cannot be known by reading.
	Unresolved bool
}

// quiet are builtins (and trivial programs) that start nothing and whose
// output, if any, is not a job's.
var quiet = map[string]bool{
	"cd": true, "test": true, "[": true, "[[": true, ":": true, "true": true, "false": true,
	"export": true, "set": true, "unset": true, "exit": true, "return": true, "umask": true,
	"ulimit": true, "trap": true, "shift": true, "local": true, "wait": true, "read": true,
	"command": true, "type": true, "hash": true, "which": true, "for": true, "case": true, "esac": true,
	"fi": true, "done": true,
}

// talkers are builtins that start nothing but do write output.
var talkers = map[string]bool{"echo": true, "printf": true, "eval": true, "kill": true, "let": true}

// prefixes run the rest of the line as the command.
var prefixes = map[string]bool{"exec": true, "nohup": true, "time": true, "nice": true}

var keywords = map[string]bool{"if": true, "then": true, "else": true, "elif": true, "do": true, "while": true, "until": true, "!": true}

// Analyze reads a job's command: the programs it starts and where its
// output goes. home is the job's home folder, for ~ and $HOME.
func Analyze(cmd, home string) Command {
	a := &analysis{home: home, guards: map[string]bool{}}
	toks := a.tokenize(cmd)
	p := &parser{toks: toks}
	list := p.list("")
	dir := ""
	a.walk(list, "", "", &dir)
	for i := range a.out.Programs {
		w := a.out.Programs[i].Word
		if a.guards[w] || a.guards[path.Base(w)] {
			a.out.Programs[i].Guarded = true
		}
	}
	return a.out
}

type analysis struct {
	home   string
	guards map[string]bool
	out    Command
}

// token is a word or an operator; redirections carry their fd and target.
type token struct {
	op      string // "" for a word
	word    string
	dynamic bool // the word holds $VAR, $(...) or `...`
	fd      string
}

func isOpChar(c byte) bool { return strings.IndexByte(";&|()<>", c) >= 0 }

func (a *analysis) tokenize(s string) []token {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t'):
			return toks
		case isOpChar(c):
			op := readOp(s[i:])
			i += len(op)
			toks = append(toks, token{op: op})
		default:
			start := i
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
			if i > start && i < len(s) && (s[i] == '>' || s[i] == '<') {
				op := readOp(s[i:])
				i += len(op)
				toks = append(toks, token{op: op, fd: s[start : i-len(op)]})
				continue
			}
			i = start
			w, dyn, n := a.readWord(s[i:])
			i += n
			toks = append(toks, token{word: w, dynamic: dyn})
		}
	}
	return toks
}

func readOp(s string) string {
	for _, op := range []string{"&>>", "&&", "||", "|&", ";;", ">>", ">|", ">&", "<<<", "<<", "<&", "&>", ";", "&", "|", "(", ")", ">", "<"} {
		if strings.HasPrefix(s, op) {
			return op
		}
	}
	return s[:1]
}

// readWord reads one shell word, removing quotes and expanding ~ and HOME;
// it returns the word, whether it is dynamic, and the bytes consumed.
func (a *analysis) readWord(s string) (string, bool, int) {
	var b strings.Builder
	dyn := false
	i := 0
	if strings.HasPrefix(s, "~") && (len(s) == 1 || s[1] == '/' || s[1] == ' ') {
		b.WriteString(a.home)
		i = 1
	}
	expand := func(j int) int { // at a '$'; returns bytes used
		rest := s[j:]
		for _, v := range []string{"${HOME}", "$HOME"} {
			if strings.HasPrefix(rest, v) && (v[1] == '{' || len(rest) == len(v) || !isNameChar(rest[len(v)])) {
				b.WriteString(a.home)
				return len(v)
			}
		}
		dyn = true
		if strings.HasPrefix(rest, "$(") {
			depth := 0
			for k := 1; k < len(rest); k++ {
				switch rest[k] {
				case '(':
					depth++
				case ')':
					depth--
					if depth == 0 {
						b.WriteString(rest[:k+1])
						return k + 1
					}
				}
			}
		}
		b.WriteByte('$')
		return 1
	}
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || isOpChar(c):
			return b.String(), dyn, i
		case c == '\\' && i+1 < len(s):
			b.WriteByte(s[i+1])
			i += 2
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				end = len(s) - i - 1
			}
			b.WriteString(s[i+1 : i+1+end])
			i += end + 2
		case c == '"':
			i++
			for i < len(s) && s[i] != '"' {
				switch {
				case s[i] == '\\' && i+1 < len(s):
					b.WriteByte(s[i+1])
					i += 2
				case s[i] == '$':
					i += expand(i)
				case s[i] == '`':
					dyn = true
					b.WriteByte('`')
					i++
				default:
					b.WriteByte(s[i])
					i++
				}
			}
			i++
		case c == '$':
			i += expand(i)
		case c == '`':
			dyn = true
			end := strings.IndexByte(s[i+1:], '`')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String(), dyn, len(s)
			}
			b.WriteString(s[i : i+end+2])
			i += end + 2
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), dyn, min(i, len(s))
}

func isNameChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// A list is pipelines joined by ; & && ||; a pipeline is commands joined
// by |; a command is a simple one or a group, with its redirections.
type (
	list     []pipeline
	pipeline struct {
		cmds       []*command
		pipeStderr []bool // |& after cmds[i]
	}
	command struct {
		words  []token
		redirs []token // op, fd and the target in word
		group  list
	}
)

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() *token {
	if p.i < len(p.toks) {
		return &p.toks[p.i]
	}
	return nil
}

func (p *parser) list(until string) list {
	var l list
	for {
		t := p.peek()
		if t == nil || t.op == ")" || (until == "}" && t.op == "" && t.word == "}") {
			return l
		}
		if t.op == ";" || t.op == "&" || t.op == "&&" || t.op == "||" || t.op == ";;" {
			p.i++
			continue
		}
		l = append(l, p.pipeline(until))
	}
}

func (p *parser) pipeline(until string) pipeline {
	var pl pipeline
	for {
		pl.cmds = append(pl.cmds, p.command(until))
		t := p.peek()
		if t == nil || (t.op != "|" && t.op != "|&") {
			return pl
		}
		pl.pipeStderr = append(pl.pipeStderr, t.op == "|&")
		p.i++
	}
}

func (p *parser) command(until string) *command {
	c := &command{}
	if t := p.peek(); t != nil && (t.op == "(" || (t.op == "" && t.word == "{")) {
		closer := ")"
		if t.op == "" {
			closer = "}"
		}
		p.i++
		c.group = p.list(closer)
		if t := p.peek(); t != nil {
			p.i++ // the closer
		}
	}
	for {
		t := p.peek()
		if t == nil {
			return c
		}
		switch {
		case t.op == "" && c.group == nil && !(until == "}" && t.word == "}" && len(c.words) == 0):
			if len(c.words) == 0 && keywords[t.word] {
				p.i++
				continue
			}
			c.words = append(c.words, *t)
			p.i++
		case t.op == "" && c.group != nil:
			p.i++ // words after a group: a syntax error to the shell
		case strings.ContainsAny(t.op, "<>"):
			r := *t
			p.i++
			if n := p.peek(); n != nil && n.op == "" {
				r.word, r.dynamic = n.word, n.dynamic
				p.i++
			}
			c.redirs = append(c.redirs, r)
		default:
			return c
		}
	}
}

// walk follows the output of every command: out and errOut are where its
// stdout and stderr go ("" for cron, "|" for a pipe, or a file).
func (a *analysis) walk(l list, out, errOut string, dir *string) {
	for _, pl := range l {
		for i, c := range pl.cmds {
			o, e := out, errOut
			if i < len(pl.cmds)-1 {
				o = "|"
				if pl.pipeStderr[i] {
					e = "|"
				}
			}
			o, e = a.redirect(c.redirs, o, e)
			if c.group != nil {
				sub := *dir
				a.walk(c.group, o, e, &sub)
				continue
			}
			a.simple(c.words, o, e, dir)
		}
	}
}

// redirect applies redirections in order.
func (a *analysis) redirect(redirs []token, o, e string) (string, string) {
	for _, r := range redirs {
		if strings.HasPrefix(r.op, "<") {
			continue
		}
		target := r.word
		switch {
		case r.op == ">&" && (target == "1" || target == "2"):
			src := map[string]string{"1": o, "2": e}[target]
			if r.fd == "2" {
				e = src
			} else if r.fd == "" || r.fd == "1" {
				o = src
			}
			continue
		case r.op == "&>" || r.op == "&>>" || (r.op == ">&" && r.fd == ""):
			o, e = target, target
		case r.fd == "2":
			e = target
		case r.fd == "" || r.fd == "1":
			o = target
		default:
			continue
		}
		if target != "/dev/null" && !slices.Contains(a.out.Files, target) {
			a.out.Files = append(a.out.Files, target)
		}
	}
	return o, e
}

func (a *analysis) reach(stream string) {
	if !slices.Contains(a.out.ToCron, stream) {
		a.out.ToCron = append(a.out.ToCron, stream)
	}
}

func isAssignment(w string) bool {
	name, _, ok := strings.Cut(w, "=")
	return ok && name != "" && strings.IndexFunc(name, func(r rune) bool { return r > 127 || !isNameChar(byte(r)) }) < 0
}

func (a *analysis) simple(words []token, o, e string, dir *string) {
	for len(words) > 0 && isAssignment(words[0].word) {
		words = words[1:]
	}
	for len(words) > 0 && prefixes[words[0].word] {
		words = words[1:]
		for len(words) > 0 && strings.HasPrefix(words[0].word, "-") {
			if words[0].word == "-n" && len(words) > 1 {
				words = words[1:]
			}
			words = words[1:]
		}
	}
	if len(words) == 0 {
		return
	}
	name := words[0].word
	args := words[1:]
	if !quiet[name] {
		if o == "" {
			a.reach("stdout")
		}
		if e == "" {
			a.reach("stderr")
		}
	}
	switch {
	case name == "cd":
		switch {
		case len(args) == 0:
			*dir = ""
		case strings.HasPrefix(args[0].word, "/") && !args[0].dynamic:
			*dir = args[0].word
		}
	case name == "test" || name == "[" || name == "[[":
		for i := 0; i+1 < len(args); i++ {
			switch args[i].word {
			case "-x", "-e", "-f", "-r", "-s":
				a.guards[args[i+1].word] = true
			}
		}
	case name == "command" || name == "type" || name == "hash" || name == "which":
		for _, w := range args {
			if !strings.HasPrefix(w.word, "-") {
				a.guards[w.word] = true
			}
		}
		if name == "command" && len(args) > 0 && !strings.HasPrefix(args[0].word, "-") {
			a.simple(args, o, e, dir)
		}
	case name == "." || name == "source":
		if len(args) > 0 {
			a.add(Program{Word: args[0].word, Dir: *dir, Script: true, Unresolved: args[0].dynamic})
		}
	case quiet[name] || talkers[name]:
	default:
		a.add(Program{Word: name, Dir: *dir, Unresolved: words[0].dynamic})
		a.interpreted(name, args, o, e, dir)
	}
}

func (a *analysis) add(p Program) {
	if p.Word != "" {
		a.out.Programs = append(a.out.Programs, p)
	}
}

// interpreted adds the script an interpreter runs, or analyzes the
// command string of sh -c.
func (a *analysis) interpreted(name string, args []token, o, e string, dir *string) {
	base := path.Base(name)
	shell := base == "sh" || base == "bash" || base == "dash" || base == "zsh" || base == "ksh"
	interp := shell || strings.HasPrefix(base, "python") || strings.HasPrefix(base, "perl") ||
		strings.HasPrefix(base, "php") || strings.HasPrefix(base, "ruby") || base == "node" || base == "nodejs" || base == "Rscript" || strings.HasPrefix(base, "lua")
	if !interp {
		return
	}
	for i, w := range args {
		switch {
		case w.word == "-c" && shell && i+1 < len(args):
			inner := &analysis{home: a.home, guards: a.guards}
			p := &parser{toks: inner.tokenize(args[i+1].word)}
			sub := *dir
			inner.walk(p.list(""), o, e, &sub)
			a.out.Programs = append(a.out.Programs, inner.out.Programs...)
			for _, s := range inner.out.ToCron {
				a.reach(s)
			}
			for _, f := range inner.out.Files {
				if !slices.Contains(a.out.Files, f) {
					a.out.Files = append(a.out.Files, f)
				}
			}
			return
		case w.word == "-c" || w.word == "-m" || w.word == "-e" || w.word == "-r" || w.word == "--":
			return
		case strings.HasPrefix(w.word, "-"):
			continue
		default:
			a.add(Program{Word: w.word, Dir: *dir, Script: true, Unresolved: w.dynamic})
			return
		}
	}
}
