package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReport decodes report JSON and renders it in every format with
// options taken from the input. Rendering must not panic; a failure must
// say why; and the JSON rendering is a fixed point: decoded and rendered
// again, it gives the same bytes.
func FuzzReport(f *testing.F) {
	var b bytes.Buffer
	if err := Render(&b, "json", sample(), Options{}); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes(), uint8(0))
	f.Add(b.Bytes(), uint8(0xff))
	// The CLI's golden reports: real findings from the built-in policy.
	golden, _ := filepath.Glob(filepath.Join("..", "..", "cmd", "hostdrift", "testdata", "golden", "*.json"))
	for _, g := range golden {
		doc, err := os.ReadFile(g)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(doc, uint8(0x0e))
	}
	f.Add([]byte(`{"findings":[{"check":"`+string(bytes.Repeat([]byte("x"), 200))+`","status":"fail","explanation":"a\n\n|b\u001b[31m"}],"summary":{"total":-1}}`), uint8(3))
	f.Fuzz(func(t *testing.T, doc []byte, opts uint8) {
		var r Report
		if err := json.Unmarshal(doc, &r); err != nil {
			return
		}
		o := Options{Color: opts&1 != 0, Verbose: opts&2 != 0, Width: int(opts>>2) * 4}
		var first []byte
		for _, format := range Formats() {
			var out bytes.Buffer
			err := Render(&out, format, &r, o)
			if err != nil && err.Error() == "" {
				t.Fatalf("%s: error without a message", format)
			}
			if format == "json" && err == nil {
				first = out.Bytes()
			}
		}
		if first == nil {
			return
		}
		var back Report
		if err := json.Unmarshal(first, &back); err != nil {
			t.Fatalf("own JSON does not decode: %v\n%s", err, first)
		}
		var again bytes.Buffer
		if err := Render(&again, "json", &back, o); err != nil || !bytes.Equal(again.Bytes(), first) {
			t.Fatalf("JSON round trip differs (%v):\n%s\n%s", err, first, again.Bytes())
		}
	})
}
