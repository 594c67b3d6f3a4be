package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// pagePayloads are markup a host string can carry: here, in a cron line.
const pagePayloads = `<script>document.title='pwned'</script><img src=x onerror=document.title='pwned'>`

// pageScreenshot is where TestPageInChromium keeps its screenshot.
func pageScreenshot() string { return filepath.Join(os.TempDir(), "hostdrift-page-screenshot.png") }

// TestPageInChromium: hostdrift serve over a fixture root that gets a cron
// line carrying a <script> and an <img onerror> payload; headless Chromium,
// in the same namespace, loads / and its DOM shows the failing check, its
// explanation and the transition, payloads included, as text, with no
// element made of them. The screenshot is kept as an artifact.
func TestPageInChromium(t *testing.T) {
	nstest.RequireRoot(t)
	nstest.RequireCommand(t, "chromium")
	ns := nstest.New(t)
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc/cron.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	pol := policyFile(t, "cron \"programs-exist\" {\n  require = [\"program\"]\n}\n")
	s := startServe(t, ns, nil, "--no-builtin", "--policy", pol, "--root", root)
	s.waitMetric(t, "cron without jobs", checkStatusRE("cron.programs-exist", "pass"), time.Now(), 10*time.Second)
	// The hostile job arrives while serve runs: a transition, with its event.
	line := "0 1 * * * root /usr/local/bin/backup" + pagePayloads + "\n"
	start := time.Now()
	if err := os.WriteFile(filepath.Join(root, "etc/cron.d/backup"), []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	s.waitMetric(t, "cron with the hostile job", checkStatusRE("cron.programs-exist", "fail"), start, eventDeadline)

	resp, err := s.client.Get("http://" + s.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") ||
		resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("/: %d, CSP %q, nosniff %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"), resp.Header.Get("X-Content-Type-Options"))
	}

	url := "http://" + s.addr + "/"
	dom := chromium(t, ns, "--dump-dom", url)
	doc, err := html.Parse(strings.NewReader(dom))
	if err != nil {
		t.Fatalf("the dumped DOM does not parse: %v", err)
	}
	var failing, explanation, title string
	var rows [][]string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script", "img", "iframe", "svg", "object", "embed":
				t.Errorf("a <%s> element in the DOM: a payload became markup", n.Data)
			case "title":
				title = textOf(n)
			case "article":
				if htmlAttr(n, "class") == "fail" {
					failing += textOf(n)
				}
			case "tr":
				var cells []string
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					if c.Type == html.ElementNode && c.Data == "td" {
						cells = append(cells, textOf(c))
					}
				}
				if len(cells) > 0 {
					rows = append(rows, cells)
				}
			case "dd":
				if htmlAttr(n, "class") == "explanation" && strings.Contains(textOf(n), "/etc/cron.d/backup") {
					explanation = textOf(n)
				}
			}
			for _, a := range n.Attr {
				if strings.HasPrefix(a.Key, "on") {
					t.Errorf("<%s %s=%q> in the DOM: a payload became an attribute", n.Data, a.Key, a.Val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if !strings.Contains(failing, "cron.programs-exist") {
		t.Errorf("no failing cron.programs-exist on the page:\n%.3000s", dom)
	}
	if !strings.Contains(explanation, pagePayloads) {
		t.Errorf("the explanation does not show the cron line's payloads as text: %q", explanation)
	}
	// The transitions: time, check, from, to, cause, explanation.
	var seen bool
	for _, r := range rows {
		if len(r) == 6 && r[1] == "cron.programs-exist" && r[2] == "pass" && r[3] == "fail" &&
			strings.HasPrefix(r[4], "inotify") && strings.Contains(r[4], "cron.d") && strings.Contains(r[5], pagePayloads) {
			seen = true
		}
	}
	if !seen {
		t.Errorf("no transition pass -> fail of cron.programs-exist naming the inotify event: %q", rows)
	}
	if strings.Contains(title, "pwned") {
		t.Errorf("a payload ran: the title is %q", title)
	}

	shot := pageScreenshot()
	_ = os.Remove(shot)
	chromium(t, ns, "--screenshot="+shot, "--window-size=1280,1000", url)
	if st, err := os.Stat(shot); err != nil || st.Size() == 0 {
		t.Fatalf("no screenshot at %s: %v", shot, err)
	}
	t.Logf("screenshot of the page: %s", shot)
}

// chromium runs headless Chromium inside ns with a profile of its own and
// returns its standard output. It reaches only the namespace's loopback,
// where the test's serve listens.
func chromium(t *testing.T, ns *nstest.NS, args ...string) string {
	t.Helper()
	profile := t.TempDir()
	cmd := ns.Command("chromium", append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + profile,
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--hide-scrollbars"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "HOME="+profile)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A safety net against a hung browser, not an assertion on time.
	kill := time.AfterFunc(2*time.Minute, func() { _ = cmd.Process.Kill() })
	defer kill.Stop()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// textOf is the text of n and its descendants.
func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

func htmlAttr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}
