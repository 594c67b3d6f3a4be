// Package files collects the state of the files a policy asks about:
// whether each exists and when it last changed (a job's output, a report).
package files

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"sort"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

func init() { agent.Register(snapshot.CollectorFiles, func() agent.Collector { return collector{} }) }

type collector struct{}

// Collect stats every path in Env.Wants.Files below Env.Root, following
// links as the host's own os.Stat does on the live host.
func (collector) Collect(_ context.Context, env *agent.Env) (snapshot.Section, error) {
	paths := append([]string(nil), env.Wants.Files...)
	sort.Strings(paths)
	out := &snapshot.Files{Files: []snapshot.FileState{}}
	for i, p := range paths {
		if i > 0 && paths[i-1] == p {
			continue
		}
		st := snapshot.FileState{Path: p}
		fi, err := os.Stat(env.Path(p))
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			st.Error = err.Error()
		default:
			m := fi.ModTime().UTC()
			st.Exists, st.ModTime, st.Size = true, &m, fi.Size()
		}
		out.Files = append(out.Files, st)
	}
	return out, nil
}
