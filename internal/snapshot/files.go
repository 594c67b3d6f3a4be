package snapshot

import (
	"fmt"
	"strconv"
	"time"
)

// Files is what the files collector saw of the paths the policy asks
// about: whether each exists, what it is, who owns it, when it last changed
// and, when asked, its digest and which of its lines match a pattern.
type Files struct {
	Files []FileState `json:"files"`
}

// File types, as FileState.Type records them.
const (
	FileRegular = "file"
	FileDir     = "dir"
	FileOther   = "other" // a FIFO, socket or device
)

// FileState is one path's state.
type FileState struct {
	// Path is as the policy names it, on the host (not below --root).
	Path   string `json:"path"`
	Exists bool   `json:"exists"`
	// Symlink is true when Path itself is a symbolic link; Target is what it
	// points to, as written in the link. The other fields describe what the
	// link leads to (Exists is false for a dangling link).
	Symlink bool   `json:"symlink,omitempty"`
	Target  string `json:"target,omitempty"`
	// Type is FileRegular, FileDir or FileOther.
	Type    string     `json:"type,omitempty"`
	ModTime *time.Time `json:"mod_time,omitempty"`
	Size    int64      `json:"size"`
	// Mode is the permission bits with setuid, setgid and sticky, as in
	// chmod (0o4755).
	Mode  uint32 `json:"mode,omitempty"`
	UID   uint32 `json:"uid"`
	GID   uint32 `json:"gid"`
	Owner string `json:"owner,omitempty"` // name from /etc/passwd below the root, when listed
	Group string `json:"group,omitempty"` // name from /etc/group below the root, when listed
	// SHA256 is the hex digest of the content, when a policy asked for it.
	SHA256 string `json:"sha256,omitempty"`
	// Matches are the content patterns a policy asked about, one each.
	Matches []FileMatch `json:"matches,omitempty"`
	// ContentError says why the content could not be read (too large, not
	// a regular file, in /proc); a digest or match then is absent.
	ContentError string `json:"content_error,omitempty"`
	// Error says why the path could not be read; a missing file is not one.
	Error string `json:"error,omitempty"`
}

// FileMatch records which lines of a file match one pattern. Only line
// numbers are kept unless the policy said the file is not secret.
type FileMatch struct {
	Pattern string `json:"pattern"`
	// Lines are the 1-based numbers of the first matching lines (at most
	// MaxMatchLines); Count is how many lines matched in all.
	Lines []int `json:"lines"`
	Count int   `json:"count"`
	// Text holds the matching lines themselves, only for a file the policy
	// marked secret = false.
	Text []string `json:"text,omitempty"`
}

// MaxMatchLines bounds the line numbers (and texts) kept per pattern.
const MaxMatchLines = 10

// FileWant is one path a policy asks about, with what to read of its
// content.
type FileWant struct {
	Path string
	// SHA256 asks for the content's digest.
	SHA256 bool
	// Patterns are regular expressions matched against each line.
	Patterns []string
	// Reveal keeps matching lines' text (the policy's secret = false).
	Reveal bool
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

// Match returns the record of pattern in the file's content, if read.
func (st FileState) Match(pattern string) (FileMatch, bool) {
	for _, m := range st.Matches {
		if m.Pattern == pattern {
			return m, true
		}
	}
	return FileMatch{}, false
}

// Objects lists each file the policy asked about by path: whether it
// exists, what it is, its permissions and owners and, when read, its digest.
// Size and modification time are left out: a job's output changes them at
// every run. The files exist in a snapshot because a policy asked for them.
func (f *Files) Objects() []Object {
	var out []Object
	for _, st := range f.Files {
		fields := map[string]string{"exists": strconv.FormatBool(st.Exists)}
		if st.Error != "" {
			fields = map[string]string{"outcome": "not readable"}
		}
		if st.Symlink {
			fields["target"] = st.Target
		}
		if st.Exists {
			fields["type"] = st.Type
			fields["mode"] = fmt.Sprintf("%04o", st.Mode)
			fields["owner"] = idText(st.Owner, st.UID)
			fields["group"] = idText(st.Group, st.GID)
		}
		if st.SHA256 != "" {
			fields["sha256"] = st.SHA256
		}
		out = append(out, Object{Area: AreaFiles, Kind: "file", ID: st.Path, Fields: fields, OnRequest: true})
	}
	return out
}

func idText(name string, id uint32) string {
	if name != "" {
		return name
	}
	return strconv.FormatUint(uint64(id), 10)
}
