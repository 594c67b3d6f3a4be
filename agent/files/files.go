// Package files collects the state of the files a policy asks about:
// whether each exists, what it is, who owns it, when it last changed and,
// when asked, its digest and which lines match a pattern.
package files

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"sort"
	"syscall"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() { agent.Register(snapshot.CollectorFiles, func() agent.Collector { return collector{} }) }

type collector struct{}

// Collect stats every path in Env.Wants.Files and Env.Wants.FileContent
// below Env.Root, following links as the host's own os.Stat does on the
// live host, and reads the content of those whose digest or lines the
// policy judges.
func (collector) Collect(_ context.Context, env *agent.Env) (snapshot.Section, error) {
	content := map[string]*snapshot.FileWant{}
	paths := append([]string(nil), env.Wants.Files...)
	for _, w := range env.Wants.FileContent {
		paths = append(paths, w.Path)
		c := content[w.Path]
		if c == nil {
			c = &snapshot.FileWant{Path: w.Path}
			content[w.Path] = c
		}
		c.SHA256 = c.SHA256 || w.SHA256
		c.Reveal = c.Reveal || w.Reveal
		c.Patterns = append(c.Patterns, w.Patterns...)
	}
	sort.Strings(paths)
	names := newNames(env)
	out := &snapshot.Files{Files: []snapshot.FileState{}}
	for i, p := range paths {
		if i > 0 && paths[i-1] == p {
			continue
		}
		st := stat(env, p, names)
		if w := content[p]; w != nil && st.Exists && st.Error == "" {
			readContent(env.Path(p), &st, *w)
		}
		out.Files = append(out.Files, st)
	}
	return out, nil
}

// stat records what p is: the link itself, then what it leads to.
func stat(env *agent.Env, p string, names *names) snapshot.FileState {
	st := snapshot.FileState{Path: p}
	real := env.Path(p)
	if li, err := os.Lstat(real); err == nil && li.Mode()&fs.ModeSymlink != 0 {
		st.Symlink = true
		if t, err := os.Readlink(real); err == nil {
			st.Target = t
		}
	}
	fi, err := os.Stat(real)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return st
	case err != nil:
		st.Error = err.Error()
		return st
	}
	m := fi.ModTime().UTC()
	st.Exists, st.ModTime, st.Size = true, &m, fi.Size()
	switch {
	case fi.Mode().IsRegular():
		st.Type = snapshot.FileRegular
	case fi.IsDir():
		st.Type = snapshot.FileDir
	default:
		st.Type = snapshot.FileOther
	}
	st.Mode = modeBits(fi.Mode())
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.UID, st.GID = sys.Uid, sys.Gid
		st.Owner, st.Group = names.user(sys.Uid), names.group(sys.Gid)
	}
	return st
}

// modeBits is the mode as chmod writes it: permissions, setuid, setgid,
// sticky.
func modeBits(m fs.FileMode) uint32 {
	b := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		b |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		b |= 0o1000
	}
	return b
}
