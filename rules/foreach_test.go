package rules_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/rules"
)

// compileText loads one policy file and compiles it for host (nil: as
// policy validate does).
func compileText(t *testing.T, text string, host *snapshot.Host, vars *rules.Variables) (*rules.Plan, error) {
	t.Helper()
	p, diags := rules.Load([]rules.Source{{Name: "p.hcl", Text: []byte(text)}})
	if diags.HasErrors() {
		return nil, diags
	}
	plan, diags := p.Compile(host, vars)
	if diags.HasErrors() {
		return nil, diags
	}
	return plan, nil
}

// checksOf lists the plan's checks as "ID: description @line", sorted.
func checksOf(plan *rules.Plan) []string {
	var out []string
	for _, c := range plan.Checks {
		out = append(out, fmt.Sprintf("%s: %s @%d", c.ID(), c.Description, c.Source.Line))
	}
	sort.Strings(out)
	return out
}

// TestForEach: a check block with for_each is one check per element, named
// kind.name["key"], with each.key and each.value.
func TestForEach(t *testing.T) {
	for name, tc := range map[string]struct {
		policy string
		want   []string
	}{
		"set of strings": {`
listener "up" {
  for_each    = toset(["ssh", "web"])
  description = "${each.key}=${each.value}"
  port        = 22
}`, []string{`listener.up["ssh"]: ssh=ssh @2`, `listener.up["web"]: web=web @2`}},
		"map": {`
listener "port" {
  for_each    = { ssh = 22, web = 443 }
  description = format("%s on %d", each.key, each.value)
  port        = each.value
}`, []string{`listener.port["ssh"]: ssh on 22 @3`, `listener.port["web"]: web on 443 @3`}},
		"object values, keys on their own lines": {`
listener "svc" {
  for_each = {
    redis = { port = 6379, what = "Redis" }
    "my sql" = { port = 3306, what = "MySQL", protocol = "tcp" }
  }
  description = "${each.value.what} on ${each.value.port}/${lookup(each.value, "protocol", "any")}"
  port        = each.value.port
}`, []string{`listener.svc["my sql"]: MySQL on 3306/tcp @5`, `listener.svc["redis"]: Redis on 6379/any @4`}},
		"from a variable and a local": {`
variable "extra" { default = ["b"] }
locals { names = setunion(["a"], var.extra) }
listener "x" {
  for_each    = local.names
  description = upper(each.key)
  port        = 1
}`, []string{`listener.x["a"]: A @4`, `listener.x["b"]: B @4`}},
		"empty": {`
listener "none" {
  for_each = {}
  port     = 1
}
listener "one" { port = 1 }`, []string{`listener.one:  @6`}},
		"key with a quote": {`
listener "q" {
  for_each = toset(["a\"b"])
  port     = 1
}`, []string{`listener.q["a\"b"]:  @2`}},
	} {
		t.Run(name, func(t *testing.T) {
			plan, err := compileText(t, tc.policy, hostWith(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := checksOf(plan); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("checks\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestForEachErrors: what for_each refuses, saying what it got.
func TestForEachErrors(t *testing.T) {
	for policy, want := range map[string]string{
		`listener "x" {
  for_each = ["a", "b"]
  port = 1
}`: `you have provided a value of type tuple. Convert a list of strings with toset(...)`,
		`variable "l" { default = ["a"] }
listener "x" {
  for_each = tolist(var.l)
  port = 1
}`: `you have provided a value of type list of string`,
		`listener "x" {
  for_each = "a"
  port = 1
}`: `you have provided a value of type string`,
		`listener "x" {
  for_each = toset([1, 2])
  port = 1
}`: `you have provided a value of type set of number`,
		`listener "x" { port = each.value }`: `each.key and each.value exist only in a check block that sets for_each`,
		`listener "x" {
  for_each = toset(["a"])
  port = each.value.port
}`: `Unsupported attribute`,
	} {
		_, err := compileText(t, policy, hostWith(), nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s\nwant an error containing %q, got %v", policy, want, err)
		}
	}
}

// TestForEachErrorOnce: a mistake every instance makes is reported once,
// naming the keys; one only some make names those.
func TestForEachErrorOnce(t *testing.T) {
	p, _ := rules.Load([]rules.Source{{Name: "p.hcl", Text: []byte(`
listener "x" {
  for_each = { a = 1, b = 2, c = "http" }
  port     = each.value
  protocol = "tcpp"
}`)}})
	_, diags := p.Compile(nil, nil)
	if len(diags) != 2 {
		t.Fatalf("want 2 diagnostics, got %v", diags)
	}
	all := diags[0].Detail + "\n" + diags[1].Detail
	if !strings.Contains(all, `(for_each keys "a", "b", "c")`) || !strings.Contains(all, `(for_each key "c")`) {
		t.Errorf("diagnostics must name the keys: %v", diags)
	}
}

// TestForEachOverHostFacts: under policy validate the host is not known,
// so a for_each over its facts stands as one check, and waivers may name
// any of its instances; against a host it expands.
func TestForEachOverHostFacts(t *testing.T) {
	const policy = `
listener "ssh" {
  for_each = toset(host.ipv4)
  port     = 22
  address  = each.key
}
waiver "listener.ssh[\"198.51.100.7\"]" {
  reason  = "bastion only, OPS-3"
  expires = "2030-01-01"
}
`
	plan, err := compileText(t, policy, nil, nil)
	if err != nil {
		t.Fatalf("validate: %v", err)
	}
	if len(plan.Checks) != 1 || !plan.Checks[0].Keyed {
		t.Errorf("validate: %v, want one check standing for the instances", checksOf(plan))
	}
	plan, err = compileText(t, policy, hostWith(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := checksOf(plan); len(got) != 1 || !strings.HasPrefix(got[0], `listener.ssh["198.51.100.7"]`) {
		t.Errorf("against the host: %v", got)
	}
}

// TestLocals: locals refer to variables, host facts, functions and each
// other in any order; a cycle is named.
func TestLocals(t *testing.T) {
	for name, tc := range map[string]struct {
		policy string
		want   string // the description of listener.x, or an error
	}{
		"order does not matter": {`
locals { b = "${local.a}-b" }
locals { a = lower(host.hostname) }
listener "x" {
  description = local.b
  port        = 1
}`, "web1-b"},
		"variables and functions": {`
variable "net" { default = "10.0.0.0/16" }
locals {
  subnet  = cidrsubnet(var.net, 8, 3)
  gateway = cidrhost(local.subnet, 1)
}
listener "x" {
  description = local.gateway
  port        = 1
}`, "10.0.3.1"},
		"object local with for_each": {`
locals {
  services = { ssh = { port = 22 } }
}
listener "x" {
  description = jsonencode(local.services)
  port        = 1
}`, `{"ssh":{"port":22}}`},
		"cycle": {`
locals {
  a = local.b
  b = local.a
}
listener "x" { port = 1 }`, "error: local.a -> local.b -> local.a"},
		"self": {`
locals { a = "${local.a}x" }
listener "x" { port = 1 }`, "error: local.a -> local.a"},
		"typo": {`
locals { port = 22 }
listener "x" { port = local.prot }`, `error: Did you mean "port"?`},
	} {
		t.Run(name, func(t *testing.T) {
			plan, err := compileText(t, tc.policy, hostWith(), nil)
			if want, ok := strings.CutPrefix(tc.want, "error: "); ok {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("want an error containing %q, got %v", want, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := plan.Checks[0].Description; got != tc.want {
				t.Errorf("description %q, want %q", got, tc.want)
			}
		})
	}
}

// TestLocalsLayered: an operator's local replaces a built-in one of the
// same name, wherever the built-in policy uses it; two in one layer clash.
func TestLocalsLayered(t *testing.T) {
	builtin := rules.Source{Name: "builtin:default/l.hcl", Builtin: true, Text: []byte(`
locals { ssh_port = 22 }
listener "ssh" {
  description = "ssh on ${local.ssh_port}"
  port        = local.ssh_port
}`)}
	p, diags := rules.Load([]rules.Source{builtin, {Name: "local.hcl", Text: []byte(`locals { ssh_port = 2222 }`)}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	plan, diags := p.Compile(hostWith(), nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if got := plan.Checks[0].Description; got != "ssh on 2222" {
		t.Errorf("description %q: the operator's local must win", got)
	}
	p, _ = rules.Load([]rules.Source{builtin, {Name: "a.hcl", Text: []byte("locals { x = 1 }\n")}, {Name: "b.hcl", Text: []byte("locals { x = 2 }\n")}})
	if _, diags := p.Compile(hostWith(), nil); !diags.HasErrors() || !strings.Contains(diags.Error(), "local.x is already defined at a.hcl:1") {
		t.Errorf("two locals of one name in the operator's files: %v", diags)
	}
}
