// Package files collects the state of the files a policy asks about:
// whether each exists, what it is, who owns it, when it last changed and,
// when asked, its digest and which lines match a pattern.
package files

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/hostfs"
)

func init() { agent.Register(snapshot.CollectorFiles, func() agent.Collector { return collector{} }) }

type collector struct{}

// Reads declares what the collector reads besides the paths the policy
// names: the user and group names of owners.
func (collector) Reads() []agent.Path {
	return []agent.Path{agent.File(passwdPath), agent.File(groupPath)}
}

// Collect stats every path in Env.Wants.Files and Env.Wants.FileContent
// below Env.Root, following links as the host would (inside the root), and
// reads the content of those whose digest or lines the
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
	root := env.FS()
	names := newNames(env)
	out := &snapshot.Files{Files: []snapshot.FileState{}}
	for i, p := range paths {
		if i > 0 && paths[i-1] == p {
			continue
		}
		st := stat(root, p, names)
		if w := content[p]; w != nil && st.Exists && st.Error == "" {
			readContent(root, p, &st, *w)
		}
		out.Files = append(out.Files, st)
	}
	return out, nil
}

// stat records what p is: the link itself, then what it leads to.
func stat(root *hostfs.FS, p string, names *names) snapshot.FileState {
	st := snapshot.FileState{Path: p}
	if li, err := root.Lstat(p); err == nil && li.Mode()&fs.ModeSymlink != 0 {
		st.Symlink = true
		if t, err := root.Readlink(p); err == nil {
			st.Target = t
		}
	}
	info, err := root.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return st
	case err != nil:
		st.Error = err.Error()
		return st
	}
	fi, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		st.Error = fmt.Sprintf("stat %s: no owner or mode in %T", p, info.Sys())
		return st
	}
	m := time.Unix(fi.Mtim.Unix()).UTC()
	st.Exists, st.ModTime, st.Size = true, &m, fi.Size
	switch fi.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		st.Type = snapshot.FileRegular
	case unix.S_IFDIR:
		st.Type = snapshot.FileDir
	default:
		st.Type = snapshot.FileOther
	}
	st.Mode = fi.Mode & 0o7777
	st.UID, st.GID = fi.Uid, fi.Gid
	st.Owner, st.Group = names.user(fi.Uid), names.group(fi.Gid)
	return st
}
