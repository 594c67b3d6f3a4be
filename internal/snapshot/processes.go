package snapshot

// Processes is what the processes collector saw in /proc on the live host.
type Processes struct {
	Processes []RunningProcess `json:"processes"`
}

// RunningProcess is one process. Its command line is recorded with secrets
// (passwords, tokens given as flags, assignments or URL credentials)
// replaced, and bounded.
type RunningProcess struct {
	PID  int    `json:"pid"`
	Name string `json:"name"` // the kernel's name for it (comm), up to 15 bytes
	// Command is the redacted argument list joined by blanks; empty for a
	// kernel thread.
	Command string `json:"command"`
	UID     uint32 `json:"uid"`
	User    string `json:"user,omitempty"`
	// Host is true when the process runs in hostdrift's own PID and mount
	// namespaces: only then is it evidence about this host. NSError says
	// why that could not be told (the process is another user's and
	// hostdrift lacks CAP_SYS_PTRACE); Host is then false.
	Host    bool   `json:"host"`
	NSError string `json:"ns_error,omitempty"`
}

// Attach puts the processes into the snapshot.
func (p *Processes) Attach(s *Snapshot) { s.Processes = p }
