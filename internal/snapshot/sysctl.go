package snapshot

// Sysctl is the kernel parameters the policy asks about or the boot
// configuration sets: their running values and what systemd-sysctl
// (/etc/sysctl.d, /run/sysctl.d, /usr/local/lib/sysctl.d, /usr/lib/sysctl.d,
// /etc/sysctl.conf) will set on the next boot.
type Sysctl struct {
	// Live says whether running values were read: false under a --root
	// without /proc.
	Live bool `json:"live"`
	// ReadOnly says /proc/sys is mounted read-only (a container): systemd
	// does not apply sysctl.d there, the kernel's values are the host's.
	ReadOnly bool `json:"read_only,omitempty"`
	// AppliedBy names what applies the boot configuration at boot:
	// "systemd-sysctl" when systemd is the init system of the host read
	// (/run/systemd/system exists); empty when that is not known, and then
	// no running value is held against the files.
	AppliedBy string `json:"applied_by,omitempty"`
	// NetNS is the network namespace net.* values were read in, when not
	// the collector's own.
	NetNS string `json:"netns,omitempty"`
	// Files are the configuration files applied at boot, in order.
	Files  []string      `json:"files"`
	Params []SysctlParam `json:"params"`
	// Errors are configuration lines or files that could not be read.
	Errors []string `json:"errors"`
}

// SysctlParam is one parameter, in dotted form (net.ipv4.ip_forward; a dot
// inside a name, as in an interface called eth0.100, is written "/").
type SysctlParam struct {
	Key string `json:"key"`
	// Value is the running value, whitespace folded to single spaces;
	// Exists is false when the kernel has no such parameter.
	Value  string `json:"value,omitempty"`
	Exists bool   `json:"exists"`
	// Error says why the running value could not be read.
	Error string `json:"error,omitempty"`
	// Configured is the value the boot configuration sets, and Source the
	// file and line that sets it last; empty when nothing sets it.
	Configured string `json:"configured,omitempty"`
	Source     string `json:"source,omitempty"`
	// IgnoreErrors: the line starts with "-" (a missing key is no error).
	IgnoreErrors bool `json:"ignore_errors,omitempty"`
	// Glob is the pattern of the line that set it, when a glob did
	// (net.ipv4.conf.*.rp_filter).
	Glob string `json:"glob,omitempty"`
}

// Attach puts the parameters into the snapshot.
func (s *Sysctl) Attach(snap *Snapshot) { snap.Sysctl = s }

// Param returns the parameter of that key, if it was read.
func (s *Sysctl) Param(key string) (SysctlParam, bool) {
	for _, p := range s.Params {
		if p.Key == key {
			return p, true
		}
	}
	return SysctlParam{}, false
}

// Objects lists each parameter by key with its running and boot values.
// Those a glob set are left out: they follow interfaces (a container's
// veth) that come and go.
func (s *Sysctl) Objects() []Object {
	out := make([]Object, 0, len(s.Params))
	for _, p := range s.Params {
		if p.Glob != "" {
			continue
		}
		out = append(out, Object{Area: AreaSysctl, Kind: "param", ID: p.Key,
			Fields: map[string]string{"value": p.Value, "configured": p.Configured}})
	}
	return out
}
