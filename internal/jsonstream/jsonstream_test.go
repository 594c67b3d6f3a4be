package jsonstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// reference is what Encode must write: encoding/json's indented encoder.
func reference(t *testing.T, v any, o Options) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", indent)
	enc.SetEscapeHTML(o.EscapeHTML)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("reference encoding: %v", err)
	}
	return b.Bytes()
}

func Same(t *testing.T, name string, v any) {
	t.Helper()
	for _, o := range []Options{{EscapeHTML: true}, {EscapeHTML: false}} {
		want := reference(t, v, o)
		var got bytes.Buffer
		if err := Encode(&got, v, o); err != nil {
			t.Fatalf("%s (%+v): %v", name, o, err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Errorf("%s (%+v): differs from encoding/json\n got: %s\nwant: %s", name, o, firstDiff(got.Bytes(), want), firstDiff(want, got.Bytes()))
		}
	}
}

// firstDiff shows a's text around where it first differs from b.
func firstDiff(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo, hi := max(0, i-60), min(len(a), i+60)
	return string(a[lo:hi])
}

type leaf struct {
	Name  string  `json:"name"`
	N     int     `json:"n,omitempty"`
	F     float64 `json:"f"`
	Maybe *string `json:"maybe,omitempty"`
}

type withMethods struct{ Items []int }

func (w withMethods) MarshalJSON() ([]byte, error) { return []byte(`{"custom": [1, 2]}`), nil }

type ptrMethods struct{ Items []int }

func (w *ptrMethods) MarshalJSON() ([]byte, error) { return []byte(`"pointer method"`), nil }

type embedded struct {
	leaf
	More []leaf `json:"more"`
}

type odd struct {
	Quoted  int64          `json:"quoted,string"`
	Zero    netip.Addr     `json:"zero,omitzero"`
	Weird   []int          `json:"a b!"`
	Bytes   []byte         `json:"bytes"`
	Any     any            `json:"any"`
	Map     map[string]int `json:"map"`
	unexp   []int
	Skipped []int `json:"-"`
	Dash    []int `json:"-,"`
}

type tree struct {
	Name     string  `json:"name"`
	Children []*tree `json:"children,omitempty"`
}

type doc struct {
	Schema   string        `json:"schema"`
	At       time.Time     `json:"at"`
	Leaves   []leaf        `json:"leaves"`
	NilList  []leaf        `json:"nil_list"`
	Empty    []leaf        `json:"empty"`
	Omitted  []leaf        `json:"omitted,omitempty"`
	Ptr      *doc          `json:"ptr,omitempty"`
	NilPtr   *doc          `json:"nil_ptr"`
	Nested   [][]string    `json:"nested"`
	Methods  []withMethods `json:"methods"`
	PMethods []ptrMethods  `json:"pmethods"`
	PMethod  ptrMethods    `json:"pmethod"`
	Embedded []embedded    `json:"embedded"`
	Odd      []odd         `json:"odd"`
	Tree     tree          `json:"tree"`
	Ifaces   []any         `json:"ifaces"`
	NoTag    []string
	Arr      [2][]int `json:"arr"`
	AllOmit  struct {
		A []int `json:"a,omitempty"`
	} `json:"all_omit"`
}

func TestSameAsEncodingJSON(t *testing.T) {
	s := "<&> \u2028 \"quoted\" é"
	d := doc{
		Schema:   "x/<v1>&",
		At:       time.Date(2026, 11, 30, 14, 0, 0, 5, time.UTC),
		Leaves:   []leaf{{Name: s, N: 3, F: 1e21, Maybe: &s}, {Name: "", F: -0.0000001}},
		Empty:    []leaf{},
		Ptr:      &doc{Schema: "inner", Leaves: []leaf{{Name: "a"}}},
		Nested:   [][]string{{"a", "b"}, {}, nil},
		Methods:  []withMethods{{Items: []int{1}}},
		PMethods: []ptrMethods{{}},
		Embedded: []embedded{{leaf: leaf{Name: "e"}, More: []leaf{{Name: "m"}}}},
		Odd: []odd{{Quoted: 7, Zero: netip.MustParseAddr("10.0.0.1"), Weird: []int{1}, Bytes: []byte("hi<"),
			Any: map[string]any{"k": []any{1, "<"}}, Map: map[string]int{"b": 1, "a": 2}, unexp: []int{1}, Skipped: []int{1}, Dash: []int{2}}, {}},
		Tree:   tree{Name: "r", Children: []*tree{{Name: "c", Children: []*tree{{Name: "g"}}}, nil}},
		Ifaces: []any{1, "two", []leaf{{Name: "three"}}, nil, &leaf{Name: "four"}},
		NoTag:  []string{"x"},
		Arr:    [2][]int{{1}, nil},
	}
	Same(t, "doc", d)
	Same(t, "pointer to doc", &d)
	Same(t, "zero doc", doc{})
	Same(t, "slice", []leaf{{Name: "a"}})
	Same(t, "empty slice", []int{})
	Same(t, "nil", nil)
	Same(t, "nil pointer", (*doc)(nil))
	Same(t, "scalar", 42)
	Same(t, "map", map[string][]int{"a": {1}})
	Same(t, "pointer method, not addressable", ptrMethods{})
	Same(t, "pointer method, addressable", &ptrMethods{})
}

// TestRandomDocuments compares random fillings of the test's types, and of
// any type a caller adds to the list, with encoding/json.
func TestRandomDocuments(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		v := reflect.New(reflect.TypeFor[doc]())
		Fill(r, v.Elem(), 4)
		Same(t, "random doc "+string(rune('a'+i%26)), v.Interface())
	}
}

// Fill sets v (exported fields, slices, pointers, maps) to random content,
// with nil, empty and zero values among it, to depth levels of nesting.
func Fill(r *rand.Rand, v reflect.Value, depth int) {
	if !v.CanSet() {
		return
	}
	switch v.Type() {
	case reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(time.Unix(r.Int64N(4e9), r.Int64N(1e9)).UTC()))
		return
	case reflect.TypeFor[netip.Addr]():
		if r.IntN(3) > 0 {
			v.Set(reflect.ValueOf(netip.AddrFrom4([4]byte{10, byte(r.IntN(256)), 0, 1})))
		}
		return
	}
	switch v.Kind() {
	case reflect.String:
		words := []string{"", "a", "<b>", "x&y", "é", "\u2028", "\"q\"", "tab\there", "\x01"}
		v.SetString(words[r.IntN(len(words))] + words[r.IntN(len(words))])
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(r.Int64N(200) - 100)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(r.Uint64N(200))
	case reflect.Float32, reflect.Float64:
		fs := []float64{0, 1.5, -2e-7, 1e21, 123456789.125, math.SmallestNonzeroFloat64}
		v.SetFloat(fs[r.IntN(len(fs))])
	case reflect.Pointer:
		if depth > 0 && r.IntN(3) > 0 {
			p := reflect.New(v.Type().Elem())
			Fill(r, p.Elem(), depth-1)
			v.Set(p)
		}
	case reflect.Slice:
		switch r.IntN(4) {
		case 0: // nil
		case 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		default:
			if depth > 0 {
				n := 1 + r.IntN(3)
				s := reflect.MakeSlice(v.Type(), n, n)
				for i := range n {
					Fill(r, s.Index(i), depth-1)
				}
				v.Set(s)
			}
		}
	case reflect.Array:
		for i := range v.Len() {
			Fill(r, v.Index(i), depth-1)
		}
	case reflect.Map:
		if depth > 0 && r.IntN(2) == 0 {
			m := reflect.MakeMap(v.Type())
			for range 1 + r.IntN(3) {
				k := reflect.New(v.Type().Key()).Elem()
				Fill(r, k, depth-1)
				e := reflect.New(v.Type().Elem()).Elem()
				Fill(r, e, depth-1)
				m.SetMapIndex(k, e)
			}
			v.Set(m)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				Fill(r, v.Field(i), depth)
			}
		}
	}
}

type failing struct{}

func (failing) MarshalJSON() ([]byte, error) { return nil, errors.New("cannot") }

type countWriter struct{ n int }

func (c *countWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }

// TestStreams shows that the document goes out before it is finished: an
// error in the last element comes after the elements before it were
// written, and memory does not hold them.
func TestStreams(t *testing.T) {
	type big struct {
		Items []any `json:"items"`
	}
	items := make([]any, 0, 20001)
	for range 20000 {
		items = append(items, leaf{Name: strings.Repeat("x", 20)})
	}
	items = append(items, failing{})
	var w countWriter
	err := Encode(&w, big{Items: items}, Options{})
	if err == nil || !strings.Contains(err.Error(), "cannot") {
		t.Fatalf("error = %v, want the last element's", err)
	}
	if w.n < 20000*20 {
		t.Errorf("%d bytes written before the failing element, want the 20,000 before it (over 400,000)", w.n)
	}
}

type errWriter struct{ after int }

func (e *errWriter) Write(p []byte) (int, error) {
	if e.after -= len(p); e.after < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestWriterError(t *testing.T) {
	items := make([]leaf, 50000)
	err := Encode(&errWriter{after: 100000}, items, Options{})
	if err == nil || err.Error() != "disk full" {
		t.Fatalf("error = %v, want the writer's", err)
	}
}
