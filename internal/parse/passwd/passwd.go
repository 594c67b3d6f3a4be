// Package passwd reads passwd(5): the host's accounts, name, uid, gid,
// home and shell.
package passwd

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// Parse reads passwd(5) lines: name:password:uid:gid:gecos:home:shell. The
// password field is not kept. Blank, comment and NIS ("+", "-") lines are
// skipped; a line that cannot be read is named in the errors and left out.
func Parse(r io.Reader) ([]snapshot.User, []string) {
	users := []snapshot.User{}
	errs := []string{}
	err := Lines(r, func(n int, f []string) {
		if len(f) != 7 {
			errs = append(errs, fmt.Sprintf("/etc/passwd:%d: %d fields, want 7", n, len(f)))
			return
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if f[0] == "" || err1 != nil || err2 != nil {
			errs = append(errs, fmt.Sprintf("/etc/passwd:%d: user %q has no name or a uid/gid that is not a number", n, f[0]))
			return
		}
		users = append(users, snapshot.User{Name: f[0], UID: int(uid), GID: int(gid), Home: f[5], Shell: f[6], Groups: []string{}})
	})
	if err != nil {
		errs = append(errs, "/etc/passwd: "+err.Error())
	}
	return users, errs
}

// Lines calls fn with the fields of every non-empty, non-comment line of
// a colon-separated account file (passwd, group, shadow), split on ':'.
// NIS "+" and "-" lines are skipped.
func Lines(r io.Reader, fn func(n int, f []string)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		t := sc.Text()
		if strings.TrimSpace(t) == "" || strings.HasPrefix(t, "#") || strings.HasPrefix(t, "+") || strings.HasPrefix(t, "-") {
			continue
		}
		fn(n, strings.Split(t, ":"))
	}
	return sc.Err()
}

// Names maps each uid to its account's name; the first account of a uid
// wins, as in getpwuid(3).
func Names(users []snapshot.User) map[uint32]string {
	out := make(map[uint32]string, len(users))
	for _, u := range users {
		if _, dup := out[uint32(u.UID)]; !dup {
			out[uint32(u.UID)] = u.Name
		}
	}
	return out
}
