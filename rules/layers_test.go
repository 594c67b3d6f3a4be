package rules_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/policies"
	"github.com/hostdrift/hostdrift/rules"
)

// layeredPolicy loads the built-in policy with the operator's files over it.
func layeredPolicy(t *testing.T, files ...string) (*rules.Policy, hcl.Diagnostics) {
	t.Helper()
	builtin, err := policies.Default()
	if err != nil {
		t.Fatal(err)
	}
	var srcs []rules.Source
	for _, f := range builtin {
		srcs = append(srcs, rules.Source{Name: f.Name, Text: f.Text, Builtin: true})
	}
	for i := 0; i+1 < len(files); i += 2 {
		srcs = append(srcs, rules.Source{Name: files[i], Text: []byte(files[i+1])})
	}
	return rules.Load(srcs)
}

func compileLayered(t *testing.T, files ...string) (*rules.Plan, hcl.Diagnostics) {
	t.Helper()
	p, diags := layeredPolicy(t, files...)
	if diags.HasErrors() {
		return nil, diags
	}
	return p.Compile(nil, nil)
}

func builtinCount(t *testing.T) int {
	plan, diags := compileLayered(t)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return len(plan.Checks)
}

func findingOf(fs []finding.Finding, id string) *finding.Finding {
	for i := range fs {
		if fs[i].Check == id {
			return &fs[i]
		}
	}
	return nil
}

// TestOperatorFilesLayerOverTheBuiltin: the operator's checks add to the
// built-in ones, and one with a built-in's kind.name replaces it in place,
// every for_each instance of it.
func TestOperatorFilesLayerOverTheBuiltin(t *testing.T) {
	n := builtinCount(t)
	plan, diags := compileLayered(t, "/etc/hostdrift/policies/local.hcl", `
listener "not-public" {
  for_each = { redis = 6380 }
  port     = each.value
  address  = "public"
  expect   = "absent"
}
listener "ssh" { port = 22 }
variable "public_addresses" { default = ["203.0.113.9"] }
`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	// The built-in listener.not-public has 12 instances; the operator's 1.
	if len(plan.Checks) != n-12+1+1 {
		t.Errorf("%d checks, want the %d built-in ones, 11 fewer, plus 1", len(plan.Checks), n)
	}
	const id = `listener.not-public["redis"]`
	var redis *rules.Compiled
	for _, c := range plan.Checks {
		if c.BlockID() == "listener.not-public" && c.ID() != id {
			t.Errorf("%s: the built-in instances must all be replaced", c.ID())
		}
		if c.ID() == id {
			if redis != nil {
				t.Errorf("%s is in the plan twice", id)
			}
			redis = c
		}
	}
	if redis == nil || redis.Source.File != "/etc/hostdrift/policies/local.hcl" || redis.Replaces == nil || redis.Replaces.File != "builtin:default/listeners.hcl" {
		t.Fatalf("the operator's %s must replace the built-in one: %+v", id, redis)
	}
	if len(plan.Overrides) != 1 || plan.Overrides[0].Check != "listener.not-public" {
		t.Errorf("overrides %+v", plan.Overrides)
	}
	fs := plan.Evaluate(&snapshot.Snapshot{}, time.Now())
	if f := findingOf(fs, id); f == nil || !strings.Contains(f.Explanation, "replaces the built-in one at builtin:default/listeners.hcl:") {
		t.Errorf("the finding must say it replaces the built-in check: %+v", f)
	}
}

// TestWaiveAndDisableInstances: a waiver or disable block names one
// instance of a check with for_each, or all of them.
func TestWaiveAndDisableInstances(t *testing.T) {
	n := builtinCount(t)
	plan, diags := compileLayered(t, "/etc/hostdrift/policies/waivers.hcl", `
disable "listener.not-public[\"kafka\"]" {
  reason = "no Kafka here, and the port is someone else's, OPS-11"
}
waiver "listener.not-public[redis]" {
  reason  = "replica sync, OPS-142"
  expires = "2030-01-01"
}
`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if len(plan.Checks) != n-1 || len(plan.Disabled) != 1 || plan.Disabled[0].Check.ID() != `listener.not-public["kafka"]` {
		t.Fatalf("%d checks, disabled %+v; want %d and the kafka instance", len(plan.Checks), plan.Disabled, n-1)
	}
	fs := plan.Evaluate(&snapshot.Snapshot{}, time.Now())
	if f := findingOf(fs, `listener.not-public["redis"]`); f == nil || f.Status != finding.Waived {
		t.Errorf("the redis instance must be waived: %+v", f)
	}
	if f := findingOf(fs, `listener.not-public["mysql"]`); f == nil || f.Status == finding.Waived {
		t.Errorf("the mysql instance must not be waived: %+v", f)
	}

	plan, diags = compileLayered(t, "w.hcl", `
waiver "listener.not-public" {
  reason  = "a lab host, OPS-1"
  expires = "2030-01-01"
}
`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	waived := 0
	for _, f := range plan.Evaluate(&snapshot.Snapshot{}, time.Now()) {
		if strings.HasPrefix(f.Check, "listener.not-public[") {
			if f.Status != finding.Waived {
				t.Errorf("%s: %s, want waived: a waiver for kind.name covers every instance", f.Check, f.Status)
			}
			waived++
		}
	}
	if waived != 12 {
		t.Errorf("%d instances waived, want 12", waived)
	}

	plan, diags = compileLayered(t, "d.hcl", `disable "listener.not-public" { reason = "a lab host" }`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if len(plan.Checks) != n-12 || len(plan.Disabled) != 12 {
		t.Errorf("%d checks and %d disabled, want %d and 12", len(plan.Checks), len(plan.Disabled), n-12)
	}
}

// TestDisableAndWaiveBuiltinChecks: a disabled check is not evaluated and
// is reported as a skip naming who disabled it and why; a waiver clears a
// built-in check's error (here: its collector did not run) until it expires.
func TestDisableAndWaiveBuiltinChecks(t *testing.T) {
	n := builtinCount(t)
	plan, diags := compileLayered(t, "/etc/hostdrift/policies/waivers.hcl", `
disable "cron.output-not-lost" {
  reason = "cron mail goes to the journal here, OPS-7"
}
waiver "dns.fqdn-resolves-to-host" {
  reason  = "split-horizon DNS, OPS-9"
  expires = "2030-01-01"
}
waiver "accepting.tcp-listeners" {
  reason  = "expired on purpose"
  expires = "2020-01-01"
}
`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if len(plan.Checks) != n-1 || len(plan.Disabled) != 1 {
		t.Errorf("%d checks and %d disabled, want %d and 1", len(plan.Checks), len(plan.Disabled), n-1)
	}
	for _, c := range plan.Checks {
		if c.ID() == "cron.output-not-lost" {
			t.Error("a disabled check must not be evaluated")
		}
	}
	fs := plan.Evaluate(&snapshot.Snapshot{}, time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC))
	if len(fs) != n {
		t.Errorf("%d findings, want one per check, disabled ones included (%d)", len(fs), n)
	}
	off := findingOf(fs, "cron.output-not-lost")
	if off == nil || off.Status != finding.Skip || !strings.Contains(off.Explanation, "Disabled by /etc/hostdrift/policies/waivers.hcl:2") || !strings.Contains(off.Explanation, "OPS-7") {
		t.Errorf("disabled check's finding: %+v", off)
	}
	dns := findingOf(fs, "dns.fqdn-resolves-to-host")
	if dns == nil || dns.Status != finding.Waived || dns.Waiver == nil || !strings.Contains(dns.Explanation, "own status: error") {
		t.Errorf("a waiver must clear an error: %+v", dns)
	}
	acc := findingOf(fs, "accepting.tcp-listeners")
	if acc == nil || acc.Status != finding.Error || !strings.Contains(acc.Explanation, "expired on 2020-01-01") {
		t.Errorf("an expired waiver must leave the error and say so: %+v", acc)
	}
	if ws := plan.Waivers(); len(ws) != 2 || ws[0].Check != "accepting.tcp-listeners" {
		t.Errorf("waivers %+v", ws)
	}
}

// TestLayeringErrors: what stays an error, with both positions where there
// are two.
func TestLayeringErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		files []string
		want  []string
	}{
		"duplicate across the operator's files": {[]string{"a.hcl", "listener \"web\" { port = 80 }\n", "b.hcl", "\nlistener \"web\" { port = 81 }\n"},
			[]string{"Duplicate check", "listener.web is already declared at a.hcl:1", "b.hcl:2"}},
		"disable of an unknown check": {[]string{"a.hcl", `disable "cron.output-not-lots" { reason = "x" }`},
			[]string{"Disable for an unknown check", `Did you mean "cron.output-not-lost"?`}},
		"disable without a reason": {[]string{"a.hcl", `disable "cron.output-not-lost" { reason = " " }`},
			[]string{"Empty reason"}},
		"waiver for an unknown instance": {[]string{"a.hcl", "waiver \"listener.not-public[\\\"rdis\\\"]\" {\n reason = \"y\"\n expires = \"2030-01-01\"\n}\n"},
			[]string{"Waiver for an unknown check", `listener.not-public has no instance "rdis"`, `Did you mean listener.not-public["redis"]?`}},
		"instance of a check without for_each": {[]string{"a.hcl", "disable \"cron.output-not-lost[x]\" { reason = \"y\" }\n"},
			[]string{"cron.output-not-lost has no for_each"}},
		"replaced and disabled": {[]string{"a.hcl", "listener \"not-public\" { port = 6379 }\ndisable \"listener.not-public\" { reason = \"x\" }\n"},
			[]string{"Check both replaced and disabled"}},
		"replaced and one instance disabled": {[]string{"a.hcl", "listener \"not-public\" {\n for_each = toset([\"redis\"])\n port = 6379\n}\ndisable \"listener.not-public[redis]\" { reason = \"x\" }\n"},
			[]string{"Check both replaced and disabled"}},
		"waiver for a disabled check": {[]string{"a.hcl", "disable \"cron.output-not-lost\" { reason = \"x\" }\nwaiver \"cron.output-not-lost\" {\n reason = \"y\"\n expires = \"2030-01-01\"\n}\n"},
			[]string{"Waiver for a disabled check", "a.hcl:1"}},
		"two waivers for one check": {[]string{"a.hcl", "waiver \"cron.output-not-lost\" {\n reason = \"y\"\n expires = \"2030-01-01\"\n}\n", "b.hcl", "waiver \"cron.output-not-lost\" {\n reason = \"z\"\n expires = \"2030-01-01\"\n}\n"},
			[]string{"Duplicate waiver", "a.hcl:1"}},
		"builtin not a literal bool": {[]string{"a.hcl", `hostdrift { builtin = "no" }`},
			[]string{"Invalid value for builtin"}},
		"two hostdrift blocks": {[]string{"a.hcl", "hostdrift {}\nhostdrift {}\n"},
			[]string{"Duplicate hostdrift block"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, diags := compileLayered(t, tc.files...)
			for _, w := range tc.want {
				if !strings.Contains(diags.Error(), w) {
					t.Errorf("diagnostics lack %q:\n%s", w, diags.Error())
				}
			}
		})
	}
}

// TestWaiverForABuiltinCheckWithoutTheBuiltin: the error says why.
func TestWaiverForABuiltinCheckWithoutTheBuiltin(t *testing.T) {
	p, _ := rules.Load([]rules.Source{{Name: "w.hcl", Text: []byte("waiver \"cron.output-not-lost\" {\n reason = \"y\"\n expires = \"2030-01-01\"\n}\n")}})
	_, diags := p.Compile(nil, nil)
	if !strings.Contains(diags.Error(), "The built-in policy is not part of this run") {
		t.Errorf("diagnostics: %s", diags.Error())
	}
}

func TestBuiltinOff(t *testing.T) {
	for text, want := range map[string]bool{
		"hostdrift { builtin = false }": true,
		"hostdrift { builtin = true }":  false,
		"hostdrift {}":                  false,
		"listener \"x\" { port = 1 }":   false,
	} {
		p, diags := rules.Load([]rules.Source{{Name: "a.hcl", Text: []byte(text)}})
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if got, _ := p.BuiltinOff(); got != want {
			t.Errorf("%s: BuiltinOff %v, want %v", text, got, want)
		}
	}
}
