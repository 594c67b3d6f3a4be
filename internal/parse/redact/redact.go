// Package redact removes secrets from command lines before they are recorded:
// passwords, tokens and keys given as flags, environment assignments or URL
// credentials.
package redact

import (
	"path"
	"regexp"
	"strings"
)

// Replacement is the text that stands in for a removed secret.
const Replacement = "REDACTED"

// Cmdline returns the shell-like command line s with the values of secret
// flags (--password=x, --api-key x), secret assignments (DB_PASSWORD=x,
// -Dkeystore.password=x), URL credentials (scheme://user:x@host) and
// authorization headers replaced by REDACTED. Words are split on blanks, with
// single and double quotes kept together; everything else is left as it was.
func Cmdline(s string) string {
	spans := split(s)
	if len(spans) == 0 {
		return s
	}
	words := make([]string, len(spans))
	for i, sp := range spans {
		words[i] = s[sp.start:sp.end]
	}
	red := redactWords(words, true)
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for i, sp := range spans {
		b.WriteString(s[last:sp.start])
		b.WriteString(red[i])
		last = sp.end
	}
	b.WriteString(s[last:])
	return b.String()
}

// Args is Cmdline for a command already split into its arguments (argv, as in
// /proc/PID/cmdline): each argument is one word, whatever blanks it holds. It
// returns a new slice.
func Args(args []string) []string {
	return redactWords(args, false)
}

type span struct{ start, end int }

// split cuts s into blank-separated words, keeping quoted blanks inside them.
func split(s string) []span {
	var out []span
	start := -1
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' && i+1 < len(s) {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == ' ' || c == '\t' || c == '\n': // the shell's blanks: a carriage return is part of a word
			if start >= 0 {
				out = append(out, span{start, i})
				start = -1
			}
		default:
			if start < 0 {
				start = i
			}
			if c == '\'' || c == '"' {
				quote = c
			} else if c == '\\' && i+1 < len(s) {
				i++
			}
		}
	}
	if start >= 0 {
		out = append(out, span{start, len(s)})
	}
	return out
}

// unquote removes shell quoting from a word, roughly: quotes go, backslashes
// escape the next character. Good enough to recognise names.
func unquote(w string) string {
	if !strings.ContainsAny(w, `'"\`) {
		return w
	}
	var b strings.Builder
	var quote byte
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '\'' || c == '"'):
			quote = c
		case c == '\\' && quote != '\'' && i+1 < len(w):
			i++
			b.WriteByte(w[i])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// separators end one command and start another inside a shell line.
var separators = map[string]bool{";": true, "&&": true, "||": true, "|": true, "&": true}

// redactWords redacts a list of words; shell says whether the words may carry
// shell quoting and separators (a command line string) or are exact argv.
func redactWords(words []string, shell bool) []string {
	out := make([]string, len(words))
	copy(out, words)
	// plain holds the words as the program sees them, tail any ';' that ends
	// a command inside a shell word ("secret;"), kept on replacement.
	plain := make([]string, len(words))
	tail := make([]string, len(words))
	for i, w := range words {
		plain[i] = w
		if shell {
			plain[i] = unquote(w)
			if len(plain[i]) > 1 && strings.HasSuffix(plain[i], ";") {
				plain[i], tail[i] = strings.TrimSuffix(plain[i], ";"), ";"
			}
		}
	}
	set := func(i int, s string) { out[i] = s + tail[i] }
	prog := ""
	for i := 0; i < len(words); i++ {
		w := plain[i]
		if shell && separators[w] {
			prog = ""
			continue
		}
		if p, ok := knownProgram(w); ok {
			prog = p
		} else if next, ok := redactProgramFlag(prog, plain, i, set); ok {
			i = next
		} else if name, value, ok := strings.Cut(w, "="); ok && value != "" && looksLikeName(name) {
			key := strings.TrimLeft(name, "-")
			if strings.HasPrefix(name, "-D") {
				key = name[2:] // Java system property: -Dx.password=...
			}
			if isSecretName(key, value) {
				set(i, name+"="+Replacement)
			}
		} else if name := strings.TrimLeft(w, "-"); name != w && len(name) > 1 && !strings.Contains(w, "=") && i+1 < len(words) {
			// A flag followed by another flag, or by nothing, has no value
			// here (mysql --password prompts for it).
			v := plain[i+1]
			if v != "" && !strings.HasPrefix(v, "-") && !(shell && separators[v]) && isSecretName(name, v) {
				set(i+1, Replacement)
				i++
			}
		}
		if tail[i] != "" {
			prog = ""
		}
	}
	for i := range out {
		out[i] = redactInline(out[i])
		if out[i] == words[i] {
			out[i] = redactNested(out[i], shell)
		}
	}
	return out
}

// redactNested redacts a word that is itself a command line, as the argument
// of sh -c: a whole argv element holding blanks, or a quoted shell word.
func redactNested(w string, shell bool) string {
	if !shell {
		if strings.ContainsAny(w, " \t") {
			return Cmdline(w)
		}
		return w
	}
	if len(w) < 2 || (w[0] != '\'' && w[0] != '"') || w[len(w)-1] != w[0] {
		return w
	}
	inner := w[1 : len(w)-1]
	if !strings.ContainsAny(inner, " \t") || strings.IndexByte(inner, w[0]) >= 0 {
		return w
	}
	return w[:1] + Cmdline(inner) + w[:1]
}

// looksLikeName reports whether the text before '=' is a flag or variable
// name rather than, say, part of a URL query or an expression.
func looksLikeName(name string) bool {
	n := strings.TrimLeft(name, "-")
	if n == "" || len(name)-len(n) > 2 {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// strongWords make a name secret wherever they appear in it, as a whole
// segment or a segment's suffix (DBPASSWORD, clientSecret).
var strongWords = []string{
	"password", "passwd", "passphrase", "secret", "token",
	"credential", "credentials", "apikey", "accesskey", "privatekey", "secretkey",
	"passwords", "secrets", "tokens",
}

// weakWords make a name secret only as its last segment, where they name the
// value itself (--auth x, API_KEY=x) and not something about it (SSH_AUTH_SOCK).
var weakWords = map[string]bool{"pass": true, "key": true, "auth": true, "pwd": true}

// notSecretSuffixes end names whose value is about a secret, not the secret:
// --password-file=/run/secrets/db, TOKEN_URL=https://...
var notSecretSuffixes = map[string]bool{
	"file": true, "files": true, "path": true, "dir": true, "sock": true, "socket": true,
	"url": true, "uri": true, "type": true, "name": true, "id": true, "len": true,
	"length": true, "min": true, "max": true, "enabled": true, "enable": true,
	"disable": true, "disabled": true, "required": true, "mode": true, "timeout": true,
	"ttl": true, "header": true, "env": true, "command": true, "cmd": true,
	"helper": true, "method": true, "endpoint": true, "host": true, "port": true,
	"user": true, "username": true, "format": true, "policy": true, "prompt": true,
	"stdin": true, "fd": true, "store": true, "provider": true, "plugin": true,
}

// notSecretPrefixes start boolean flags (--no-auth, --skip-token).
var notSecretPrefixes = map[string]bool{"no": true, "skip": true, "disable": true, "enable": true, "use": true, "with": true, "without": true}

// isSecretName reports whether a flag or variable named name carries a secret
// as its value.
func isSecretName(name, value string) bool {
	segs := strings.FieldsFunc(strings.ToLower(name), func(r rune) bool {
		return r == '-' || r == '_' || r == '.'
	})
	if len(segs) == 0 || notSecretPrefixes[segs[0]] && len(segs) > 1 {
		return false
	}
	last := segs[len(segs)-1]
	if weakWords[last] {
		switch last {
		case "pwd":
			// PWD is the working directory; MYSQL_PWD is a password.
			return len(segs) > 1
		case "key":
			// --ssl-key /etc/ssl/private/x.pem names a file, not a secret.
			return !looksLikePath(value)
		}
		return true
	}
	if notSecretSuffixes[last] {
		return false
	}
	for _, s := range segs {
		for _, w := range strongWords {
			if strings.HasSuffix(s, w) {
				return true
			}
		}
	}
	return false
}

func looksLikePath(v string) bool {
	return strings.HasPrefix(v, "/") || strings.HasPrefix(v, "./") || strings.HasPrefix(v, "~/") || strings.HasPrefix(v, "../")
}

// programs whose short flags carry secrets, by program name.
var programs = map[string]string{
	"mysql": "mysql", "mysqldump": "mysql", "mysqladmin": "mysql", "mysqlimport": "mysql",
	"mysqlshow": "mysql", "mysqlcheck": "mysql", "mariadb": "mysql", "mariadb-dump": "mysql",
	"mariadb-admin": "mysql", "mysqlpump": "mysql",
	"redis-cli": "redis-cli", "valkey-cli": "redis-cli",
	"sshpass": "sshpass",
	"curl":    "curl",
}

// knownProgram reports whether the word runs one of the programs whose short
// flags carry secrets.
func knownProgram(w string) (string, bool) {
	p, ok := programs[path.Base(w)]
	return p, ok
}

// redactProgramFlag handles the short secret flags of known programs:
// mysql -pSECRET, redis-cli -a SECRET, sshpass -p SECRET, curl -u user:SECRET.
// It reports whether word i was such a flag, and the index of the last word
// it consumed.
func redactProgramFlag(prog string, words []string, i int, set func(int, string)) (last int, handled bool) {
	w := words[i]
	hasNext := i+1 < len(words)
	switch prog {
	case "mysql":
		if strings.HasPrefix(w, "-p") && len(w) > 2 {
			set(i, "-p"+Replacement)
			return i, true
		}
	case "redis-cli", "sshpass":
		flag := "-a"
		if prog == "sshpass" {
			flag = "-p"
		}
		if w == flag && hasNext {
			set(i+1, Replacement)
			return i + 1, true
		}
		if strings.HasPrefix(w, flag) && len(w) > 2 {
			set(i, flag+Replacement)
			return i, true
		}
	case "curl":
		if (w == "-u" || w == "--user" || w == "-U" || w == "--proxy-user") && hasNext {
			if user, _, ok := strings.Cut(words[i+1], ":"); ok {
				set(i+1, user+":"+Replacement)
				return i + 1, true
			}
		}
		for _, f := range []string{"--user=", "--proxy-user="} {
			if v, ok := strings.CutPrefix(w, f); ok {
				if user, _, ok := strings.Cut(v, ":"); ok {
					set(i, f+user+":"+Replacement)
					return i, true
				}
			}
		}
	}
	return i, false
}

var (
	// urlCreds matches scheme://user:password@ and keeps the user.
	urlCreds = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://[^\s/:@'"]*):[^\s/'"]*@`)
	// authHeader matches an Authorization-style header and its value.
	authHeader = regexp.MustCompile(`(?i)((?:proxy-)?authorization|x-api-key|x-auth-token|private-token|api-key)(\s*:\s*)((?:bearer|basic|token|digest|negotiate)\s+)?[^\s'"]+`)
	// queryParam matches one name=value pair of a URL query.
	queryParam = regexp.MustCompile(`([?&;])([A-Za-z0-9_.\-]+)=([^&#\s'"]*)`)
)

// redactInline redacts secrets that sit inside a word: URL credentials and
// authorization headers.
func redactInline(w string) string {
	if strings.Contains(w, "://") {
		w = urlCreds.ReplaceAllString(w, "${1}:"+Replacement+"@")
	}
	if strings.Contains(w, "?") {
		w = queryParam.ReplaceAllStringFunc(w, func(m string) string {
			sub := queryParam.FindStringSubmatch(m)
			if sub[3] == "" || !isSecretName(sub[2], sub[3]) {
				return m
			}
			return sub[1] + sub[2] + "=" + Replacement
		})
	}
	if strings.Contains(w, ":") {
		w = authHeader.ReplaceAllStringFunc(w, func(m string) string {
			sub := authHeader.FindStringSubmatch(m)
			return sub[1] + sub[2] + sub[3] + Replacement
		})
	}
	return w
}
