// Package rpmversion compares rpm package versions as rpm does
// ([epoch:]version[-release], each part with rpmvercmp's rules: runs of
// digits compared as numbers, runs of letters as strings, a number newer
// than letters, ~ before anything, ^ after the end of the base but before
// any further segment).
package rpmversion

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hostdrift/hostdrift/internal/parse/debversion"
)

// Version is a parsed rpm version.
type Version struct {
	// Epoch is the number before ':'; HasEpoch says whether one was written.
	Epoch    int
	HasEpoch bool
	Version  string
	// Release is what follows the last '-'; empty when none was written.
	Release string
}

// Parse splits s into epoch, version and release as rpm's parseEVR does,
// refusing an empty version, a non-numeric epoch, or a character rpmbuild
// refuses in a version or release (all but letters, digits and ._+~^).
func Parse(s string) (Version, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Version{}, fmt.Errorf("empty version")
	}
	var v Version
	rest := s
	if e, after, ok := strings.Cut(s, ":"); ok {
		if e != "" {
			n, err := strconv.Atoi(e)
			if err != nil || n < 0 {
				return Version{}, fmt.Errorf("version %q: epoch %q is not a number", s, e)
			}
			v.Epoch = n
		}
		v.HasEpoch, rest = true, after
	}
	if i := strings.LastIndexByte(rest, '-'); i >= 0 {
		v.Version, v.Release = rest[:i], rest[i+1:]
		if v.Release == "" {
			return Version{}, fmt.Errorf("version %q: empty release after '-'", s)
		}
	} else {
		v.Version = rest
	}
	if v.Version == "" {
		return Version{}, fmt.Errorf("version %q: empty version", s)
	}
	for _, c := range v.Version + v.Release {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.ContainsRune("._+~^", c)) {
			return Version{}, fmt.Errorf("version %q: character %q is not allowed in an rpm version", s, c)
		}
	}
	return v, nil
}

// String writes the version as rpm prints it (the epoch only when written).
func (v Version) String() string {
	s := v.Version
	if v.HasEpoch {
		s = strconv.Itoa(v.Epoch) + ":" + s
	}
	if v.Release != "" {
		s += "-" + v.Release
	}
	return s
}

// Compare returns -1, 0 or 1 as a sorts before, equal to or after b, as
// rpm's rpmverCmp (and its Lua rpm.vercmp) does: a missing epoch is 0, and
// a version without release sorts before the same version with one.
func Compare(a, b Version) int {
	if c := cmpInt(a.Epoch, b.Epoch); c != 0 {
		return c
	}
	if c := Vercmp(a.Version, b.Version); c != 0 {
		return c
	}
	switch {
	case a.Release != "" && b.Release != "":
		return Vercmp(a.Release, b.Release)
	case a.Release != "":
		return 1
	case b.Release != "":
		return -1
	}
	return 0
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// Vercmp is rpm's rpmvercmp on one part (a version or a release).
func Vercmp(a, b string) int {
	if a == b {
		return 0
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && !isDigit(a[i]) && !isAlpha(a[i]) && a[i] != '~' && a[i] != '^' {
			i++
		}
		for j < len(b) && !isDigit(b[j]) && !isAlpha(b[j]) && b[j] != '~' && b[j] != '^' {
			j++
		}
		ca, cb := at(a, i), at(b, j)
		// ~ sorts before everything, the end included.
		if ca == '~' || cb == '~' {
			if ca != '~' {
				return 1
			}
			if cb != '~' {
				return -1
			}
			i, j = i+1, j+1
			continue
		}
		// ^ sorts after the end (the base version) but before anything else.
		if ca == '^' || cb == '^' {
			if ca == 0 {
				return -1
			}
			if cb == 0 {
				return 1
			}
			if ca != '^' {
				return 1
			}
			if cb != '^' {
				return -1
			}
			i, j = i+1, j+1
			continue
		}
		if ca == 0 || cb == 0 {
			break
		}
		si, sj := i, j
		num := isDigit(ca)
		class := isAlpha
		if num {
			class = isDigit
		}
		for i < len(a) && class(a[i]) {
			i++
		}
		for j < len(b) && class(b[j]) {
			j++
		}
		sa, sb := a[si:i], b[sj:j]
		if sb == "" {
			// Segments of different kinds: a number is newer than letters.
			if num {
				return 1
			}
			return -1
		}
		if num {
			sa, sb = strings.TrimLeft(sa, "0"), strings.TrimLeft(sb, "0")
			if c := cmpInt(len(sa), len(sb)); c != 0 {
				return c
			}
		}
		if c := strings.Compare(sa, sb); c != 0 {
			return c
		}
	}
	ca, cb := at(a, i), at(b, j)
	switch {
	case ca == 0 && cb == 0:
		return 0
	case ca == 0:
		return -1
	}
	return 1
}

// at is s[i], or 0 past its end (C's terminating NUL).
func at(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

// Constraint is a relation to a version: ">= 3.0.11".
type Constraint struct {
	Op      string
	Version Version
}

// Match reports whether v satisfies the constraint, as rpm matches a
// dependency: when the constraint names no release, v's release is not
// compared ("= 1.0" holds for 1.0-3.el9), and a missing epoch is 0.
func (c Constraint) Match(v Version) bool {
	if c.Version.Release == "" {
		v.Release = ""
	}
	return debversion.Holds(c.Op, Compare(v, c.Version))
}

// String writes the constraint as it was meant ("= 1.2", ">= 3.0.11").
func (c Constraint) String() string { return c.Op + " " + c.Version.String() }
