package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/remote"
	"github.com/hostdrift/hostdrift/internal/report"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// sshPolicy passes where sshd listens on var.port (nothing listens on the
// default, 22: the tests' --var port=2201 must travel) and hostdrift is
// installed in /usr/local/bin; the ingress check needs root to read the
// firewall.
const sshPolicy = `
listener "sshd" {
  port = var.port
}
file "installed" {
  path = "/usr/local/bin/hostdrift"
}
ingress "ssh" {
  port = 2201
}
variable "port" {
  default = 22
}
`

// sshRun runs hostdrift check --ssh inside ns with the test's ssh config and
// returns the JSON lines it printed, its standard error and exit code.
func sshRun(t *testing.T, ns *nstest.NS, cfg string, args ...string) ([]remote.Record, string, int) {
	t.Helper()
	cmd := ns.Command(binary(t), append([]string{"check", "--format", "json", "--ssh-config", cfg}, args...)...)
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK=")
	stdout, stderr, code := runCapture(t, cmd)
	var recs []remote.Record
	lineSchema := compileSchema(t, "remote.schema.json")
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var r remote.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("exit %d: not a JSON line: %v\n%s\nstderr: %s", code, err, sc.Bytes(), stderr)
		}
		validate(t, lineSchema, sc.Bytes())
		recs = append(recs, r)
	}
	return recs, string(stderr), code
}

// statuses maps each check of a host's report to its status.
func statuses(t *testing.T, r remote.Record) map[string]finding.Status {
	t.Helper()
	if r.Error != "" || r.Report == nil {
		t.Fatalf("%s: no report: %s", r.Host, r.Error)
	}
	var rep report.Report
	if err := json.Unmarshal(r.Report, &rep); err != nil {
		t.Fatal(err)
	}
	out := map[string]finding.Status{}
	for _, f := range rep.Findings {
		out[f.Check] = f.Status
	}
	return out
}

// emptyDir fails the test unless dir holds nothing: the copy was removed.
func emptyDir(t *testing.T, dir string) {
	t.Helper()
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("%s still holds %v: the temporary copy was not removed", dir, left)
	}
}

// TestCheckSSH runs check --ssh against real OpenSSH servers in a network
// namespace: one whose host has no hostdrift (it is copied, run and
// removed), one with this very hostdrift installed (it runs in place), with
// sudo, an address that never answers, and several hosts at once.
func TestCheckSSH(t *testing.T) {
	ns := nstest.New(t)
	// The ingress check needs an address that is not loopback.
	ns.Address(t, "10.250.0.1/24")
	bin := binary(t)
	plain := ns.StartSSHD(t, "127.0.0.1", 2201, nstest.SSHDOptions{})
	// As the README suggests: sudo lets the user run the installed hostdrift
	// check, and nothing else.
	narrow := "/usr/local/bin/hostdrift check *"
	installed := ns.StartSSHD(t, "127.0.0.1", 2202, nstest.SSHDOptions{Hostdrift: bin, Sudo: narrow})
	// The same rule without hostdrift installed: the copy may not run as root.
	refusing := ns.StartSSHD(t, "127.0.0.1", 2203, nstest.SSHDOptions{Sudo: narrow})
	cfg := nstest.SSHClientConfig(t, plain, installed, refusing)
	pol := policyFile(t, sshPolicy)
	// 127.0.0.9 is the namespace's too, but every packet to it is dropped:
	// ssh waits for its ConnectTimeout.
	nstest.RequireCommand(t, "nft")
	ns.Run(t, "nft", "add table ip hdtest; add chain ip hdtest out { type filter hook output priority 0; }; add rule ip hdtest out ip daddr 127.0.0.9 drop")

	t.Run("copied", func(t *testing.T) {
		recs, stderr, code := sshRun(t, ns, cfg, "--ssh", "root@127.0.0.1:2201", "--policy", pol, "--var", "port=2201")
		if len(recs) != 1 {
			t.Fatalf("want one record, got %d (exit %d)\n%s", len(recs), code, stderr)
		}
		r := recs[0]
		validate(t, compileSchema(t, "report.schema.json"), r.Report)
		st := statuses(t, r)
		if !r.Copied || filepath.Dir(r.Binary) != plain.TmpDir || r.Host != "root@127.0.0.1:2201" {
			t.Errorf("want hostdrift copied into %s, got %s %s copied %v", plain.TmpDir, r.Host, r.Binary, r.Copied)
		}
		// The report is the remote's: its /usr/local/bin is empty, and the
		// variable reached it (listener.sshd looks at port 2201).
		if st["listener.sshd"] != finding.Pass || st["file.installed"] != finding.Fail || st["ingress.ssh"] != finding.Pass {
			t.Errorf("statuses %v\nstderr: %s", st, stderr)
		}
		if code != exitDrift || r.ExitCode != exitDrift {
			t.Errorf("exit %d, record %d; want 1\nstderr: %s", code, r.ExitCode, stderr)
		}
		if _, err := os.Stat(r.Binary); !os.IsNotExist(err) {
			t.Errorf("the copy %s is still there: %v", r.Binary, err)
		}
		emptyDir(t, plain.TmpDir)
	})

	t.Run("installed", func(t *testing.T) {
		recs, stderr, code := sshRun(t, ns, cfg, "--ssh", "root@127.0.0.1:2202", "--policy", pol, "--var", "port=2201")
		if len(recs) != 1 {
			t.Fatalf("want one record, got %d (exit %d)\n%s", len(recs), code, stderr)
		}
		r := recs[0]
		st := statuses(t, r)
		if r.Copied || r.Binary != "/usr/local/bin/hostdrift" {
			t.Errorf("want the installed hostdrift run in place, got %s copied %v", r.Binary, r.Copied)
		}
		if st["file.installed"] != finding.Pass || code != exitOK {
			t.Errorf("exit %d, statuses %v\nstderr: %s", code, st, stderr)
		}
		emptyDir(t, installed.TmpDir)
	})

	t.Run("sudo", func(t *testing.T) {
		user := nstest.SSHUser + "@127.0.0.1:2201"
		// Without sudo the test user cannot read the firewall: blind, not passed.
		recs, stderr, _ := sshRun(t, ns, cfg, "--ssh", user, "--policy", pol, "--var", "port=2201")
		if len(recs) != 1 {
			t.Fatalf("want one record\n%s", stderr)
		}
		if st := statuses(t, recs[0]); st["ingress.ssh"] != finding.Error {
			t.Errorf("as %s without sudo, ingress.ssh is %q, want error\nstderr: %s", nstest.SSHUser, st["ingress.ssh"], stderr)
		}
		recs, stderr, code := sshRun(t, ns, cfg, "--ssh", user, "--sudo", "--policy", pol, "--var", "port=2201")
		if len(recs) != 1 {
			t.Fatalf("want one record\n%s", stderr)
		}
		st := statuses(t, recs[0])
		if st["ingress.ssh"] != finding.Pass || st["listener.sshd"] != finding.Pass || code != exitDrift || !recs[0].Copied {
			t.Errorf("with --sudo: exit %d, copied %v, statuses %v\nstderr: %s", code, recs[0].Copied, st, stderr)
		}
		emptyDir(t, plain.TmpDir)

		// A sudoers rule that names the installed hostdrift lets it run.
		recs, stderr, code = sshRun(t, ns, cfg, "--ssh", nstest.SSHUser+"@127.0.0.1:2202", "--sudo", "--policy", pol, "--var", "port=2201")
		if len(recs) != 1 {
			t.Fatalf("want one record\n%s", stderr)
		}
		if st := statuses(t, recs[0]); st["ingress.ssh"] != finding.Pass || code != exitOK || recs[0].Copied {
			t.Errorf("sudo with a rule for the installed hostdrift: exit %d, copied %v, statuses %v\nstderr: %s", code, recs[0].Copied, st, stderr)
		}

		// The same rule refuses the copy: sudo's own message, exit 3, and
		// the copy is removed all the same.
		recs, stderr, code = sshRun(t, ns, cfg, "--ssh", nstest.SSHUser+"@127.0.0.1:2203", "--sudo", "--policy", pol)
		if len(recs) != 1 || code != exitIncomplete {
			t.Fatalf("exit %d, %d records; want 3 and one\n%s", code, len(recs), stderr)
		}
		if r := recs[0]; r.ExitCode != exitIncomplete || r.Report != nil || !strings.Contains(r.Error, "sudo: a password is required") || !strings.Contains(r.Error, "install hostdrift there") || !r.Copied {
			t.Errorf("want sudo's refusal as the host's error, got exit %d, copied %v, error %q", r.ExitCode, r.Copied, r.Error)
		}
		emptyDir(t, refusing.TmpDir)
	})

	t.Run("unreachable", func(t *testing.T) {
		recs, stderr, code := sshRun(t, ns, cfg, "--ssh", "root@127.0.0.9", "--ssh-option", "ConnectTimeout=2")
		if len(recs) != 1 || code != exitIncomplete {
			t.Fatalf("exit %d, %d records; want 3 and one\n%s", code, len(recs), stderr)
		}
		r := recs[0]
		if r.ExitCode != exitIncomplete || r.Report != nil || !strings.Contains(r.Error, "ssh: connect to host 127.0.0.9 port 22") || !strings.Contains(r.Error, "timed out") {
			t.Errorf("want ssh's own message about the timeout, got exit %d, error %q", r.ExitCode, r.Error)
		}
	})

	t.Run("several hosts", func(t *testing.T) {
		files := t.TempDir()
		junitFile, jsonFile := filepath.Join(files, "hosts.xml"), filepath.Join(files, "hosts.json")
		recs, stderr, code := sshRun(t, ns, cfg, "--ssh", "root@127.0.0.1:2202", "--ssh", "root@127.0.0.9",
			"--ssh", "root@127.0.0.1:2201", "--ssh-option", "ConnectTimeout=2", "--ssh-parallel", "2",
			"--policy", "builtin:default", "--policy", pol, "--var", "port=2201",
			"--format", "junit:"+junitFile, "--format", "json:"+jsonFile)
		var hosts []string
		var codes []int
		for _, r := range recs {
			hosts = append(hosts, r.Host)
			codes = append(codes, r.ExitCode)
		}
		if !slices.Equal(hosts, []string{"root@127.0.0.1:2202", "root@127.0.0.9", "root@127.0.0.1:2201"}) {
			t.Fatalf("hosts %v, want them in the order named\nstderr: %s", hosts, stderr)
		}
		// The installed host has no drift in this policy, the plain one has;
		// the unreachable one is an error. Drift is the worst.
		if codes[1] != exitIncomplete || codes[2] != exitDrift || code != exitDrift {
			t.Errorf("exit %d, per host %v\nstderr: %s", code, codes, stderr)
		}
		// The built-in policy travelled by name, the operator's file on stdin.
		var rep report.Report
		if err := json.Unmarshal(recs[2].Report, &rep); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(rep.Policies, "<stdin>") || len(rep.Policies) < 2 {
			t.Errorf("policies %v: want the built-in files and <stdin>", rep.Policies)
		}
		emptyDir(t, plain.TmpDir)
		sshFiles(t, recs, junitFile, jsonFile)

		// The table: a heading per host, the worst exit code.
		cmd := ns.Command(bin, "check", "--ssh-config", cfg, "--ssh", "root@127.0.0.1:2202", "--ssh", "root@127.0.0.1:2201", "--policy", pol, "--var", "port=2201")
		cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK=")
		out, errOut, code := runCapture(t, cmd)
		for _, want := range []string{"== root@127.0.0.1:2202 (/usr/local/bin/hostdrift) ==", "== root@127.0.0.1:2201 (hostdrift copied for the run, then removed) ==", "2 hosts: 1 with drift"} {
			if !bytes.Contains(out, []byte(want)) {
				t.Errorf("the table lacks %q:\n%s\nstderr: %s", want, out, errOut)
			}
		}
		if code != exitDrift {
			t.Errorf("table: exit %d, want 1", code)
		}
	})
}

// TestCheckSSHUsage: what does not go with --ssh is refused before any
// connection.
func TestCheckSSHUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--sudo"}, "go with --ssh HOST"},
		{[]string{"--ssh", "h", "--snapshot", "x.json"}, "do not go with --ssh"},
		{[]string{"--ssh", "h", "--format", "junit"}, "table or json"},
		{[]string{"--ssh", "h", "--format", "html:h.html"}, "json (one document with a report per host) or junit (a test suite per host), not html"},
		{[]string{"--ssh", "h", "--format", "prometheus:h.prom"}, "not prometheus"},
		{[]string{"--ssh", "h", "--format", "table", "--format", "json"}, "both write to standard output"},
		{[]string{"--ssh", "h", "--ssh-parallel", "0"}, "1 or more"},
		{[]string{"--ssh", "h:99999"}, "from 1 to 65535"},
		{[]string{"--ssh", "h", "--ssh-option", "BatchMode=no"}, "BatchMode=yes"},
		{[]string{"--ssh", "h", "--policy", "/nonexistent.hcl"}, "/nonexistent.hcl"},
	} {
		var out, errOut bytes.Buffer
		code := run(append([]string{"check"}, tc.args...), strings.NewReader(""), &out, &errOut)
		if code != exitUsage || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("check %v: exit %d, %q; want 2 and %q", tc.args, code, errOut.String(), tc.want)
		}
	}
}

// sshFiles checks the files one check --ssh run wrote beside its JSON
// lines: one JUnit document with a suite per host (valid, the unreachable
// host a suite in error) and one JSON document with the lines' records.
func sshFiles(t *testing.T, recs []remote.Record, junitFile, jsonFile string) {
	t.Helper()
	xmllint(t, junitFile)
	x, err := os.ReadFile(junitFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests  int `xml:"tests,attr"`
		Suites []struct {
			Name   string `xml:"name,attr"`
			Tests  int    `xml:"tests,attr"`
			Errors int    `xml:"errors,attr"`
			Cases  []struct {
				Name  string `xml:"name,attr"`
				Error *struct {
					Type string `xml:"type,attr"`
				} `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(x, &doc); err != nil {
		t.Fatalf("the JUnit file does not parse: %v\n%s", err, x)
	}
	var names []string
	total := 0
	for _, s := range doc.Suites {
		names = append(names, s.Name)
		total += s.Tests
	}
	if !slices.Equal(names, []string{"hostdrift root@127.0.0.1:2202", "hostdrift root@127.0.0.9", "hostdrift root@127.0.0.1:2201"}) || doc.Tests != total {
		t.Fatalf("suites %v (%d tests, %d in all), want one per host in the order named", names, total, doc.Tests)
	}
	if s := doc.Suites[1]; s.Tests != 1 || s.Errors != 1 || s.Cases[0].Error == nil || s.Cases[0].Error.Type != "not-audited" {
		t.Errorf("the unreachable host's suite: %+v", s)
	}
	var rep report.Report
	if err := json.Unmarshal(recs[2].Report, &rep); err != nil {
		t.Fatal(err)
	}
	if s := doc.Suites[2]; s.Tests != rep.Summary.Total || len(s.Cases) != len(rep.Findings) {
		t.Errorf("root@127.0.0.1:2201's suite has %d tests, its report %d checks", s.Tests, rep.Summary.Total)
	}

	j, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	var inFile []remote.Record
	if !json.Valid(j) || json.Unmarshal(j, &inFile) != nil || len(inFile) != len(recs) {
		t.Fatalf("the JSON file is not one document with a record per host:\n%.1000s", j)
	}
	for i := range recs {
		var a, b bytes.Buffer
		_ = json.Compact(&a, recs[i].Report)
		_ = json.Compact(&b, inFile[i].Report)
		if inFile[i].Host != recs[i].Host || inFile[i].ExitCode != recs[i].ExitCode || inFile[i].Error != recs[i].Error || a.String() != b.String() {
			t.Errorf("record %d of the file differs from the line of the same run: %s %d", i, inFile[i].Host, inFile[i].ExitCode)
		}
	}
	lineSchema := compileSchema(t, "remote.schema.json")
	for _, r := range inFile {
		b, _ := json.Marshal(r)
		validate(t, lineSchema, b)
	}
}
