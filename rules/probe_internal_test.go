package rules

import (
	"strings"
	"testing"
)

// TestProbeHeaderRedacted: a credential in a probe's request header never
// reaches a report; the Host header, which says what was asked, does.
func TestProbeHeaderRedacted(t *testing.T) {
	c := &probeCheck{}
	c.target.URL = "http://127.0.0.1/"
	c.target.Headers = "Host: www.example.com\nAuthorization: Bearer s3cret\nX-Api-Key: k3y"
	got := c.requestText()
	if strings.Contains(got, "s3cret") || strings.Contains(got, "k3y") || !strings.Contains(got, "Host: www.example.com") || !strings.Contains(got, "Authorization: [redacted]") {
		t.Errorf("requestText = %q", got)
	}
}
