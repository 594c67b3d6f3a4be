package schema_test

import (
	"bytes"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/diff"
	"github.com/hostdrift/hostdrift/internal/finding"
	"github.com/hostdrift/hostdrift/internal/remote"
	"github.com/hostdrift/hostdrift/internal/report"
	"github.com/hostdrift/hostdrift/internal/schema"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

var update = flag.Bool("update", false, "rewrite the committed schemas from the Go types")

// Enums are the closed sets of values the documents use.
var Enums = schema.Enums{
	reflect.TypeOf(finding.Status("")):   {"pass", "fail", "error", "waived", "skip"},
	reflect.TypeOf(finding.Severity("")): {"info", "warning", "critical"},
	reflect.TypeOf(snapshot.Status("")):  {"ok", "partial", "error", "skipped"},
	reflect.TypeOf(snapshot.Family("")):  {"ipv4", "ipv6"},
}

// TestSchemasMatchTypes fails when a document type changed and its committed
// schema was not regenerated: run go test ./internal/schema -update.
func TestSchemasMatchTypes(t *testing.T) {
	for _, c := range []struct {
		file, id, title string
		typ             reflect.Type
	}{
		{"snapshot.schema.json", "https://hostdrift.dev/schema/snapshot/v1", "hostdrift snapshot (hostdrift/snapshot/v1)", reflect.TypeOf(snapshot.Snapshot{})},
		{"report.schema.json", "https://hostdrift.dev/schema/report/v1", "hostdrift report (hostdrift/report/v1)", reflect.TypeOf(report.Report{})},
		{"diff.schema.json", "https://hostdrift.dev/schema/diff/v1", "hostdrift diff (hostdrift/diff/v1)", reflect.TypeOf(diff.Diff{})},
		{"remote.schema.json", "https://hostdrift.dev/schema/remote/v1", "hostdrift check --ssh --format json: one line per host", reflect.TypeOf(remote.Record{})},
	} {
		got, err := schema.Generate(c.typ, c.id, c.title, Enums)
		if err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := os.WriteFile(c.file, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatalf("%s: %v (run go test ./internal/schema -update)", c.file, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: the Go types changed; run go test ./internal/schema -update and review the diff", c.file)
		}
	}
}

func TestEmbeddedStructsAreFlattened(t *testing.T) {
	type Inner struct {
		Name string `json:"name"`
	}
	type Outer struct {
		Inner
		Extra int `json:"extra,omitempty"`
	}
	b, err := schema.Generate(reflect.TypeOf(Outer{}), "x", "x", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	if !strings.Contains(got, `"name": {`) || strings.Contains(got, `"Inner"`) {
		t.Errorf("embedded fields must appear at the parent's level:\n%s", got)
	}
}
