package rusage

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestPeakIsTheChilds checks the reason for the package: a child that
// uses little memory reports little, however much its parent holds.
func TestPeakIsTheChilds(t *testing.T) {
	if _, err := os.Stat(Tool); err != nil {
		t.Skipf("%s missing (Debian: apt-get install time)", Tool)
	}
	ballast := make([]byte, 256<<20)
	for i := range ballast {
		ballast[i] = 1
	}
	cmd := exec.Command(Wrap("true")[0], Wrap("true")[1:]...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	_, rss, err := Of(cmd.ProcessState, stderr.String())
	if err != nil {
		t.Fatal(err)
	}
	if rss <= 0 || rss > 64<<20 {
		t.Errorf("true's peak RSS = %d bytes; want a few MB, not the parent's %d", rss, len(ballast))
	}
	if ballast[len(ballast)-1] != 1 {
		t.Fatal("ballast")
	}
}

func TestStripReport(t *testing.T) {
	if got := StripReport("oops\nmaxrss-kb=1234\n"); got != "oops\n" {
		t.Errorf("StripReport = %q", got)
	}
	if got := StripReport("only the program\n"); got != "only the program\n" {
		t.Errorf("StripReport = %q", got)
	}
}
