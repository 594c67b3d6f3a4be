package kinddoc

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/rules"
)

var update = flag.Bool("update", false, "rewrite the kinds reference in the README and the man page")

// TestEveryAttributeIsDocumented: the reference is only as good as the
// kinds' AttributeDocs; a new attribute without one fails here.
func TestEveryAttributeIsDocumented(t *testing.T) {
	for _, k := range rules.Kinds() {
		if strings.TrimSpace(k.Summary) == "" {
			t.Errorf("%s has no summary", k.Name)
		}
		for _, a := range k.Attributes {
			if strings.TrimSpace(k.AttributeDocs[a.Name]) == "" {
				t.Errorf("%s.%s has no entry in AttributeDocs", k.Name, a.Name)
			}
		}
		for name := range k.AttributeDocs {
			found := false
			for _, a := range k.Attributes {
				found = found || a.Name == name
			}
			if !found {
				t.Errorf("%s: AttributeDocs documents %q, which is not an attribute", k.Name, name)
			}
		}
	}
}

// TestReferenceIsCurrent: the README and the man page hold the reference
// the registry generates now. After a change to a kind, run
// go test ./rules/kinddoc -update and review the diff.
func TestReferenceIsCurrent(t *testing.T) {
	kinds := rules.Kinds()
	for _, f := range []struct {
		path string
		m    Markers
		text string
	}{
		{"../../README.md", README, Markdown(kinds)},
		{"../../packaging/man/hostdrift.1", ManPage, Roff(kinds)},
	} {
		b, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		want, err := Replace(string(b), f.m, f.text)
		if err != nil {
			t.Fatalf("%s: %v", f.path, err)
		}
		if want == string(b) {
			continue
		}
		if *update {
			if err := os.WriteFile(f.path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Errorf("%s: the kinds reference is not current: run go test ./rules/kinddoc -update and review the diff", f.path)
	}
	for _, k := range kinds {
		for _, doc := range []string{Markdown(kinds), Roff(kinds)} {
			if !strings.Contains(doc, k.Name) {
				t.Errorf("the reference lacks %s", k.Name)
			}
		}
	}
}

func TestReplaceNeedsBothMarkers(t *testing.T) {
	m := Markers{Begin: "<!-- b -->", End: "<!-- e -->"}
	if got, err := Replace("a\n<!-- b -->\nold\n<!-- e -->\nz\n", m, "new\n"); err != nil || got != "a\n<!-- b -->\nnew\n<!-- e -->\nz\n" {
		t.Errorf("Replace: %q %v", got, err)
	}
	if _, err := Replace("a\n<!-- e -->\n<!-- b -->\n", m, "x\n"); err == nil {
		t.Error("markers out of order must be an error")
	}
}
