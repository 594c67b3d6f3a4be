package watch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// maxWatches bounds the inotify watches the source holds.
const maxWatches = 512

// dirMask is what the source asks inotify about each folder it watches:
// entries created, written and closed, deleted, renamed in or out, their
// mode or owner changed, and the folder itself going away.
const dirMask = unix.IN_CREATE | unix.IN_CLOSE_WRITE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
	unix.IN_ATTRIB | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_EXCL_UNLINK

// target is one path whose changes matter.
type target struct {
	// real is the path on this machine (below the root); shown is the path
	// as the host knows it, for Event.Detail.
	real, shown string
	// dir: the folder's entries matter (a file target matters alone).
	dir bool
	// entry, when set, selects the entries of a folder target that matter.
	entry func(name string) bool
	// sub, when set, selects the sub-folders of a folder target whose
	// entries matter too (systemd's *.wants folders and drop-ins).
	sub func(name string) bool
	// follow: the file may be a symbolic link whose target matters too.
	follow     bool
	collectors []string
	policy     bool
}

// inotifySource watches files and folders through one inotify descriptor.
type inotifySource struct {
	f       *os.File
	fd      int
	root    string
	targets []target
	extra   []target // link targets of follow targets, found when arming
	wds     map[int][]string
	byPath  map[string]int
}

func (s *inotifySource) Name() string { return "inotify" }

// filesCollectors read the files the policy names.
var filesCollectors = []string{snapshot.CollectorFiles}

// hostTargets are the paths of the host that the collectors declare they
// read (agent.Reader), and the files the policy judges. A path that several
// collectors declare alike is one target naming them all. A file may be a
// symbolic link: the file it points to is watched too.
func hostTargets(opts *Options) []target {
	var ts []target
	index := map[string]int{}
	for _, name := range agent.Names() {
		for _, p := range agent.Reads(name) {
			key := fmt.Sprintf("%s %t %q", p.Name, p.Dir, p.Subs)
			if i, ok := index[key]; ok {
				ts[i].collectors = append(ts[i].collectors, name)
				continue
			}
			index[key] = len(ts)
			t := target{real: opts.Env.FS().Real(p.Name), shown: p.Name, dir: p.Dir, follow: !p.Dir, collectors: []string{name}}
			if len(p.Subs) > 0 {
				t.sub = p.Sub
			}
			ts = append(ts, t)
		}
	}
	for _, f := range opts.Files {
		p := filepath.Clean("/" + f)
		ts = append(ts, target{real: opts.Env.FS().Real(p), shown: p, collectors: filesCollectors})
	}
	return ts
}

// policyTargets are the policy files and folders, on this machine.
func policyTargets(paths []string) []target {
	var ts []target
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			abs = filepath.Clean(p)
		}
		t := target{real: abs, shown: abs, policy: true}
		if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
			t.dir = true
			t.entry = func(name string) bool { return strings.HasSuffix(name, ".hcl") }
		}
		ts = append(ts, t)
	}
	return ts
}

func newInotify(ctx context.Context, opts *Options) (source, error) {
	var ts []target
	for _, t := range hostTargets(opts) {
		if wanted(opts, t.collectors...) {
			ts = append(ts, t)
		}
	}
	ts = append(ts, policyTargets(opts.PolicyPaths)...)
	if len(ts) == 0 {
		return source{}, nil
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return source{}, fmt.Errorf("inotify: cannot watch files (%w): cron, unit files, /etc/hosts, /etc/resolv.conf, file checks and the policy are read again only when another event asks", err)
	}
	s := &inotifySource{f: os.NewFile(uintptr(fd), "inotify"), fd: fd, root: opts.Env.FS().Root(), targets: ts,
		wds: map[int][]string{}, byPath: map[string]int{}}
	armErr := s.arm()
	if armErr != nil && len(s.byPath) == 0 {
		s.f.Close()
		return source{}, fmt.Errorf("inotify: %w", armErr)
	}
	if armErr != nil {
		armErr = fmt.Errorf("inotify: %w; the rest is watched", armErr)
	}
	var cols []string
	for _, t := range ts {
		for _, c := range t.collectors {
			if !slices.Contains(cols, c) {
				cols = append(cols, c)
			}
		}
	}
	return source{Source: s, collectors: only(opts.Collectors, cols), policy: len(opts.PolicyPaths) > 0}, armErr
}

// nearest returns p if it is an existing folder, else its nearest existing
// ancestor folder.
func nearest(p string) string {
	for {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return p
		}
		parent := filepath.Dir(p)
		if parent == p {
			return p
		}
		p = parent
	}
}

// linkTarget returns the target a follow target's link points to, below
// root, or false.
func (s *inotifySource) linkTarget(t target) (target, bool) {
	dest, err := os.Readlink(t.real)
	if err != nil {
		return target{}, false
	}
	shown := dest
	if !filepath.IsAbs(dest) {
		shown = filepath.Join(filepath.Dir(t.shown), dest)
	}
	l := t
	l.follow = false
	l.shown = filepath.Clean(shown)
	l.real = filepath.Join(s.root, l.shown)
	return l, true
}

// desired lists the folders to watch now, at most maxWatches, and how many
// it left out.
func (s *inotifySource) desired() ([]string, int) {
	s.extra = s.extra[:0]
	var dirs []string
	add := func(d string) {
		if !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	var visit func(t target)
	visit = func(t target) {
		if !t.dir {
			add(nearest(filepath.Dir(t.real)))
			if t.follow {
				if l, ok := s.linkTarget(t); ok {
					s.extra = append(s.extra, l)
					visit(l)
				}
			}
			return
		}
		d := nearest(t.real)
		add(d)
		if d != t.real || t.sub == nil {
			return
		}
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if t.sub(e.Name()) {
				if fi, err := os.Stat(filepath.Join(d, e.Name())); err == nil && fi.IsDir() {
					add(filepath.Join(d, e.Name()))
				}
			}
		}
	}
	for _, t := range s.targets {
		visit(t)
	}
	if len(dirs) > maxWatches {
		return dirs[:maxWatches], len(dirs) - maxWatches
	}
	return dirs, 0
}

// arm makes the watches match the folders to watch now: folders that
// appeared are added, folders no longer wanted are dropped.
func (s *inotifySource) arm() error {
	var first error
	want, left := s.desired()
	if left > 0 {
		first = fmt.Errorf("%d folder(s) beyond the first %d are not watched", left, maxWatches)
	}
	for _, d := range want {
		if _, ok := s.byPath[d]; ok {
			continue
		}
		wd, err := unix.InotifyAddWatch(s.fd, d, dirMask)
		if err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
				continue // gone meanwhile; its parent's event re-arms
			}
			if errors.Is(err, unix.EACCES) {
				continue // unreadable: the collector that reads it says so
			}
			if first == nil {
				first = fmt.Errorf("watch %s: %w (raise fs.inotify.max_user_watches if it is ENOSPC)", d, err)
			}
			continue
		}
		s.byPath[d] = wd
		if !slices.Contains(s.wds[wd], d) {
			s.wds[wd] = append(s.wds[wd], d)
		}
	}
	for d, wd := range s.byPath {
		if slices.Contains(want, d) {
			continue
		}
		delete(s.byPath, d)
		s.wds[wd] = slices.DeleteFunc(s.wds[wd], func(p string) bool { return p == d })
		if len(s.wds[wd]) == 0 {
			delete(s.wds, wd)
			_, _ = unix.InotifyRmWatch(s.fd, uint32(wd))
		}
	}
	return first
}

// forget drops a watch from the maps, and from the kernel when it still
// holds it (a folder moved away), and returns the folders it watched.
func (s *inotifySource) forget(wd int, remove bool) []string {
	ds := s.wds[wd]
	for _, d := range ds {
		delete(s.byPath, d)
	}
	delete(s.wds, wd)
	if remove {
		_, _ = unix.InotifyRmWatch(s.fd, uint32(wd))
	}
	return ds
}

// match returns the events that a change of path p (mask m) means.
func (s *inotifySource) match(p string, m uint32, hits []Event) []Event {
	check := func(t target) {
		var shown string
		switch {
		case p == t.real:
			shown = t.shown
		case t.dir && filepath.Dir(p) == t.real && (t.entry == nil || t.entry(filepath.Base(p)) || m&unix.IN_ISDIR != 0):
			shown = filepath.Join(t.shown, filepath.Base(p))
		case t.dir && t.sub != nil && filepath.Dir(filepath.Dir(p)) == t.real && t.sub(filepath.Base(filepath.Dir(p))):
			shown = filepath.Join(t.shown, filepath.Base(filepath.Dir(p)), filepath.Base(p))
		case strings.HasPrefix(t.real, p+"/") && m&unix.IN_ISDIR != 0:
			// A folder on the way to the target appeared or went.
			shown = t.shown[:len(t.shown)-len(strings.TrimPrefix(t.real, p))]
		default:
			return
		}
		ev := Event{Source: "inotify", Collectors: slices.Clone(t.collectors), Detail: shown + " " + opName(m)}
		if t.policy {
			ev = Event{Source: "policy", Policy: true, Detail: ev.Detail}
		}
		// One change is one event, naming every collector that reads
		// the path, however each declared it.
		for i, h := range hits {
			if h.Source == ev.Source && h.Detail == ev.Detail && h.Policy == ev.Policy {
				for _, c := range ev.Collectors {
					if !slices.Contains(h.Collectors, c) {
						h.Collectors = append(h.Collectors, c)
					}
				}
				slices.Sort(h.Collectors)
				hits[i] = h
				return
			}
		}
		hits = append(hits, ev)
	}
	for _, t := range s.targets {
		check(t)
	}
	for _, t := range s.extra {
		check(t)
	}
	return hits
}

// opName says what an inotify event mask means.
func opName(m uint32) string {
	switch {
	case m&unix.IN_CREATE != 0:
		return "created"
	case m&unix.IN_CLOSE_WRITE != 0:
		return "written"
	case m&(unix.IN_DELETE|unix.IN_DELETE_SELF) != 0:
		return "deleted"
	case m&unix.IN_MOVED_TO != 0:
		return "replaced (renamed into place)"
	case m&(unix.IN_MOVED_FROM|unix.IN_MOVE_SELF) != 0:
		return "renamed away"
	case m&unix.IN_ATTRIB != 0:
		return "mode or owner changed"
	}
	return "changed"
}

// Run reads inotify events until ctx ends.
func (s *inotifySource) Run(ctx context.Context, out chan<- Event) error {
	defer s.f.Close()
	stop := context.AfterFunc(ctx, func() { s.f.Close() })
	defer stop()
	buf := make([]byte, 64*1024)
	var hits []Event
	for {
		n, err := s.f.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read inotify events: %w", err)
		}
		hits = hits[:0]
		rearm := false
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			raw := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			nameb := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(raw.Len)]
			off += unix.SizeofInotifyEvent + int(raw.Len)
			name := strings.TrimRight(string(nameb), "\x00")
			m := raw.Mask
			if m&unix.IN_Q_OVERFLOW != 0 {
				rearm = true
				hits = append(hits, s.overflow())
				continue
			}
			if m&(unix.IN_IGNORED|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0 {
				// The folder went, or moved away with its watch: forget
				// the watch, so that a folder made again at its path is
				// watched anew.
				rearm = true
				ds := s.forget(int(raw.Wd), m&unix.IN_MOVE_SELF != 0)
				if m&unix.IN_IGNORED != 0 {
					continue
				}
				for _, d := range ds {
					hits = s.match(d, m, hits)
				}
				continue
			}
			if m&unix.IN_ISDIR != 0 && m&(unix.IN_CREATE|unix.IN_DELETE|unix.IN_MOVED_FROM|unix.IN_MOVED_TO) != 0 {
				rearm = true
			}
			for _, d := range s.wds[int(raw.Wd)] {
				p := d
				if name != "" {
					p = filepath.Join(d, name)
				}
				before := len(hits)
				hits = s.match(p, m, hits)
				for _, t := range s.targets {
					if t.follow && p == t.real && len(hits) > before {
						rearm = true
					}
				}
			}
		}
		// Re-arm before telling: once the caller hears of a new folder,
		// changes inside it are watched.
		if rearm {
			if err := s.arm(); err != nil {
				// Out of watches (fs.inotify.max_user_watches): what is
				// watched stays watched; say what is not.
				hits = append(hits, Event{Source: "inotify", Collectors: s.overflow().Collectors,
					Detail: "a new folder is not watched: " + err.Error()})
			}
		}
		for _, h := range hits {
			if !emit(ctx, out, h) {
				return nil
			}
		}
	}
}

// overflow is the event that says inotify dropped events: everything the
// source watches may have changed.
func (s *inotifySource) overflow() Event {
	ev := Event{Source: "inotify", Detail: "inotify queue overflowed: events were lost"}
	for _, t := range s.targets {
		for _, c := range t.collectors {
			if !slices.Contains(ev.Collectors, c) {
				ev.Collectors = append(ev.Collectors, c)
			}
		}
		ev.Policy = ev.Policy || t.policy
	}
	return ev
}
