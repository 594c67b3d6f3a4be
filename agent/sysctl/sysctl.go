// Package sysctl reads kernel parameters: the running values from
// /proc/sys (net.* inside --netns when set), and what the boot
// configuration sets, read as systemd-sysctl applies it. Nothing is
// written: this is never sysctl -w.
package sysctl

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/hostfs"
	"github.com/hostdrift/hostdrift/internal/sys/setns"
)

func init() {
	agent.Register(snapshot.CollectorSysctl, func() agent.Collector { return collector{} })
}

// ConfDirs are the folders systemd-sysctl reads, highest priority first: a
// file name in an earlier folder hides the same name in a later one.
var ConfDirs = []string{"/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d"}

// confFile is the old single configuration file, read last.
const confFile = "/etc/sysctl.conf"

// systemdDir exists while systemd runs, and then systemd-sysctl applies
// the configuration at boot.
const systemdDir = agent.SystemdDir

// Reads declares what the collector reads below the root: the
// configuration files and whether systemd runs. The live values are the
// kernel's, polled.
func (collector) Reads() []agent.Path {
	ps := []agent.Path{agent.File(confFile), agent.File(systemdDir)}
	for _, d := range ConfDirs {
		ps = append(ps, agent.Folder(d))
	}
	return ps
}

// maxValue bounds one /proc/sys file.
const maxValue = 1 << 20

type collector struct{}

// Collect reads the boot configuration and the running value of every
// key it sets or the policy asks about.
func (collector) Collect(_ context.Context, env *agent.Env) (snapshot.Section, error) {
	out := &snapshot.Sysctl{Files: []string{}, Params: []snapshot.SysctlParam{}, Errors: []string{}}
	host := env.FS()
	files := ConfFiles(host)
	var all []Assignment
	for _, f := range files {
		b, err := host.ReadFile(f, 0)
		if errors.Is(err, fs.ErrNotExist) {
			// A link to nothing, as systemd's 99-sysctl.conf is on a host
			// without procps' /etc/sysctl.conf: systemd-sysctl skips it.
			continue
		}
		if err != nil {
			out.Errors = append(out.Errors, err.Error())
			continue
		}
		out.Files = append(out.Files, f)
		as, errs := ParseConf(strings.NewReader(string(b)), f)
		all = append(all, as...)
		out.Errors = append(out.Errors, errs...)
	}
	out.Live = Live(host)
	if env.SystemdRuns() {
		out.AppliedBy = "systemd-sysctl"
	}
	if out.Live && (env.Root == "" || env.Root == "/") {
		var st unix.Statfs_t
		if unix.Statfs("/proc/sys", &st) == nil && st.Flags&unix.ST_RDONLY != 0 {
			out.ReadOnly = true
		}
	}
	var globs func(string) []string
	if out.Live {
		globs = func(pattern string) []string { return expand(host, pattern) }
	}
	params := Effective(all, globs)
	for _, k := range env.Wants.Sysctl {
		k = Normalize(k)
		if _, ok := params[k]; !ok {
			params[k] = &snapshot.SysctlParam{Key: k}
		}
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if out.Live {
		var net []string
		for _, k := range keys {
			if env.NetNS != "" && strings.HasPrefix(k, "net.") {
				net = append(net, k)
				continue
			}
			readValue(host, params[k])
		}
		if len(net) > 0 {
			out.NetNS = env.NetNS
			err := setns.Run(env.NetNS, func() error {
				for _, k := range net {
					readValue(host, params[k])
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	for _, k := range keys {
		out.Params = append(out.Params, *params[k])
	}
	if len(out.Errors) > 0 {
		return out, agent.Partial("%d sysctl configuration line(s) or file(s) could not be read: %s", len(out.Errors), out.Errors[0])
	}
	return out, nil
}

// readValue reads a parameter's running value below root's /proc/sys.
func readValue(host *hostfs.FS, p *snapshot.SysctlParam) {
	b, err := host.ReadFile(Path(p.Key), maxValue)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		p.Exists, p.Error = true, err.Error()
	default:
		p.Exists, p.Value = true, strings.Join(strings.Fields(string(b)), " ")
	}
}

// expand lists the keys of a glob below root's /proc/sys.
func expand(host *hostfs.FS, pattern string) []string {
	parts := strings.Split(pattern, ".")
	var walk func(dir string, i int) []string
	walk = func(dir string, i int) []string {
		entries, _ := host.ReadDir(dir)
		var out []string
		for _, e := range entries {
			name := strings.ReplaceAll(e.Name(), ".", "/")
			if ok, _ := path.Match(parts[i], name); !ok {
				continue
			}
			if i == len(parts)-1 {
				if !e.IsDir() {
					out = append(out, name)
				}
				continue
			}
			if e.IsDir() {
				for _, rest := range walk(path.Join(dir, e.Name()), i+1) {
					out = append(out, name+"."+rest)
				}
			}
		}
		return out
	}
	return walk("/proc/sys", 0)
}

// ConfFiles lists the boot configuration's files in the order
// systemd-sysctl applies them: every *.conf of ConfDirs by file name, an
// earlier folder hiding the same name in a later one, a file linked to
// /dev/null masking it; then /etc/sysctl.conf, unless a sysctl.d file
// links to it (Debian's 99-sysctl.conf does), as procps' sysctl --system
// reads it last.
func ConfFiles(host *hostfs.FS) []string {
	chosen := map[string]string{}
	covered := false
	for _, dir := range ConfDirs {
		entries, _ := host.ReadDir(dir)
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".conf") {
				continue
			}
			if _, seen := chosen[e.Name()]; seen {
				continue
			}
			p := path.Join(dir, e.Name())
			target, _ := host.Readlink(p)
			if target == "/dev/null" {
				chosen[e.Name()] = ""
				continue
			}
			if target != "" && !path.IsAbs(target) {
				target = path.Join(dir, target)
			}
			if target != "" && path.Clean(target) == confFile {
				covered = true
			}
			chosen[e.Name()] = p
		}
	}
	names := make([]string, 0, len(chosen))
	for n, p := range chosen {
		if p != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := make([]string, 0, len(names)+1)
	for _, n := range names {
		out = append(out, chosen[n])
	}
	if !covered && host.Exists(confFile) {
		out = append(out, confFile)
	}
	return out
}

// Effective applies assignments in order, as systemd-sysctl does: a later
// line for the same key wins, an explicit key wins over a glob that
// matches it, and "!" lines keep a key out of the globs. expand lists the
// keys a glob matches; nil (no /proc to look in) leaves globs unexpanded.
func Effective(as []Assignment, expand func(string) []string) map[string]*snapshot.SysctlParam {
	out := map[string]*snapshot.SysctlParam{}
	excluded := map[string]bool{}
	for _, a := range as {
		if a.Exclude {
			excluded[a.Key] = true
		}
	}
	for _, a := range as {
		if a.Exclude || a.Glob() {
			continue
		}
		out[a.Key] = &snapshot.SysctlParam{Key: a.Key, Configured: a.Value, Source: a.Line, IgnoreErrors: a.IgnoreErrors}
	}
	if expand == nil {
		return out
	}
	globbed := map[string]bool{}
	for _, a := range as {
		if a.Exclude || !a.Glob() {
			continue
		}
		for _, k := range expand(a.Key) {
			if excluded[k] {
				continue
			}
			if _, explicit := out[k]; explicit && !globbed[k] {
				continue
			}
			globbed[k] = true
			out[k] = &snapshot.SysctlParam{Key: k, Configured: a.Value, Source: a.Line, IgnoreErrors: a.IgnoreErrors, Glob: a.Key}
		}
	}
	return out
}

// Live reports whether the running kernel's values are readable through
// host: on the live host, or below a root with a /proc of a running
// kernel. What reads them (the collector, serve's poll) asks this.
func Live(host *hostfs.FS) bool { return host.Exists("/proc/sys/kernel") }
