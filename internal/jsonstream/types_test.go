package jsonstream_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/hostdrift/hostdrift/internal/diff"
	"github.com/hostdrift/hostdrift/internal/jsonstream"
	"github.com/hostdrift/hostdrift/internal/report"
	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// TestHostdriftDocuments fills hostdrift's own documents at random and
// compares Encode with encoding/json on each: every section type of the
// snapshot, the report and the diff.
func TestHostdriftDocuments(t *testing.T) {
	types := []reflect.Type{
		reflect.TypeFor[snapshot.Snapshot](),
		reflect.TypeFor[report.Report](),
		reflect.TypeFor[diff.Diff](),
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, typ := range types {
		for i := range 60 {
			v := reflect.New(typ)
			jsonstream.Fill(r, v.Elem(), 8)
			jsonstream.Same(t, fmt.Sprintf("%s #%d", typ, i), v.Interface())
		}
	}
}
