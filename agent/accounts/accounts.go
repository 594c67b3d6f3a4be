// Package accounts reads the host's local users and groups from
// /etc/passwd and /etc/group below --root, and from /etc/shadow only
// whether each password is locked: a hash never leaves this package.
package accounts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/parse/passwd"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() {
	agent.Register(snapshot.CollectorAccounts, func() agent.Collector { return collector{} })
}

type collector struct{}

// Paths the collector reads.
const (
	passwdPath = agent.PasswdPath
	groupPath  = "/etc/group"
	shadowPath = "/etc/shadow"
)

// Reads declares what the collector reads: passwd, group and shadow.
func (collector) Reads() []agent.Path {
	return []agent.Path{agent.File(passwdPath), agent.File(groupPath), agent.File(shadowPath)}
}

// Collect reads passwd, group and the lock state of shadow. A root
// without /etc/passwd is skipped; an unreadable shadow leaves Locked
// unknown and says why.
func (collector) Collect(_ context.Context, env *agent.Env) (snapshot.Section, error) {
	users, userErrs, err := env.Users()
	if errors.Is(err, fs.ErrNotExist) {
		return &snapshot.Accounts{Users: []snapshot.User{}, Groups: []snapshot.Group{}, Errors: []string{},
			Absent: "no /etc/passwd below " + env.FS().Root()}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read /etc/passwd: %w", err)
	}
	// The run's parse of /etc/passwd, shared: this collector's copy is its
	// own to fill in (groups, locks).
	out := &snapshot.Accounts{Users: slices.Clone(users), Errors: slices.Clone(userErrs)}
	gr, err := env.FS().ReadFile(groupPath, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		out.Groups = []snapshot.Group{}
	case err != nil:
		return nil, fmt.Errorf("read /etc/group: %w", err)
	default:
		var errs []string
		out.Groups, errs = ParseGroup(strings.NewReader(string(gr)))
		out.Errors = append(out.Errors, errs...)
	}
	Resolve(out)
	sh, err := env.FS().ReadFile(shadowPath, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		out.ShadowError = "/etc/shadow does not exist"
	case err != nil:
		out.ShadowError = err.Error()
	default:
		locked := ParseShadowLocks(strings.NewReader(string(sh)))
		clear(sh)
		for i := range out.Users {
			if l, ok := locked[out.Users[i].Name]; ok {
				out.Users[i].Locked = &l
			}
		}
	}
	if len(out.Errors) > 0 {
		return out, agent.Partial("%d account line(s) could not be read: %s", len(out.Errors), out.Errors[0])
	}
	return out, nil
}

// ParseGroup reads group(5) lines: name:password:gid:member,member.
func ParseGroup(r io.Reader) ([]snapshot.Group, []string) {
	groups := []snapshot.Group{}
	errs := []string{}
	err := passwd.Lines(r, func(n int, f []string) {
		if len(f) != 4 {
			errs = append(errs, fmt.Sprintf("/etc/group:%d: %d fields, want 4", n, len(f)))
			return
		}
		gid, err := strconv.ParseUint(f[2], 10, 32)
		if f[0] == "" || err != nil {
			errs = append(errs, fmt.Sprintf("/etc/group:%d: group %q has no name or a gid that is not a number", n, f[0]))
			return
		}
		g := snapshot.Group{Name: f[0], GID: int(gid), Members: []string{}}
		for _, m := range strings.Split(f[3], ",") {
			if m = strings.TrimSpace(m); m != "" {
				g.Members = append(g.Members, m)
			}
		}
		groups = append(groups, g)
	})
	if err != nil {
		errs = append(errs, "/etc/group: "+err.Error())
	}
	return groups, errs
}

// ParseShadowLocks reads shadow(5) and returns, per user, only whether no
// password can log in: the field starts with "!" (locked) or "*" (no
// password set). An empty field (no password needed) is not locked.
func ParseShadowLocks(r io.Reader) map[string]bool {
	out := map[string]bool{}
	passwd.Lines(r, func(_ int, f []string) {
		if len(f) < 2 || f[0] == "" {
			return
		}
		out[f[0]] = strings.HasPrefix(f[1], "!") || strings.HasPrefix(f[1], "*")
	})
	return out
}

// Resolve fills each user's primary group name and supplementary groups.
func Resolve(a *snapshot.Accounts) {
	byGID := map[int]string{}
	member := map[string][]string{}
	for _, g := range a.Groups {
		if _, seen := byGID[g.GID]; !seen {
			byGID[g.GID] = g.Name
		}
		for _, m := range g.Members {
			member[m] = append(member[m], g.Name)
		}
	}
	for i := range a.Users {
		u := &a.Users[i]
		u.Group = byGID[u.GID]
		u.Groups = append([]string{}, member[u.Name]...)
	}
}
