package snapshot

import "time"

// Files is what the files collector saw of the paths the policy asks
// about: whether each exists and when it last changed.
type Files struct {
	Files []FileState `json:"files"`
}

// FileState is one path's state.
type FileState struct {
	// Path is as the policy names it, on the host (not below --root).
	Path    string     `json:"path"`
	Exists  bool       `json:"exists"`
	ModTime *time.Time `json:"mod_time,omitempty"`
	Size    int64      `json:"size"`
	// Error says why the path could not be read; a missing file is not one.
	Error string `json:"error,omitempty"`
}

// Attach puts the files into the snapshot.
func (f *Files) Attach(s *Snapshot) { s.Files = f }

// File returns the state of path, if it was looked at.
func (f *Files) File(path string) (FileState, bool) {
	for _, st := range f.Files {
		if st.Path == path {
			return st, true
		}
	}
	return FileState{}, false
}
