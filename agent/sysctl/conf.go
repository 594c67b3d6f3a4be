package sysctl

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Assignment is one "key = value" line of a sysctl.d file.
type Assignment struct {
	// Key is in dotted form (see Normalize); it may hold a glob.
	Key   string
	Value string
	// Line is where it is ("/etc/sysctl.d/90-net.conf:3").
	Line string
	// IgnoreErrors: the line starts with "-".
	IgnoreErrors bool
	// Exclude: the line starts with "!" and keeps a glob from this key.
	Exclude bool
}

// Glob reports whether the key is a pattern (systemd accepts * ? [).
func (a Assignment) Glob() bool { return strings.ContainsAny(a.Key, "*?[") }

// Normalize writes a key in dotted form: a key whose first separator is
// "/" (net/ipv4/conf/eth0.100/rp_filter) has its dots and slashes swapped,
// so a dot inside a name becomes "/" (net.ipv4.conf.eth0/100.rp_filter).
func Normalize(key string) string {
	i := strings.IndexAny(key, "./")
	if i < 0 || key[i] == '.' {
		return key
	}
	return swap(key)
}

// validKey reports whether a dotted key names a file below /proc/sys: no
// blank, no empty, "." or ".." component.
func validKey(key string) bool {
	if key == "" || strings.ContainsAny(key, " \t\x00") {
		return false
	}
	for _, c := range strings.Split(swap(key), "/") {
		if c == "" || c == "." || c == ".." {
			return false
		}
	}
	return true
}

// Path returns the key's file below /proc/sys.
func Path(key string) string { return "/proc/sys/" + swap(key) }

func swap(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return '/'
		case '/':
			return '.'
		}
		return r
	}, s)
}

// ParseConf reads sysctl.d(5) syntax: "key = value" lines, comments
// starting with # or ;, a "-" before the key to ignore a failure, a "!"
// to exclude a key from a glob. name is the file's path, for Line.
func ParseConf(r io.Reader, name string) ([]Assignment, []string) {
	var out []Assignment
	var errs []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		a := Assignment{Line: fmt.Sprintf("%s:%d", name, n)}
		if strings.HasPrefix(line, "-") {
			a.IgnoreErrors, line = true, line[1:]
		}
		k, v, ok := strings.Cut(line, "=")
		if strings.HasPrefix(line, "!") {
			a.Exclude, k, ok = true, line[1:], true
			v = ""
		}
		k = strings.TrimSpace(k)
		if !ok || !validKey(Normalize(k)) {
			errs = append(errs, fmt.Sprintf("%s: %q is not \"key = value\"", a.Line, line))
			continue
		}
		a.Key, a.Value = Normalize(k), strings.Join(strings.Fields(v), " ")
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Sprintf("%s:%d: %v", name, n+1, err))
	}
	return out, errs
}
