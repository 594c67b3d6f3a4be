package firewall

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/netfilter"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/debroot"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// TestIptablesSuite loads the rules of iptables' own test suite
// (extensions/*.t of the installed version's Debian source package) that
// this kernel accepts, each into every chain its file names, as the
// suite's runner does, through both backends; reads them back; and fails
// on a rule lost, or one the simulator cannot decide whatever the packet
// while its Unsupported is empty (unless the reason is one of
// snapshot.MayFamilies). It logs, per backend and family, how many rules are decoded,
// honestly undecidable and unsupported, with the reasons. It sends no
// packets: TestIptablesSuiteDifferential does.
func TestIptablesSuite(t *testing.T) {
	nstest.RequireRoot(t)
	for _, c := range []string{"apt-get", "dpkg-query", "tar", "iptables-nft", "ip6tables-nft", "iptables-legacy", "ip6tables-legacy"} {
		nstest.RequireCommand(t, c)
	}
	dir := iptablesSuite(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.t"))
	if len(files) < 100 {
		t.Fatalf("%d test files in %s, expected over 100", len(files), dir)
	}
	for _, backend := range []string{"nft", "legacy"} {
		t.Run(backend, func(t *testing.T) {
			ns := nstest.New(t)
			loaded := map[string]int{}
			for _, f := range files {
				for _, c := range suiteCases(t, f, backend) {
					tool := map[string]string{"ip": "iptables-", "ip6": "ip6tables-"}[c.family] + backend
					args, err := splitArgs(c.rule)
					if err != nil {
						continue // the suite's own malformed cases
					}
					cmd := append([]string{"-t", c.table, "-A", c.chain}, args...)
					if err := ns.Command(tool, cmd...).Run(); err != nil {
						continue // a module or target this kernel lacks
					}
					loaded[c.family]++
				}
			}
			fw := collectIn(t, ns)
			var b strings.Builder
			for _, fam := range []string{"ip", "ip6"} {
				tl := tallyRules(t, fw, fam)
				if tl.rules != loaded[fam] {
					t.Errorf("%s: %d rules loaded, %d read back", fam, loaded[fam], tl.rules)
				}
				b.WriteString(tl.summary(backend + " " + fam))
			}
			t.Logf("\n%s", b.String())
		})
	}
}

func pct(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// suiteCase is one rule of a test file in one chain.
type suiteCase struct{ family, table, chain, rule string }

// suiteCases reads a test file's rules that the suite expects to load
// (";OK", on this backend), one per chain they name, in each family the
// file is for.
func suiteCases(t *testing.T, path, backend string) []suiteCase {
	t.Helper()
	name := filepath.Base(path)
	var fams []string
	switch {
	case strings.HasPrefix(name, "libxt_"):
		fams = []string{"ip", "ip6"}
	case strings.HasPrefix(name, "libipt_"):
		fams = []string{"ip"}
	case strings.HasPrefix(name, "libip6t_"):
		fams = []string{"ip6"}
	default:
		return nil // arptables and ebtables
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	table, chains := "filter", []string(nil)
	var out []suiteCase
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "#"):
			continue // a comment, as iptables-test.py reads them
		case strings.HasPrefix(line, "*"):
			table = strings.TrimSpace(line[1:])
			continue
		case strings.HasPrefix(line, ":"):
			chains = strings.Split(strings.TrimSpace(line[1:]), ",")
			continue
		}
		f := strings.Split(line, ";")
		i := len(f) - 1
		for i >= 2 && f[i] != "OK" && f[i] != "FAIL" {
			i--
		}
		if i < 2 || f[i] != "OK" {
			continue
		}
		only := strings.Join(f[i+1:], ";")
		if (strings.Contains(only, "LEGACY") && backend != "legacy") || (strings.Contains(only, "NFT") && backend != "nft") {
			continue
		}
		rule := strings.Join(f[:i-1], ";")
		for _, fam := range fams {
			for _, c := range chains {
				out = append(out, suiteCase{fam, table, c, rule})
			}
		}
	}
	return out
}

// ruleTally counts a family's rules by how well they are read.
type ruleTally struct {
	rules, decoded, honest, unsupported int
	reasons                             map[string]int
	// families counts the honest rules by the family of their first
	// reason; forms the unsupported ones by their first entry.
	families, forms map[string]int
}

// add sorts one rule of tb, and fails the test when it is undecidable with
// nothing declared unsupported; label names its source in the error.
func (tl *ruleTally) add(t *testing.T, fw *snapshot.Firewall, tb *snapshot.Table, r *snapshot.Rule, label string) {
	t.Helper()
	if tl.reasons == nil {
		tl.reasons, tl.families, tl.forms = map[string]int{}, map[string]int{}, map[string]int{}
	}
	tl.rules++
	why := undecided(fw, tb, r)
	switch {
	case len(r.Unsupported) > 0:
		tl.unsupported++
		tl.forms[r.Unsupported[0]]++
		for _, u := range r.Unsupported {
			tl.reasons["unsupported: "+u]++
		}
	case len(why) > 0:
		tl.honest++
		tl.families[strings.TrimSuffix(snapshot.MayFamily(why[0]), ": ")]++
		for _, w := range why {
			if !snapshot.HonestMay(w) {
				t.Errorf("%s: rule %q is undecidable (%s) but declares nothing unsupported", label, r.Text, w)
			}
			tl.reasons["may: "+w]++
		}
	default:
		tl.decoded++
	}
}

// undecided lists why the simulator cannot decide rule r of tb: its
// undecidable matches, and an unknown verdict's reason.
func undecided(fw *snapshot.Firewall, tb *snapshot.Table, r *snapshot.Rule) []string {
	why := netfilter.Undecidable(fw, tb, r)
	if r.Verdict.Kind == snapshot.VerdictUnknown {
		why = append(why, r.Verdict.Reason)
	}
	return why
}

// summary renders the tally: the rules decoded, honestly undecidable (by
// family) and unsupported, then the most frequent unsupported forms (one
// per rule, its first entry) and reasons.
func (tl *ruleTally) summary(label string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d rules, decoded %d (%.1f%%), honest may %d (%.1f%%), unsupported %d (%.1f%%)\n",
		label, tl.rules, tl.decoded, pct(tl.decoded, tl.rules), tl.honest, pct(tl.honest, tl.rules), tl.unsupported, pct(tl.unsupported, tl.rules))
	b.WriteString("  may by family:")
	for _, f := range snapshot.MayFamilies {
		f = strings.TrimSuffix(f, ": ")
		fmt.Fprintf(&b, " %s %d", f, tl.families[f])
	}
	b.WriteString("\n  top unsupported forms:\n")
	b.WriteString(topReasons(tl.forms, 12))
	b.WriteString("  top reasons:\n")
	b.WriteString(topReasons(tl.reasons, 12))
	return b.String()
}

// tallyRules sorts every rule of the family's tables.
func tallyRules(t *testing.T, fw *snapshot.Firewall, family string) ruleTally {
	t.Helper()
	var tl ruleTally
	for ti := range fw.Tables {
		tb := &fw.Tables[ti]
		if tb.Family != family {
			continue
		}
		for ci := range tb.Chains {
			for ri := range tb.Chains[ci].Rules {
				tl.add(t, fw, tb, &tb.Chains[ci].Rules[ri], family)
			}
		}
	}
	return tl
}

// topReasons lists the n most frequent reasons.
func topReasons(reasons map[string]int, n int) string {
	type kv struct {
		k string
		v int
	}
	var all []kv
	for k, v := range reasons {
		all = append(all, kv{k, v})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v || (all[i].v == all[j].v && all[i].k < all[j].k) })
	var b strings.Builder
	for i, e := range all {
		if i == n {
			break
		}
		fmt.Fprintf(&b, "  %5d %s\n", e.v, e.k)
	}
	return b.String()
}

// iptablesSuite returns the directory of the installed iptables version's
// extensions/*.t, fetched with apt-get source from the machine's own Debian
// mirror (a private deb-src list and state, so the host's apt is left as
// it is) and cached in debroot.CacheDir.
func iptablesSuite(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", "iptables").Output()
	if err != nil {
		t.Fatalf("iptables version: %v", err)
	}
	version := strings.TrimSpace(string(out))
	dir := filepath.Join(debroot.CacheDir, "iptables-tests-"+version)
	if m, _ := filepath.Glob(filepath.Join(dir, "*.t")); len(m) > 0 {
		return dir
	}
	src := debroot.HostMirror(t)
	work := t.TempDir()
	list := filepath.Join(work, "sources.list")
	if err := os.WriteFile(list, []byte(fmt.Sprintf("deb-src %s %s main\n", src.URI, src.Suite)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(work, "lists", "partial"), 0o755); err != nil {
		t.Fatal(err)
	}
	opts := []string{"-o", "Dir::Etc::SourceList=" + list, "-o", "Dir::Etc::SourceParts=/dev/null",
		"-o", "Dir::State::Lists=" + filepath.Join(work, "lists"), "-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=root"}
	for _, args := range [][]string{append(opts, "update"), append(opts, "source", "--download-only", "iptables="+version)} {
		cmd := exec.Command("apt-get", args...)
		cmd.Dir = work
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("apt-get %s: %v\n%s", args[len(opts)], err, out)
		}
	}
	tars, _ := filepath.Glob(filepath.Join(work, "iptables_*.orig.tar.*"))
	if len(tars) != 1 {
		t.Fatalf("apt-get source left %v, expected one orig tarball", tars)
	}
	if out, err := exec.Command("tar", "-xf", tars[0], "-C", work, "--wildcards", "*/extensions/*.t").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	got, _ := filepath.Glob(filepath.Join(work, "*", "extensions"))
	if len(got) != 1 {
		t.Fatalf("no extensions directory in %s", tars[0])
	}
	if err := os.MkdirAll(debroot.CacheDir, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(debroot.CacheDir, ".iptables-tests-")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", got[0]+"/.", tmp).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, os.ErrExist) {
		os.RemoveAll(tmp)
		if m, _ := filepath.Glob(filepath.Join(dir, "*.t")); len(m) == 0 {
			t.Fatalf("cache %s: %v", dir, err)
		}
	}
	return dir
}
