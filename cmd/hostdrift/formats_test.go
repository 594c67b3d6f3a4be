package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// TestFormatsOneRun: check --format table --format json:F --format
// junit:F --format html:F writes every file from one evaluation (the
// same duration in each), valid as its format says, atomically (mode
// 0640, no temporary file left), with the table on standard output.
func TestFormatsOneRun(t *testing.T) {
	snapFile, policy := cliFixture(t)
	dir := t.TempDir()
	jsonFile, junitFile, htmlFile, promFile := filepath.Join(dir, "latest.json"), filepath.Join(dir, "report.xml"), filepath.Join(dir, "report.html"), filepath.Join(dir, "hostdrift.prom")
	code, stdout, stderr := runIn("check", "--snapshot", snapFile, "--policy", policy,
		"--format", "table", "--format", "json:"+jsonFile, "--format", "junit:"+junitFile, "--format", "html:"+htmlFile,
		"--prometheus-file", promFile, "--color", "always", "--var", "port=22")
	if code != exitDrift {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if !strings.HasPrefix(stdout, "hostdrift check on ") || !strings.Contains(stdout, "\x1b[") {
		t.Errorf("standard output is not the coloured table:\n%s", stdout)
	}
	read := func(path string) []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat(path); path != promFile && st.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v, want 0640 as --output writes", path, st.Mode().Perm())
		}
		return b
	}
	j := read(jsonFile)
	var rep struct {
		StartedAt  string  `json:"started_at"`
		DurationMS float64 `json:"duration_ms"`
	}
	if !json.Valid(j) || json.Unmarshal(j, &rep) != nil {
		t.Fatalf("the JSON file is not a report:\n%s", j)
	}
	// One evaluation: every file shows the same run (its start, and its
	// length to the microsecond in the textfile).
	junit := read(junitFile)
	stamp := `timestamp="` + rep.StartedAt[:19] + `"`
	if !bytes.Contains(junit, []byte(stamp)) || !bytes.Contains(junit, []byte(`<testcase name="listener.web"`)) {
		t.Errorf("the JUnit file lacks %s or the check:\n%s", stamp, junit)
	}
	took := "hostdrift_run_duration_seconds " + strconv.FormatFloat(rep.DurationMS/1000, 'g', -1, 64) + "\n"
	if !bytes.Contains(read(promFile), []byte(took)) {
		t.Errorf("the textfile is not of the run the JSON file has: no %q", took)
	}
	if err := xml.Unmarshal(junit, new(struct{})); err != nil {
		t.Errorf("the JUnit file does not parse: %v", err)
	}
	xmllint(t, junitFile)
	if !strings.Contains(stdout, fmt.Sprintf("(%.0f ms)", rep.DurationMS)) {
		t.Errorf("the table is not of the run the JSON file has (%.3f ms):\n%s", rep.DurationMS, stdout)
	}
	if !strings.Contains(string(read(htmlFile)), `<time datetime="`+rep.StartedAt[:19]+`Z">`) {
		t.Errorf("the page is not of the run the JSON file has (%s)", rep.StartedAt)
	}
	page := read(htmlFile)
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatalf("the HTML file does not parse: %v", err)
	}
	if !strings.Contains(textOf(doc), "listener.web") || bytes.Contains(page, []byte("\x1b[")) {
		t.Errorf("the HTML page lacks the check, or has the table's colours:\n%.2000s", page)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("files left: %v, want the four outputs only", names)
	}

	// Only files: nothing on standard output; --output keeps its meaning.
	out := filepath.Join(dir, "table.txt")
	code, stdout, stderr = runIn("check", "--snapshot", snapFile, "--policy", policy, "--format", "json:"+jsonFile, "--format", "table", "--output", out)
	if code != exitOK || stdout != "" {
		t.Fatalf("exit %d, stdout %q\n%s", code, stdout, stderr)
	}
	if b := read(out); !bytes.HasPrefix(b, []byte("hostdrift check on ")) || bytes.Contains(b, []byte("\x1b[")) {
		t.Errorf("--output did not get the plain table:\n%s", b)
	}
	code, stdout, _ = runIn("check", "--snapshot", snapFile, "--policy", policy, "--format", "junit:"+junitFile)
	if code != exitOK || stdout != "" {
		t.Errorf("every format with a file: exit %d, stdout %q, want nothing on standard output", code, stdout)
	}
	// Nagios on standard output keeps its plugin states beside a file.
	code, stdout, _ = runIn("check", "--snapshot", snapFile, "--policy", policy, "--var", "port=22", "--format", "nagios", "--format", "json:"+jsonFile)
	if code != nagiosWarning || !strings.HasPrefix(stdout, "HOSTDRIFT WARNING") {
		t.Errorf("nagios beside a file: exit %d %q, want the plugin state 1", code, stdout)
	}
}

// TestFormatErrors: what --format refuses, with exit 2 and a message saying
// what to do, before anything is evaluated.
func TestFormatErrors(t *testing.T) {
	snapFile, policy := cliFixture(t)
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--format", "table", "--format", "json"}, "--format table and --format json both write to standard output: give all but one a file (e.g. --format json:report.json)"},
		{[]string{"--format", "nagios", "--format", "table"}, "both write to standard output"},
		{[]string{"--format", "xml:" + dir + "/r.xml"}, `the format must be one of html, json, junit, nagios, prometheus, table, not "xml"`},
		{[]string{"--format", "json:"}, "--format json: names no file: give FORMAT:FILE, or FORMAT alone for standard output"},
		{[]string{"--format", "json:" + dir + "/r", "--format", "junit:" + dir + "/./r"}, "both write " + dir + "/./r: give each output a file of its own"},
		{[]string{"--format", "json:" + dir + "/r", "--output", dir + "/o"}, "--output writes the format given without a file"},
		{[]string{"--format", "table", "--output", dir + "/p", "--prometheus-file", dir + "/p"}, "--output and --prometheus-file both write"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, stdout, stderr := runIn(append([]string{"check", "--snapshot", snapFile, "--policy", policy}, c.args...)...)
			if code != exitUsage || !strings.Contains(stderr, c.want) || stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, stdout, stderr, c.want)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused command wrote %d files", len(entries))
	}
	// A file that cannot be written: the others are, and the exit is 4.
	good := filepath.Join(dir, "r.json")
	code, _, stderr := runIn("check", "--snapshot", snapFile, "--policy", policy, "--format", "junit:"+dir+"/missing/r.xml", "--format", "json:"+good)
	if code != exitOutput || !strings.Contains(stderr, "junit report "+dir+"/missing/r.xml") {
		t.Errorf("exit %d %q, want 4 naming the junit file", code, stderr)
	}
	if _, err := os.Stat(good); err != nil {
		t.Errorf("the file that could be written was not: %v", err)
	}
}

// xmllint validates a JUnit file against the schema the report package
// tests with.
func xmllint(t *testing.T, path string) {
	t.Helper()
	nstest.RequireCommand(t, "xmllint")
	if out, err := exec.Command("xmllint", "--noout", "--schema", "../../internal/report/testdata/junit.xsd", path).CombinedOutput(); err != nil {
		t.Errorf("%s does not validate: %v\n%s", path, err, out)
	}
}
