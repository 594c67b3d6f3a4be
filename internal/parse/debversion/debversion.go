// Package debversion compares Debian package versions as dpkg does
// ([epoch:]upstream[-revision], with ~ sorting before everything) and
// parses version constraints such as ">= 3.0.11".
package debversion

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a parsed Debian version.
type Version struct {
	Epoch    int
	Upstream string
	Revision string
}

// Parse splits a version into epoch, upstream version and revision, and
// refuses what dpkg refuses: an empty version, a bad epoch, an upstream
// version that does not start with a digit or holds characters dpkg does
// not allow.
func Parse(s string) (Version, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Version{}, fmt.Errorf("empty version")
	}
	var v Version
	if e, rest, ok := strings.Cut(s, ":"); ok {
		n, err := strconv.Atoi(e)
		if err != nil || n < 0 {
			return Version{}, fmt.Errorf("version %q: epoch %q is not a number", s, e)
		}
		v.Epoch, s = n, rest
	}
	if i := strings.LastIndexByte(s, '-'); i >= 0 {
		v.Upstream, v.Revision = s[:i], s[i+1:]
		if v.Revision == "" {
			return Version{}, fmt.Errorf("version %q: empty revision after '-'", s)
		}
	} else {
		v.Upstream = s
	}
	if v.Upstream == "" {
		return Version{}, fmt.Errorf("version %q: empty upstream version", s)
	}
	if v.Upstream[0] < '0' || v.Upstream[0] > '9' {
		return Version{}, fmt.Errorf("version %q: the upstream version must start with a digit", s)
	}
	for _, c := range v.Upstream + v.Revision {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.ContainsRune(".+~-:", c)) {
			return Version{}, fmt.Errorf("version %q: character %q is not allowed in a version", s, c)
		}
	}
	return v, nil
}

// String writes the version back as dpkg does.
func (v Version) String() string {
	s := v.Upstream
	if v.Epoch > 0 {
		s = strconv.Itoa(v.Epoch) + ":" + s
	}
	if v.Revision != "" {
		s += "-" + v.Revision
	}
	return s
}

// Compare returns -1, 0 or 1 as a sorts before, equal to or after b.
func Compare(a, b Version) int {
	switch {
	case a.Epoch < b.Epoch:
		return -1
	case a.Epoch > b.Epoch:
		return 1
	}
	if c := compareString(a.Upstream, b.Upstream); c != 0 {
		return c
	}
	return compareString(a.Revision, b.Revision)
}

// order is dpkg's weight of a character in the non-digit parts: ~ before
// the end of the string, the end before letters, letters before the rest.
func order(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return 0
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		return int(c)
	case c == '~':
		return -1
	case c == 0:
		return 0
	default:
		return int(c) + 256
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// compareString is dpkg's verrevcmp: alternate non-digit parts compared by
// order and digit parts compared as numbers.
func compareString(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		first := 0
		for i < len(a) && !isDigit(a[i]) || j < len(b) && !isDigit(b[j]) {
			var ca, cb byte
			if i < len(a) {
				ca = a[i]
			}
			if j < len(b) {
				cb = b[j]
			}
			ac, bc := order(ca), order(cb)
			if ca != 0 && isDigit(ca) {
				ac = 0
			}
			if cb != 0 && isDigit(cb) {
				bc = 0
			}
			if ac != bc {
				return sign(ac - bc)
			}
			if i < len(a) && !isDigit(a[i]) {
				i++
			}
			if j < len(b) && !isDigit(b[j]) {
				j++
			}
		}
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		for i < len(a) && isDigit(a[i]) && j < len(b) && isDigit(b[j]) {
			if first == 0 {
				first = int(a[i]) - int(b[j])
			}
			i++
			j++
		}
		if i < len(a) && isDigit(a[i]) {
			return 1
		}
		if j < len(b) && isDigit(b[j]) {
			return -1
		}
		if first != 0 {
			return sign(first)
		}
	}
	return 0
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// Constraint is a relation to a version: ">= 3.0.11".
type Constraint struct {
	Op      string
	Version Version
}

// Operators a constraint may use, dpkg's and their common spellings.
var ops = []string{">=", "<=", ">>", "<<", "!=", "=", ">", "<"}

// ParseConstraint reads "OP VERSION" (OP one of = != >= <= >> << > <,
// where > and < are strict) or a bare version, which means "=".
func ParseConstraint(s string) (Constraint, error) {
	op, s := CutOperator(s)
	v, err := Parse(s)
	if err != nil {
		return Constraint{}, err
	}
	return Constraint{Op: op, Version: v}, nil
}

// CutOperator splits a constraint into its operator (one of = != >= <= >
// <, with dpkg's >> and << read as > and <; "=" when none is written) and
// the version text after it.
func CutOperator(s string) (op, version string) {
	s = strings.TrimSpace(s)
	op = "="
	for _, o := range ops {
		if strings.HasPrefix(s, o) {
			op, s = o, strings.TrimSpace(s[len(o):])
			break
		}
	}
	switch op {
	case ">>":
		op = ">"
	case "<<":
		op = "<"
	}
	return op, s
}

// String writes the constraint as it was meant ("= 1.2", ">= 3.0.11").
func (c Constraint) String() string { return c.Op + " " + c.Version.String() }

// Match reports whether v satisfies the constraint.
func (c Constraint) Match(v Version) bool { return Holds(c.Op, Compare(v, c.Version)) }

// Holds reports whether a comparison's result r (negative, zero or
// positive, as Compare returns) satisfies the operator op as CutOperator
// gives it ("=", "!=", ">=", "<=", ">", "<"); any other is false. rpm's
// constraints use it too.
func Holds(op string, r int) bool {
	switch op {
	case "=":
		return r == 0
	case "!=":
		return r != 0
	case ">=":
		return r >= 0
	case "<=":
		return r <= 0
	case ">":
		return r > 0
	case "<":
		return r < 0
	}
	return false
}
