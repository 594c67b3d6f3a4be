package agent

import (
	"bytes"
	"sync"

	"github.com/hostdrift/hostdrift/internal/parse/passwd"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// PasswdPath names the host's accounts.
const PasswdPath = "/etc/passwd"

// SystemdDir exists exactly while systemd is the init system (sd_booted(3)).
const SystemdDir = "/run/systemd/system"

// facts are what several collectors read of the host: read once per run,
// on the first collector's asking, and shared by all of the run.
type facts struct {
	usersOnce sync.Once
	users     []snapshot.User
	userErrs  []string
	usersErr  error

	systemdOnce sync.Once
	systemd     bool
}

// Users are the accounts of /etc/passwd below the root, with the lines that
// could not be read, or the error that kept the file from being read. They
// are read and parsed once per run, whichever collectors ask.
func (e *Env) Users() ([]snapshot.User, []string, error) {
	f := e.shared()
	f.usersOnce.Do(func() {
		b, err := e.FS().ReadFile(PasswdPath, 0)
		if err != nil {
			f.usersErr = err
			return
		}
		f.users, f.userErrs = passwd.Parse(bytes.NewReader(b))
	})
	return f.users, f.userErrs, f.usersErr
}

// SystemdRuns reports whether systemd is the init system of the host below
// the root: /run/systemd/system exists only while it runs (sd_booted(3)).
// Asked once per run.
func (e *Env) SystemdRuns() bool {
	f := e.shared()
	f.systemdOnce.Do(func() { f.systemd = e.FS().Exists(SystemdDir) })
	return f.systemd
}

// shared returns the run's facts; an Env made outside Run (a test) gets
// its own.
func (e *Env) shared() *facts {
	if e.facts == nil {
		e.facts = &facts{}
	}
	return e.facts
}
