package snapshot

import "strings"

// Sources of Services.
const (
	// ServicesDBus: read from the running systemd, with runtime state.
	ServicesDBus = "dbus"
	// ServicesFiles: read from unit files (--root, or no systemd runs):
	// whether units are enabled, not whether they run.
	ServicesFiles = "files"
)

// Services is what systemd knows of its units: every loaded unit and every
// installed unit file.
type Services struct {
	Source string `json:"source"`
	// Running says whether systemd runs as the init system of the host read.
	Running bool   `json:"running"`
	Units   []Unit `json:"units"`
	// Errors are unit files that could not be read.
	Errors []FileError `json:"errors"`
}

// Unit is one systemd unit.
type Unit struct {
	Name string `json:"name"`
	// LoadState: loaded, not-found, masked, error; "" offline.
	LoadState string `json:"load_state,omitempty"`
	// ActiveState: active, inactive, failed, activating...; "" offline.
	ActiveState string `json:"active_state,omitempty"`
	SubState    string `json:"sub_state,omitempty"`
	// FileState is the unit file state: enabled, disabled, static,
	// masked, generated, indirect...; "" when there is no unit file.
	FileState string   `json:"file_state,omitempty"`
	File      string   `json:"file,omitempty"`
	DropIns   []string `json:"drop_ins,omitempty"`
	// Restarts is NRestarts of a service: how often systemd restarted it
	// since it was last started by hand; nil when unknown.
	Restarts *uint32 `json:"restarts,omitempty"`
	// Result and ExitStatus are a service's last result ("success",
	// "exit-code"...) and its main process's exit status.
	Result     string `json:"result,omitempty"`
	ExitStatus *int   `json:"exit_status,omitempty"`
	// Error says why the unit could not be read.
	Error string `json:"error,omitempty"`
}

// Attach puts the services into the snapshot.
func (s *Services) Attach(snap *Snapshot) { snap.Services = s }

// Objects lists each installed unit by name with its enablement, file,
// drop-ins and whether it is failed. Units without a unit file of their
// own (devices, scopes, transient and generated units: a container's
// mounts, a login session) come and go with no one configuring them, and
// whether a oneshot is active changes with every run: both are left out,
// so a diff shows configuration, not noise.
func (s *Services) Objects() []Object {
	out := make([]Object, 0, len(s.Units))
	for _, u := range s.Units {
		switch u.FileState {
		case "", "generated", "transient":
			continue
		}
		if strings.HasPrefix(u.File, "/run/") {
			continue
		}
		f := map[string]string{"file_state": u.FileState, "file": u.File, "drop_ins": strings.Join(u.DropIns, ",")}
		if u.ActiveState == "failed" {
			f["failed"] = "true"
		}
		out = append(out, Object{Area: AreaServices, Kind: "unit", ID: u.Name, Fields: f})
	}
	return out
}
