package snapshot_test

import (
	"reflect"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// A file is followed by path with what a diff should show ("sshd_config
// sha256 changed"), without its size or time, which a job's output changes
// at every run.
func TestFileObjects(t *testing.T) {
	f := &snapshot.Files{Files: []snapshot.FileState{
		{Path: "/etc/ssh/sshd_config", Exists: true, Type: "file", Size: 3000, Mode: 0o600, Owner: "root", GID: 0, SHA256: "ab"},
		{Path: "/etc/nologin"},
		{Path: "/etc/alt", Exists: true, Symlink: true, Target: "x", Type: "file", Mode: 0o644, UID: 4242},
	}}
	got := f.Objects()
	want := []map[string]string{
		{"exists": "true", "type": "file", "mode": "0600", "owner": "root", "group": "0", "sha256": "ab"},
		{"exists": "false"},
		{"exists": "true", "target": "x", "type": "file", "mode": "0644", "owner": "4242", "group": "0"},
	}
	for i, o := range got {
		if o.Area != snapshot.AreaFiles || o.ID != f.Files[i].Path || !o.OnRequest || !reflect.DeepEqual(o.Fields, want[i]) {
			t.Errorf("%d: %+v", i, o)
		}
	}
}
