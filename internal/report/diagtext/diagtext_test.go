package diagtext

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func TestWriteShowsPositionLineAndCarets(t *testing.T) {
	src := map[string][]byte{"p.hcl": []byte("listener \"x\" {\n  prot = 443\n}\n")}
	rng := hcl.Range{Filename: "p.hcl", Start: hcl.Pos{Line: 2, Column: 3}, End: hcl.Pos{Line: 2, Column: 7}}
	var b bytes.Buffer
	Write(&b, src, hcl.Diagnostics{
		{Severity: hcl.DiagError, Summary: "Unsupported argument", Detail: `Did you mean "port"?`, Subject: &rng},
		{Severity: hcl.DiagError, Summary: "Undeclared variable", Detail: "drop the flag"},
	})
	want := "p.hcl:2:3: error: Unsupported argument\n  2 |   prot = 443\n    |   ^^^^\n  Did you mean \"port\"?\n\nerror: Undeclared variable\n  drop the flag\n\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	if strings.Count(b.String(), "^") != 4 {
		t.Error("carets should span the subject")
	}
}
