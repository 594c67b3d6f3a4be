package main

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/bench/bighost"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

// compiles fails the test unless text is a policy hostdrift accepts, and
// returns its checks by kind.
func compiles(t *testing.T, text string) map[string]int {
	t.Helper()
	pol, diags := rules.Load([]rules.Source{{Name: "set.hcl", Text: []byte(text)}})
	if !diags.HasErrors() {
		_, diags = pol.Compile(&snapshot.Host{}, nil)
	}
	if diags.HasErrors() {
		t.Fatalf("the generated policy does not compile: %s", diags.Error())
	}
	kinds := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^(\w+) "`).FindAllStringSubmatch(text, -1) {
		kinds[m[1]]++
	}
	return kinds
}

func TestListenerSet(t *testing.T) {
	set := listenerSet(compareListeners)
	if set.Checks != 1000 || set.gossTests != 2000 {
		t.Errorf("set of %d checks, %d goss tests; want 1000 and 2000", set.Checks, set.gossTests)
	}
	if got := compiles(t, set.hcl); got["listener"] != 1000 || len(got) != 1 {
		t.Errorf("HCL holds %v, want 1000 listener checks", got)
	}
	// The goss file: one resource a port, each listening on 127.0.0.1,
	// every port one the big host serves on 127.0.0.1 at 1x.
	keys := regexp.MustCompile(`(?m)^  tcp:(\d+):\n    listening: true\n    ip:\n    - 127\.0\.0\.1\n`).FindAllStringSubmatch(set.goss, -1)
	if !strings.HasPrefix(set.goss, "# Generated") || !strings.Contains(set.goss, "\nport:\n") || len(keys) != 1000 {
		t.Fatalf("goss file has %d port resources, want 1000:\n%s", len(keys), tail(set.goss, 300))
	}
	seen := map[string]bool{}
	for _, k := range keys {
		var p int
		fmt.Sscan(k[1], &p)
		if p < bighost.ListenerPort || p >= bighost.ListenerPort+bighost.Listeners || seen[k[1]] {
			t.Errorf("port %d repeated or not served at 1x", p)
		}
		seen[k[1]] = true
		if !strings.Contains(set.hcl, fmt.Sprintf("port    = %d\n", p)) && !strings.Contains(set.hcl, fmt.Sprintf("port = %d\n", p)) {
			t.Errorf("port %d is in the goss file, not in the HCL", p)
		}
	}
}

func TestDNSSet(t *testing.T) {
	set := dnsSet(compareNames, "127.0.0.1:5353")
	if got := compiles(t, set.hcl); got["dns"] != 500 || len(got) != 1 {
		t.Errorf("HCL holds %v, want 500 dns checks", got)
	}
	for _, i := range []int{0, 499} {
		want := fmt.Sprintf("  %s:\n    resolvable: true\n    addrs:\n      consist-of: [%s]\n    server: 127.0.0.1:5353\n", bighost.Name(i), bighost.NameAddr(i))
		if !strings.Contains(set.goss, want) {
			t.Errorf("goss file lacks\n%s", want)
		}
		if !strings.Contains(set.hcl, fmt.Sprintf("%q", bighost.Name(i))) {
			t.Errorf("HCL lacks %s", bighost.Name(i))
		}
	}
	// goss asks A and AAAA for every name; so must hostdrift, or the two
	// do different work.
	pol, _ := rules.Load([]rules.Source{{Name: "set.hcl", Text: []byte(set.hcl)}})
	plan, _ := pol.Compile(&snapshot.Host{}, nil)
	types := map[string]int{}
	for _, q := range plan.Wants().DNS {
		types[q.Type]++
	}
	if types["A"] != 500 || types["AAAA"] != 500 || len(types) != 2 {
		t.Errorf("HCL asks %v, want A and AAAA for each of 500 names", types)
	}
	if n := strings.Count(set.goss, "resolvable: true"); n != 500 || set.gossTests != 1000 {
		t.Errorf("goss file has %d names and %d tests, want 500 and 1000", n, set.gossTests)
	}
}

func TestGossPassed(t *testing.T) {
	set := checkSet{Name: "listeners", Checks: 1, gossTests: 2}
	ok := `{"results":[{"successful":true},{"successful":true}],"summary":{"failed-count":0,"skipped-count":0,"test-count":2}}`
	failed := `{"results":[{"successful":false,"summary-line-compact":"Port: tcp:1: listening: Expected false to equal true"},{"successful":true,"skipped":true}],"summary":{"failed-count":1,"skipped-count":1,"test-count":2}}`
	short := `{"results":[],"summary":{"failed-count":0,"skipped-count":0,"test-count":0}}`
	for _, tc := range []struct {
		name, in, want string
	}{
		{"every test passed", ok, ""},
		{"one failed", failed, "listening: Expected false"},
		{"nothing ran", short, "ran 0 tests (want 2)"},
		{"not JSON", "Count: 2", "goss's JSON report"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := gossPassed(strings.NewReader(tc.in), set)
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("gossPassed = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestHostdriftPassed(t *testing.T) {
	set := checkSet{Name: "dns", Checks: 2}
	for _, tc := range []struct {
		name, in, want string
	}{
		{"all pass", `{"findings":[{"kind":"dns","status":"pass"},{"kind":"dns","status":"pass"}],"summary":{"total":2,"pass":2}}`, ""},
		{"one error", `{"findings":[{"kind":"dns","status":"error","observed":"timeout"},{"kind":"dns","status":"pass"}],"summary":{"total":2,"pass":1,"error":1}}`, "dns error: timeout"},
		{"too few", `{"findings":[],"summary":{"total":1,"pass":1}}`, "1 pass (want 2)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := hostdriftPassed(strings.NewReader(tc.in), set)
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("hostdriftPassed = %v, want %q", err, tc.want)
			}
		})
	}
}

// fakeScale is a measured scale with the given wall times (ms) and check's
// and snapshot's peak RSS.
func fakeScale(s int, floor, snap, check, snapRSS, checkRSS float64) scaleResult {
	sr := scaleResult{Scale: s, Commands: []commandResult{
		{command{Name: "ss -Htanp", Role: "floor"}, figures{WallMS: floor, CPUMS: floor, RSSMB: 10}},
		{command{Name: "hostdrift snapshot", Role: "hostdrift"}, figures{WallMS: snap, CPUMS: snap, RSSMB: snapRSS}},
		{command{Name: "hostdrift check", Role: "hostdrift"}, figures{WallMS: check, CPUMS: check / 2, RSSMB: checkRSS}},
	}, Collectors: []snapshot.CollectorStatus{{Name: "listeners", DurationMS: check / 4}}}
	sr.summarize()
	return sr
}

func TestTargetRows(t *testing.T) {
	res := &result{Scales: []scaleResult{
		fakeScale(1, 1000, 400, 600, 79, 61),
		fakeScale(4, 10000, 5000, 4000, 200, 150),
		fakeScale(16, 100000, 50000, 12000, 900, 500),
	}, Goss: []compareResult{
		{checkSet: checkSet{Name: "listeners"}, Ratio: 0.5},
		{checkSet: checkSet{Name: "dns"}, Error: "goss does not pass: 1 failed"},
	}}
	want := []struct{ what, figure, status string }{
		{"hostdrift check / floor, 1x", "0.60x", statusNotMet},
		{"hostdrift check / floor, 4x", "0.40x", statusMet},
		{"hostdrift snapshot / floor, 1x", "0.40x", statusMet},
		{"hostdrift snapshot / floor, 4x", "0.50x", statusMet}, // at the target is met
		{"check peak RSS, 1x", "61.0 MB", statusNotMet},
		{"snapshot peak RSS, 1x", "79.0 MB", statusMet},
		{"growth of check's wall time, 1x -> 16x", "20.00x", statusMet},
		{"hostdrift / goss, 1000 listener checks", "0.50", statusMet},
		{"hostdrift / goss, 500 DNS names", "-", statusNotMet}, // a tool failed: not met, with why
	}
	rows := targetRows(res)
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(rows), len(want), rows)
	}
	for i, w := range want {
		if r := rows[i]; r.What != w.what || r.Figure != w.figure || r.Status != w.status {
			t.Errorf("row %d = %q %q %q, want %q %q %q", i, r.What, r.Figure, r.Status, w.what, w.figure, w.status)
		}
	}
	if !strings.Contains(rows[8].Note, "1 failed") {
		t.Errorf("the failed comparison's row does not say why: %+v", rows[8])
	}

	// Only 1x, and goss not built: what was not measured says so.
	res = &result{Scales: []scaleResult{fakeScale(1, 1000, 400, 600, 50, 50)}, GossError: "goss v0.4.9 could not be built: no network"}
	rows = targetRows(res)
	for _, i := range []int{1, 3, 6, 7, 8} {
		if rows[i].Status != statusNotMeasured || rows[i].Note == "" {
			t.Errorf("row %q = %q (%q), want not measured with a reason", rows[i].What, rows[i].Status, rows[i].Note)
		}
	}
	if !strings.Contains(rows[7].Note, "no network") || !strings.Contains(rows[6].Note, "16x was not measured") {
		t.Errorf("reasons: %q, %q", rows[7].Note, rows[6].Note)
	}

	var b bytes.Buffer
	printTargets(&b, rows)
	out := b.String()
	for _, s := range []string{"what", "figure", "target", "met/not met", "check peak RSS, 1x", "<= 60 MB", "<= 0.50x", "<= 20.00x", "not measured", "hostdrift / goss, 500 DNS names"} {
		if !strings.Contains(out, s) {
			t.Errorf("the table lacks %q:\n%s", s, out)
		}
	}
	if n := strings.Count(out, "\n"); n < len(rows)+2 {
		t.Errorf("the table has %d lines for %d rows:\n%s", n, len(rows), out)
	}
}

func TestGrowthTable(t *testing.T) {
	scales := []scaleResult{fakeScale(1, 1000, 400, 600, 50, 40), fakeScale(4, 10000, 5000, 4000, 200, 160)}
	rows := growthTable(scales)
	get := func(what string) growthRow {
		for _, r := range rows {
			if r.What == what {
				return r
			}
		}
		t.Fatalf("no growth row %q in %+v", what, rows)
		return growthRow{}
	}
	for _, c := range []struct {
		what string
		want float64
	}{
		{"ss -Htanp", 10}, {"floor total", 10}, {"hostdrift check CPU", 4000.0 / 600}, {"hostdrift check", 4000.0 / 600}, {"collector listeners", 4000.0 / 600}, {"hostdrift check peak RSS", 4},
	} {
		if got := get(c.what).OverBase["4x"]; fmt.Sprintf("%.3f", got) != fmt.Sprintf("%.3f", c.want) {
			t.Errorf("%s grew %.3fx, want %.3fx", c.what, got, c.want)
		}
	}
	var b bytes.Buffer
	printGrowth(&b, []int{1, 4}, rows)
	for _, s := range []string{"4x/1x", "hostdrift check (ms)", "6.7x", "collector listeners (ms)", "hostdrift snapshot peak RSS (MB)", "200.0"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("growth table lacks %q:\n%s", s, b.String())
		}
	}
}
