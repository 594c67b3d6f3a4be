package report

import (
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/internal/diff"
)

func TestRenderDiffTable(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	d := &diff.Diff{
		Old: diff.Side{Source: "base.json", Host: "web1", TakenAt: t0},
		New: diff.Side{Host: "web1", TakenAt: t0.Add(time.Hour)},
		Changes: []diff.Change{
			{Op: diff.Added, Area: "firewall", Kind: "rule", ID: "iptables-nft ip filter INPUT: -A INPUT -p tcp -m tcp --dport 8080 -j ACCEPT",
				Fields: []diff.FieldChange{{Name: "follows", New: "-A INPUT -i lo -j ACCEPT"}}},
			{Op: diff.Changed, Area: "firewall", Kind: "chain", ID: "iptables-nft ip filter INPUT",
				Fields: []diff.FieldChange{{Name: "policy", Old: "ACCEPT", New: "DROP"}, {Name: "hook", Old: "", New: "input"}}},
		},
	}
	var b strings.Builder
	if err := RenderDiff(&b, "table", d); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"base.json", "added", "--dport 8080", "follows: -A INPUT -i lo -j ACCEPT", "policy: ACCEPT -> DROP", `hook: "" -> input`, "1 added, 0 removed, 1 changed"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	if err := RenderDiff(&b, "yaml", &diff.Diff{}); err == nil || !strings.Contains(err.Error(), "table, json") {
		t.Errorf("unknown format: err = %v, want one naming the formats", err)
	}
}
