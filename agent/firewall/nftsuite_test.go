package firewall

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// TestNftablesSuite loads nftables' own rule suite (tests/py: the any, inet,
// ip and ip6 directories, each file's sets, objects and rules into the ip,
// ip6 and inet tables it names, one rule at a time as nft-test.py does),
// reads it back, fails on a rule undecidable with nothing declared
// unsupported, and logs per directory and family how many rules are
// decoded, honestly undecidable (by family) and unsupported. The suite is
// not in Debian's archive: HOSTDRIFT_NFT_SUITE names a tests/py directory
// of the nftables source (1.0.6 for this machine's nft); without it the
// test is skipped.
func TestNftablesSuite(t *testing.T) {
	dir := os.Getenv("HOSTDRIFT_NFT_SUITE")
	if dir == "" {
		t.Skip("HOSTDRIFT_NFT_SUITE not set")
	}
	nstest.RequireRoot(t)
	var files []string
	for _, sub := range []string{"any", "inet", "ip", "ip6"} {
		m, _ := filepath.Glob(filepath.Join(dir, sub, "*.t"))
		files = append(files, m...)
	}
	tallies := map[string]*ruleTally{}
	total := 0
	for _, f := range files {
		ns := nstest.New(t)
		data, _ := os.ReadFile(f)
		chains := map[string]string{}
		type tbl struct {
			fam, name string
			chains    []string
		}
		var tables []tbl
		run := func(cmd string) error {
			out, err := ns.Command("nft", cmd).CombinedOutput()
			if err != nil && os.Getenv("HOSTDRIFT_NFT_SUITE_V") != "" {
				t.Logf("%s: %s: %s", filepath.Base(f), cmd, out)
			}
			return err
		}
		n := 0
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || line[0] == '#' || line[0] == '-' {
				continue
			}
			switch line[0] {
			case ':':
				p := strings.SplitN(line[1:], ";", 2)
				chains[p[0]] = p[1]
				continue
			case '*':
				p := strings.Split(line[1:], ";")
				if p[0] != "ip" && p[0] != "ip6" && p[0] != "inet" {
					continue
				}
				tb := tbl{p[0], p[1], strings.Split(p[2], ",")}
				if run(fmt.Sprintf("add table %s %s", tb.fam, tb.name)) != nil {
					continue
				}
				for _, c := range tb.chains {
					run(fmt.Sprintf("add chain %s %s %s { %s; }", tb.fam, tb.name, c, chains[c]))
				}
				tables = append(tables, tb)
				continue
			}
			f := strings.Split(line, ";")
			if len(f) < 2 || f[1] != "ok" {
				continue
			}
			for _, tb := range tables {
				switch line[0] {
				case '!':
					tok := strings.Fields(f[0][1:])
					typ, i := tok[2], 3
					for len(tok) > i+1 && tok[i] == "." {
						typ += " . " + tok[i+1]
						i += 2
					}
					extra := ""
					for ; i+1 < len(tok); i += 2 {
						extra += tok[i] + " " + tok[i+1] + "; "
					}
					run(fmt.Sprintf("add set %s %s %s { type %s; %s}", tb.fam, tb.name, tok[0], typ, extra))
				case '?':
					p := strings.SplitN(f[0][1:], " ", 2)
					run(fmt.Sprintf("add element %s %s %s { %s }", tb.fam, tb.name, p[0], p[1]))
				case '%':
					tok := strings.Fields(f[0][1:])
					typ, rest := tok[2], tok[3:]
					if typ == "ct" {
						typ, rest = "ct "+tok[3], tok[4:]
					}
					run(fmt.Sprintf("add %s %s %s %s %s", typ, tb.fam, tb.name, tok[0], strings.Join(rest, " ")))
				default:
					for _, c := range tb.chains {
						if run(fmt.Sprintf("add rule %s %s %s %s", tb.fam, tb.name, c, f[0])) == nil {
							n++
						}
					}
				}
			}
		}
		total += n
		fw := collectIn(t, ns)
		for ti := range fw.Tables {
			tb := &fw.Tables[ti]
			if tb.Backend != "nftables" {
				continue
			}
			key := filepath.Base(filepath.Dir(f)) + "/" + tb.Family
			if tallies[key] == nil {
				tallies[key] = &ruleTally{}
			}
			for ci := range tb.Chains {
				for ri := range tb.Chains[ci].Rules {
					r := &tb.Chains[ci].Rules[ri]
					if os.Getenv("HOSTDRIFT_NFT_SUITE_DUMP") != "" {
						t.Logf("%s | %s | %q", filepath.Base(f), r.Text, r.Unsupported)
					}
					tallies[key].add(t, fw, tb, r, filepath.Base(f))
					all := tallies["all"]
					if all == nil {
						all = &ruleTally{}
						tallies["all"] = all
					}
					all.add(t, fw, tb, r, filepath.Base(f))
				}
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "loaded %d\n", total)
	for k, tl := range tallies {
		b.WriteString(tl.summary(k))
	}
	b.WriteString("all unsupported forms:\n" + topReasons(tallies["all"].forms, 60))
	t.Logf("\n%s", b.String())
}
