package rules_test

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/hostdrift/hostdrift/rules"
)

// evalExpr evaluates one expression with the policy functions.
func evalExpr(t *testing.T, src string) (cty.Value, hcl.Diagnostics) {
	t.Helper()
	expr, diags := hclsyntax.ParseExpression([]byte(src), "expr.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("%s: %s", src, diags)
	}
	return expr.Value(&hcl.EvalContext{Functions: rules.Functions()})
}

// TestFunctions: Terraform's functions, under Terraform's names, give
// Terraform's results.
func TestFunctions(t *testing.T) {
	for src, want := range map[string]string{
		`cidrhost("10.0.0.0/24", 5)`:                          `"10.0.0.5"`,
		`cidrhost("2001:db8::/64", 10)`:                       `"2001:db8::a"`,
		`cidrnetmask("10.0.0.0/16")`:                          `"255.255.0.0"`,
		`cidrsubnet("10.0.0.0/16", 8, 2)`:                     `"10.0.2.0/24"`,
		`cidrsubnets("10.0.0.0/16", 8, 8)`:                    `["10.0.0.0/24","10.0.1.0/24"]`,
		`concat(["a"], ["b", "c"])`:                           `["a","b","c"]`,
		`contains(["a", "b"], "b")`:                           `true`,
		`distinct(["a", "b", "a"])`:                           `["a","b"]`,
		`flatten([["a"], [["b"]], []])`:                       `["a","b"]`,
		`format("%s:%d", "web", 443)`:                         `"web:443"`,
		`formatlist("tcp/%d", [22, 80])`:                      `["tcp/22","tcp/80"]`,
		`join(",", ["a", "b"])`:                               `"a,b"`,
		`split(",", "a,b")`:                                   `["a","b"]`,
		`lower("WEB")`:                                        `"web"`,
		`upper("web")`:                                        `"WEB"`,
		`length([1, 2, 3])`:                                   `3`,
		`lookup({ a = 1 }, "b", 7)`:                           `7`,
		`merge({ a = 1 }, { b = 2 })`:                         `{"a":1,"b":2}`,
		`range(3)`:                                            `[0,1,2]`,
		`regex("^web([0-9]+)", "web12.example")`:              `["12"]`,
		`replace("a-b-c", "-", ".")`:                          `"a.b.c"`,
		`setunion(["a"], ["b", "a"])`:                         `["a","b"]`,
		`toset(["b", "a", "b"])`:                              `["a","b"]`,
		`keys({ b = 1, a = 2 })`:                              `["a","b"]`,
		`values({ b = 1, a = 2 })`:                            `[2,1]`,
		`coalesce("", "x")`:                                   `"x"`,
		`max(1, 5, 3)`:                                        `5`,
		`min(1, 5, 3)`:                                        `1`,
		`abs(-4)`:                                             `4`,
		`trimspace("  a ")`:                                   `"a"`,
		`trimprefix("www.example.com", "www.")`:               `"example.com"`,
		`trimsuffix("web1.example.com", ".example.com")`:      `"web1"`,
		`trim("--a--", "-")`:                                  `"a"`,
		`try(tonumber("x"), 80)`:                              `80`,
		`can(cidrhost("10.0.0.0/33", 1))`:                     `false`,
		`tostring(22)`:                                        `"22"`,
		`jsonencode({ port = 22 })`:                           `"{\"port\":22}"`,
		`zipmap(["ssh", "web"], [22, 443])`:                   `{"ssh":22,"web":443}`,
		`element(["a", "b"], 3)`:                              `"b"`,
		`sort(["b", "a"])`:                                    `["a","b"]`,
		`substr("hostdrift", 0, 4)`:                           `"host"`,
		`compact(["a", "", "b"])`:                             `["a","b"]`,
		`reverse([1, 2])`:                                     `[2,1]`,
		`setproduct(["a"], ["x", "y"])`:                       `[["a","x"],["a","y"]]`,
		`regexall("[0-9]+", "a1b22")`:                         `["1","22"]`,
		`parseint("ff", 16)`:                                  `255`,
		`title("web server")`:                                 `"Web Server"`,
		`chomp("a\n")`:                                        `"a"`,
		`indent(2, "a\nb")`:                                   `"a\n  b"`,
		`formatdate("YYYY-MM-DD", "2026-11-30T12:00:00Z")`:    `"2026-11-30"`,
		`timeadd("2026-11-30T00:00:00Z", "24h")`:              `"2026-12-01T00:00:00Z"`,
		`setsubtract(["a", "b"], ["a"])`:                      `["b"]`,
		`setintersection(["a", "b"], ["b"])`:                  `["b"]`,
		`slice(["a", "b", "c"], 1, 2)`:                        `["b"]`,
		`chunklist(["a", "b", "c"], 2)`:                       `[["a","b"],["c"]]`,
		`coalescelist([], ["a"])`:                             `["a"]`,
		`jsondecode("[1]")`:                                   `[1]`,
		`csvdecode("a,b\n1,2\n")`:                             `[{"a":"1","b":"2"}]`,
		`ceil(1.2) + floor(1.8) + signum(-3) + pow(2, 3)`:     `10`,
		`log(8, 2)`:                                           `3`,
		`strrev("abc")`:                                       `"cba"`,
		`tobool("true") && tonumber("1") == 1`:                `true`,
		`length(tolist(toset(["a"]))) + length(tomap({a=1}))`: `2`,
	} {
		v, diags := evalExpr(t, src)
		if diags.HasErrors() {
			t.Errorf("%s: %s", src, diags)
			continue
		}
		if got := jsonOf(t, v); got != want {
			t.Errorf("%s = %s, want %s", src, got, want)
		}
	}
}

// TestFunctionErrors: an unknown function suggests the nearest one, and a
// function's own error says what was wrong.
func TestFunctionErrors(t *testing.T) {
	for src, want := range map[string]string{
		`cidrhots("10.0.0.0/24", 1)`:   `There is no function named "cidrhots". Did you mean "cidrhost"?`,
		`concatt(["a"])`:               `Did you mean "concat"?`,
		`cidrhost("10.0.0.0/24", 300)`: "prefix of 24 does not accommodate a host numbered 300",
		`regex("(", "x")`:              "invalid regexp pattern",
		`file("/etc/passwd")`:          `There is no function named "file"`,
	} {
		_, diags := evalExpr(t, src)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), want) {
			t.Errorf("%s: want an error containing %q, got %v", src, want, diags)
		}
	}
}

// TestFunctionDocs: policy functions lists every function with one line.
func TestFunctionDocs(t *testing.T) {
	docs := rules.FunctionDocs()
	if len(docs) != len(rules.Functions()) {
		t.Fatalf("%d docs for %d functions", len(docs), len(rules.Functions()))
	}
	for _, d := range docs {
		if d.Description == "" || strings.Contains(d.Description, "\n") || !strings.HasPrefix(d.Signature, d.Name+"(") {
			t.Errorf("%s: signature %q, description %q", d.Name, d.Signature, d.Description)
		}
	}
}

func jsonOf(t *testing.T, v cty.Value) string {
	t.Helper()
	b, err := ctyjson.SimpleJSONValue{Value: v}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
