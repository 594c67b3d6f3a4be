package probe_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hostdrift/hostdrift/agent/probe"
	"github.com/hostdrift/hostdrift/internal/finding"
)

// TestProbeRequest: a server of the test's own that answers by method and
// Host, and the probe's method, headers and response patterns against it.
// The Host override is the failure of a public name the local server does
// not serve.
func TestProbeRequest(t *testing.T) {
	addr := serveHTTP(t, "127.0.0.31", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Served-By", "app-"+r.Method)
		switch {
		case r.Host != "www.example.test":
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintln(w, "no site for", r.Host)
		case r.Method == http.MethodPost && r.Header.Get("X-Token") != "t1":
			w.WriteHeader(http.StatusForbidden)
		default:
			fmt.Fprint(w, "<html>\n<title>Example</title>\nstatus: ok\n</html>\n")
		}
	}, nil)
	src := fmt.Sprintf(`
probe "public-name" {
  url     = "http://%[1]s/"
  headers = "Host: www.example.test"
  body    = "^status: ok$"
  header  = "^X-Served-By: app-GET$"
}
probe "default-site" {
  url = "http://%[1]s/"
}
probe "post" {
  url     = "http://%[1]s/"
  method  = "POST"
  headers = ["Host: www.example.test", "X-Token: t1"]
  header  = "app-POST"
}
probe "body-missing" {
  url     = "http://%[1]s/"
  headers = "host: www.example.test"
  body    = "status: degraded"
}
`, addr)
	plan := compile(t, src)
	s := collect(t, plan, &probe.Collector{}, "")
	byID := map[string]finding.Finding{}
	for _, f := range plan.Evaluate(s, time.Now()) {
		byID[f.Check] = f
	}
	for _, c := range []struct {
		id     string
		status finding.Status
		want   string
	}{
		{"probe.public-name", finding.Pass, `header X-Served-By matches "^X-Served-By: app-GET$"; body line 3 matches "^status: ok$"`},
		{"probe.default-site", finding.Fail, "answered HTTP 404, not 2xx"},
		{"probe.post", finding.Pass, `header X-Served-By matches "app-POST"`},
		{"probe.body-missing", finding.Fail, `no body line matches "status: degraded"`},
	} {
		f := byID[c.id]
		if f.Status != c.status || !strings.Contains(f.Explanation, c.want) {
			t.Errorf("%s: %s, want %s with %q:\n%s", c.id, f.Status, c.status, c.want, f.Explanation)
		}
	}
	// The token header is named, its value (a credential) is not.
	if e := byID["probe.post"].Expected; !strings.Contains(e, "POST http://"+addr+"/ (Host: www.example.test, X-Token: [redacted])") || strings.Contains(e, "t1") {
		t.Errorf("expected names the request, without the token: %s", e)
	}
}
