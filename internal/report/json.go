package report

import (
	"io"

	"github.com/hostdrift/hostdrift/internal/jsonstream"
)

// renderJSON writes the report as it goes: a report of 10,000 findings is
// never held as one document.
func renderJSON(w io.Writer, r *Report, _ Options) error {
	return jsonstream.Encode(w, r, jsonstream.Options{EscapeHTML: false})
}
