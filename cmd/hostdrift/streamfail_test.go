package main

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// TestOutputsFailingMidStreamLeaveNoHalfDocument: the report and the saved
// snapshot are written as they are encoded, so a write can fail after part
// of the document went out. A file-size limit (RLIMIT_FSIZE, in a child
// process: it is process-wide) makes the kernel refuse the writes past
// 8 KiB, after the first buffers of a document of several hundred KiB were
// written; each destination must keep its previous content and no
// temporary file may be left beside it.
func TestOutputsFailingMidStreamLeaveNoHalfDocument(t *testing.T) {
	const limit = 8 << 10
	if dir := os.Getenv("HOSTDRIFT_TEST_FSIZE_DIR"); dir != "" {
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: limit}); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		code := run([]string{"check", "--snapshot", filepath.Join(dir, "in.json"), "--policy", "builtin:default",
			"--format", "json", "--output", filepath.Join(dir, "report.json"), "--save-snapshot", filepath.Join(dir, "snap.json")}, nil, &stdout, &stderr)
		os.WriteFile(filepath.Join(dir, "exit"), []byte(strconv.Itoa(code)+"\n"+stderr.String()), 0o644)
		return
	}
	dir := t.TempDir()
	snap := scenarios()["clean.exit0"]
	for i := range 5000 {
		snap.Listeners.Sockets = append(snap.Listeners.Sockets, snapshot.Socket{
			Protocol: "tcp", Family: snapshot.IPv4, Address: netip.MustParseAddr("127.0.0.1"), Port: uint16(20000 + i)})
	}
	b, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "in.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	previous := []byte("previous content\n")
	for _, name := range []string{"report.json", "snap.json"} {
		os.WriteFile(filepath.Join(dir, name), previous, 0o640)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestOutputsFailingMidStreamLeaveNoHalfDocument$", "-test.count=1")
	cmd.Env = append(os.Environ(), "HOSTDRIFT_TEST_FSIZE_DIR="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	res, err := os.ReadFile(filepath.Join(dir, "exit"))
	if err != nil {
		t.Fatalf("the child left no result: %v", err)
	}
	code, _, _ := bytes.Cut(res, []byte("\n"))
	if string(code) != strconv.Itoa(exitOutput) {
		t.Errorf("exit %s, want %d (outputs could not be written): %s", code, exitOutput, res)
	}
	t.Logf("child: %s", res)
	if !bytes.Contains(res, []byte("file too large")) {
		t.Errorf("stderr does not say the writes were refused: %s", res)
	}
	for _, name := range []string{"report.json", "snap.json"} {
		if got, _ := os.ReadFile(filepath.Join(dir, name)); !bytes.Equal(got, previous) {
			t.Errorf("%s changed: %d bytes, starting %.60q", name, len(got), got)
		}
		if tmps, _ := filepath.Glob(filepath.Join(dir, "."+name+".tmp-*")); len(tmps) > 0 {
			t.Errorf("temporary files left behind: %v", tmps)
		}
	}
}
