package firewall

import (
	"errors"
	"fmt"
	"math/rand"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/internal/netfilter"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/testkit/nstest"
)

// TestIptablesSuiteDifferential sends first packets through the match part
// of each rule of iptables' own test suite (the rules TestIptablesSuite
// loads), and compares the kernel's verdict with the simulator's. Each
// test file's rules, their targets replaced by DROP, go into one chain of
// filter OUTPUT of a namespace, each behind its own packet mark, which the
// probe's socket sets: the send itself fails with EPERM exactly when the
// rule matched. Rules whose decode is not exact (an honest "may", or
// something unsupported) are counted and not probed. For every other rule
// the probes are packets built from its own values (protocol, ports,
// addresses, ICMP types), some of which the simulator says match and some
// not; every decided probe must agree with the kernel.
func TestIptablesSuiteDifferential(t *testing.T) {
	nstest.RequireRoot(t)
	for _, c := range []string{"apt-get", "dpkg-query", "tar", "ip", "iptables-nft-restore", "ip6tables-nft-restore", "iptables-legacy-restore", "ip6tables-legacy-restore"} {
		nstest.RequireCommand(t, c)
	}
	dir := iptablesSuite(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.t"))
	if len(files) < 100 {
		t.Fatalf("%d test files in %s, expected over 100", len(files), dir)
	}
	for _, backend := range []string{"nft", "legacy"} {
		for _, fam := range []string{"ip", "ip6"} {
			t.Run(backend+"_"+fam, func(t *testing.T) {
				tl := suiteDifferential(t, files, backend, fam)
				t.Logf("\n%s", tl.summary(backend+" "+fam))
				if os.Getenv("HOSTDRIFT_DIFF_DUMP") != "" {
					t.Logf("rules probed that no probe matched:\n%s", strings.Join(tl.neverMatched, "\n"))
				}
				// Most rules match some packet of their own values: far
				// fewer means the probes are built wrong.
				if tl.matched*2 < tl.probed {
					t.Errorf("%d of %d rules probed matched a probe: the probes miss the rules' values", tl.matched, tl.probed)
				}
				for _, w := range tl.wrong {
					t.Errorf("disagreement: %s", w)
				}
				if tl.probed == 0 || tl.sent == 0 {
					t.Errorf("no rule probed")
				}
			})
		}
	}
}

// probeRule is the match part of one suite rule, as loaded for probing.
type probeRule struct {
	file, text string
	// matches is the rule's words before its target.
	matches []string
	mark    uint32
}

// diffTally counts what the differential did with one family's rules.
type diffTally struct {
	rules, afterTarget, rejected, loaded, honest, unsupported, exact int
	// probed rules had at least one decided probe; matched and missed
	// count those with a probe the rule matched, and one it did not.
	probed, matched, missed, undecided                   int
	sent, sentMatch, sentMiss, unknown, assumed, notSent int
	rejectedWhy, honestWhy, unsupportedWhy, undecidedWhy map[string]int
	notSentWhy                                           map[string]int
	// neverMatched lists the probed rules no probe matched.
	neverMatched []string
	wrong        []string
}

func (tl *diffTally) summary(label string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d distinct rules; %d with a match after the target, %d refused in filter OUTPUT, %d loaded\n",
		label, tl.rules, tl.afterTarget, tl.rejected, tl.loaded)
	fmt.Fprintf(&b, "  loaded: exact %d, honest may %d, unsupported %d (not probed)\n", tl.exact, tl.honest, tl.unsupported)
	fmt.Fprintf(&b, "  exact: probed %d (with a matching probe %d, with a non-matching one %d), no decided probe %d\n",
		tl.probed, tl.matched, tl.missed, tl.undecided)
	fmt.Fprintf(&b, "  packets: sent %d (match %d, no match %d), candidates not sent: verdict unknown %d, verdict assuming a fresh peer %d; refused by the socket %d; disagreements %d\n",
		tl.sent, tl.sentMatch, tl.sentMiss, tl.unknown, tl.assumed, tl.notSent, len(tl.wrong))
	for _, s := range []struct {
		name string
		m    map[string]int
	}{{"refused", tl.rejectedWhy}, {"honest may", tl.honestWhy}, {"unsupported", tl.unsupportedWhy}, {"no decided probe", tl.undecidedWhy}, {"socket refused", tl.notSentWhy}} {
		if len(s.m) > 0 {
			fmt.Fprintf(&b, "  top %s:\n%s", s.name, topReasons(s.m, 10))
		}
	}
	return b.String()
}

// suiteDifferential loads one family's suite rules through the backend
// into a fresh namespace and probes them.
func suiteDifferential(t *testing.T, files []string, backend, fam string) *diffTally {
	tl := &diffTally{rejectedWhy: map[string]int{}, honestWhy: map[string]int{}, unsupportedWhy: map[string]int{}, undecidedWhy: map[string]int{}, notSentWhy: map[string]int{}}
	var groups [][]*probeRule
	for fi, f := range files {
		seen := map[string]bool{}
		var g []*probeRule
		for _, c := range suiteCases(t, f, backend) {
			if c.family != fam || seen[c.rule] {
				continue
			}
			seen[c.rule] = true
			args, err := splitArgs(c.rule)
			if err != nil {
				continue // the suite's own malformed cases
			}
			tl.rules++
			m, ok := matchPart(args)
			if !ok {
				tl.afterTarget++
				continue
			}
			g = append(g, &probeRule{file: filepath.Base(f), text: c.rule, matches: m, mark: uint32(fi+1)<<16 | uint32(len(g)+1)})
		}
		groups = append(groups, g)
	}

	// The host's eth0 leads to a namespace that answers nothing and
	// forwards nothing: no probe meets a reply, and no neighbour is looked
	// up (the gateway's are permanent).
	ns, sink := nstest.New(t), nstest.New(t)
	ipBatch(t, ns,
		"link add eth0 type veth peer name sink netns "+sink.Name,
		"addr add "+hostAddr.String()+"/24 dev eth0",
		"addr add "+hostAddr6.String()+"/64 dev eth0 nodad",
		"link set eth0 up",
		"neigh replace "+worldAddr.String()+" lladdr 02:00:00:00:00:02 dev eth0 nud permanent",
		"neigh replace "+worldAddr6.String()+" lladdr 02:00:00:00:00:02 dev eth0 nud permanent",
		"route add default via "+worldAddr.String(),
		"route add default via "+worldAddr6.String(),
	)
	ipBatch(t, sink, "link set sink up")
	tool := map[string]string{"ip": "iptables-", "ip6": "ip6tables-"}[fam] + backend + "-restore"
	var head strings.Builder
	head.WriteString("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n")
	for gi := range groups {
		fmt.Fprintf(&head, ":s%d - [0:0]\n", gi+1)
	}
	for gi := range groups {
		fmt.Fprintf(&head, "-A OUTPUT -m mark --mark 0x%x/0xffff0000 -j s%d\n", (gi+1)<<16, gi+1)
	}
	head.WriteString("COMMIT\n")
	restore(t, ns, tool, head.String())
	loaded := make([][]*probeRule, len(groups))
	for gi, g := range groups {
		loaded[gi] = appendAccepted(t, ns, tool, gi+1, g, tl)
	}

	fw := collectIn(t, ns)
	var tb *snapshot.Table
	for i := range fw.Tables {
		if fw.Tables[i].Family == fam && fw.Tables[i].Name == "filter" {
			tb = &fw.Tables[i]
		}
	}
	if tb == nil {
		t.Fatalf("no %s filter table read back", fam)
	}
	chains := map[string]*snapshot.Chain{}
	for ci := range tb.Chains {
		chains[tb.Chains[ci].Name] = &tb.Chains[ci]
	}
	prog := netfilter.Compile(fw)
	rng := rand.New(rand.NewSource(27))
	var probes []*suiteProbe
	ids := uint16(0)
	for gi, g := range loaded {
		ch := chains[fmt.Sprintf("s%d", gi+1)]
		if ch == nil && len(g) > 0 || ch != nil && len(ch.Rules) != len(g) {
			t.Errorf("chain s%d (%s): %d rules loaded, read back %v", gi+1, g[0].file, len(g), ch)
			continue
		}
		for ri, pr := range g {
			r := &ch.Rules[ri]
			tl.loaded++
			why := undecided(fw, tb, r)
			switch {
			case len(r.Unsupported) > 0:
				tl.unsupported++
				tl.unsupportedWhy[r.Unsupported[0]]++
				continue
			case len(why) > 0:
				tl.honest++
				tl.honestWhy[why[0]]++
				continue
			}
			tl.exact++
			var hit, miss, dec int
			var first string // why the first undecided candidate is
			for _, pk := range candidates(pr, fam, rng) {
				if hit >= 3 && miss >= 3 {
					break
				}
				res := prog.Simulate(pk)
				switch {
				case res.Verdict == netfilter.Unknown:
					tl.unknown++
					if first == "" {
						first = "unknown: " + shortReason(res.Reason)
					}
					continue
				case !probeSatisfies(res.Conditions):
					// A verdict for a fresh peer under normal load: the
					// probes before it, and the suite's rules sharing one
					// named table or list, are history.
					tl.assumed++
					if first == "" {
						first = "assumes a fresh peer: " + historyMatch(res.Conditions[0])
					}
					continue
				case res.Verdict == netfilter.Deny && hit < 3:
					hit++
				case res.Verdict == netfilter.Allow && miss < 3:
					miss++
				default:
					continue
				}
				dec++
				ids++
				probes = append(probes, &suiteProbe{rule: pr, pk: pk, sim: res, id: ids})
			}
			switch {
			case dec == 0:
				tl.undecided++
				tl.undecidedWhy[first]++
			default:
				tl.probed++
				if hit > 0 {
					tl.matched++
				} else {
					tl.neverMatched = append(tl.neverMatched, pr.file+": "+pr.text)
				}
				if miss > 0 {
					tl.missed++
				}
			}
		}
	}
	sendSuiteProbes(t, ns, probes)
	for _, p := range probes {
		if p.err != nil && !errors.Is(p.err, unix.EPERM) {
			tl.notSent++
			tl.notSentWhy[p.err.Error()]++
			continue
		}
		tl.sent++
		dropped := errors.Is(p.err, unix.EPERM)
		if p.sim.Verdict == netfilter.Deny {
			tl.sentMatch++
		} else {
			tl.sentMiss++
		}
		if dropped != (p.sim.Verdict == netfilter.Deny) {
			tl.wrong = append(tl.wrong, fmt.Sprintf("%s %q: %s (mark %#x, %s): simulator %s, kernel dropped=%v: %s",
				p.rule.file, p.rule.text, p.pk, p.pk.Mark, describeWire(p.pk), p.sim.Verdict, dropped, netfilter.Explain(p.sim, p.pk)))
		}
	}
	return tl
}

// suiteProbe is one packet sent for one rule.
type suiteProbe struct {
	rule *probeRule
	pk   netfilter.Packet
	sim  netfilter.Result
	id   uint16
	// err is the send's result: nil when the packet left, EPERM when a
	// rule dropped it.
	err error
}

func describeWire(pk netfilter.Packet) string {
	s := fmt.Sprintf("%s -> %s", pk.Src, pk.Dst)
	if pk.ICMPType != "" {
		return s + " " + pk.ICMPType + ", ct " + pk.CtState
	}
	return fmt.Sprintf("%s sport %d dport %d", s, pk.SrcPort, pk.DstPort)
}

// sendSuiteProbes sends each probe from ns through a raw socket that sets
// its mark, with ns's connection table emptied first, and records the
// send's result.
func sendSuiteProbes(t *testing.T, ns *nstest.NS, probes []*suiteProbe) {
	t.Helper()
	ns.Do(t, func() {
		fds := map[bool]int{}
		for _, six := range []bool{false, true} {
			af := unix.AF_INET
			if six {
				af = unix.AF_INET6
			}
			fd, err := unix.Socket(af, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
			if err != nil {
				t.Fatalf("raw socket: %v", err)
			}
			defer unix.Close(fd)
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1); err != nil {
				t.Fatalf("SO_BROADCAST: %v", err)
			}
			fds[six] = fd
		}
		for _, p := range probes {
			// The first packet of its flow: protocols conntrack tracks
			// by addresses alone (esp, ah, dccp) would otherwise meet
			// the entry an earlier probe left.
			if err := netlink.ConntrackTableFlush(netlink.ConntrackTable); err != nil {
				t.Fatalf("flush conntrack: %v", err)
			}
			fd := fds[p.pk.Dst.Is6()]
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, int(p.pk.Mark)); err != nil {
				t.Fatalf("SO_MARK: %v", err)
			}
			var sa unix.Sockaddr = &unix.SockaddrInet6{Addr: p.pk.Dst.As16()}
			if p.pk.Dst.Is4() {
				sa = &unix.SockaddrInet4{Addr: p.pk.Dst.As4()}
			}
			p.err = unix.Sendto(fd, wirePacket(p.pk, p.id), 0, sa)
		}
	})
}

// appendAccepted appends the rules to chain s<n> in batches, halving a
// batch the kernel or the tool refuses, and returns the rules loaded, in
// order.
func appendAccepted(t *testing.T, ns *nstest.NS, tool string, n int, rules []*probeRule, tl *diffTally) []*probeRule {
	t.Helper()
	if len(rules) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("*filter\n")
	for _, r := range rules {
		fmt.Fprintf(&b, "-A s%d -m mark --mark 0x%x %s -j DROP\n", n, r.mark, quoteArgs(r.matches))
	}
	b.WriteString("COMMIT\n")
	cmd := ns.Command(tool, "--noflush")
	cmd.Stdin = strings.NewReader(b.String())
	out, err := cmd.CombinedOutput()
	if err == nil {
		return rules
	}
	if len(rules) == 1 {
		tl.rejected++
		why := "refused with no message"
		for _, l := range strings.Split(string(out), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "Error occurred at line") && !strings.HasPrefix(l, "Try `") {
				if i := strings.Index(l, "):"); i >= 0 {
					l = strings.TrimSpace(l[i+2:])
				}
				if l != "" {
					why = l
					break
				}
			}
		}
		tl.rejectedWhy[rules[0].file+": "+why]++
		return nil
	}
	h := len(rules) / 2
	return append(appendAccepted(t, ns, tool, n, rules[:h], tl), appendAccepted(t, ns, tool, n, rules[h:], tl)...)
}

// matchPart returns the words of a rule before its target (-j, -g); false
// when a match follows the target's options.
func matchPart(args []string) ([]string, bool) {
	for i, a := range args {
		if a == "-j" || a == "--jump" || a == "-g" || a == "--goto" {
			for _, b := range args[i+1:] {
				switch b {
				case "-m", "--match", "-p", "--protocol", "-s", "--source", "-d", "--destination", "-i", "-o", "--in-interface", "--out-interface":
					return nil, false
				}
			}
			return args[:i], true
		}
	}
	return args, true
}

// quoteArgs renders words for iptables-restore, quoting those with blanks
// or quotes.
func quoteArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'\\") {
			a = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(a) + `"`
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// candidates returns first packets for a rule, built from its own values:
// its protocol or each protocol probes have, its ports and their
// neighbours, its addresses, their neighbours and an address outside, and
// each ICMP type of the family. The first takes the rule's first value of
// each; the others mix the rule's values with defaults at random.
func candidates(pr *probeRule, fam string, rng *rand.Rand) []netfilter.Packet {
	six := fam == "ip6"
	// AH is an extension header in IPv6, which the simulator's packets do
	// not carry.
	all := []string{"tcp", "udp", "sctp", "icmp", "udplite", "dccp", "esp", "ah"}
	src := hostAddr
	dflt := []netip.Addr{netip.MustParseAddr("10.201.0.9"), hostAddr, netip.MustParseAddr("10.200.0.255"), netip.MustParseAddr("224.0.0.251")}
	if six {
		all = []string{"tcp", "udp", "sctp", "icmpv6", "udplite", "dccp", "esp"}
		src = hostAddr6
		dflt = []netip.Addr{netip.MustParseAddr("fd00:201::9"), hostAddr6, netip.MustParseAddr("ff0e::1")}
	}
	var protos []string
	var sports, dports []uint16
	var srcs, dsts []netip.Addr
	args := pr.matches
	for i := 0; i < len(args)-1; i++ {
		opt, j := args[i], i+1
		if args[j] == "!" && j+1 < len(args) {
			j++
		}
		val := args[j]
		switch {
		case opt == "-p" || opt == "--protocol":
			p := strings.ToLower(val)
			if p == "ipv6-icmp" || (six && p == "icmp") {
				p = "icmpv6"
			}
			for _, a := range all {
				if a == p {
					protos = append(protos, p)
				}
			}
		case strings.HasPrefix(opt, "--") && strings.Contains(opt, "port"):
			var ns []uint16
			for _, f := range strings.FieldsFunc(val, func(r rune) bool { return r == ',' || r == ':' }) {
				if n, err := strconv.Atoi(f); err == nil && n >= 0 && n <= 65535 {
					for _, d := range []int{0, 1, -1} {
						if n+d >= 0 && n+d <= 65535 {
							ns = append(ns, uint16(n+d))
						}
					}
				}
			}
			if !strings.Contains(opt, "dport") && !strings.Contains(opt, "destination") {
				sports = append(sports, ns...)
			}
			if !strings.Contains(opt, "sport") && !strings.Contains(opt, "source") {
				dports = append(dports, ns...)
			}
		case opt == "-s" || opt == "--source" || opt == "--src-range" || opt == "--ctorigsrc":
			srcs = append(srcs, addrNeighbours(val, six)...)
		case opt == "-d" || opt == "--destination" || opt == "--dst-range" || opt == "--ctorigdst":
			dsts = append(dsts, addrNeighbours(val, six)...)
		}
	}
	var kinds []icmpKind
	for _, k := range icmpKinds {
		if k.protocolV6 == six {
			kinds = append(kinds, k)
		}
	}
	own := func() bool { return rng.Intn(10) < 7 }
	pickPort := func(ports []uint16, dflt uint16) uint16 {
		switch {
		case len(ports) > 0 && own():
			return ports[rng.Intn(len(ports))]
		case dflt == 0:
			return uint16(1024 + rng.Intn(60000))
		}
		return dflt
	}
	var out []netfilter.Packet
	for i := 0; i < 48; i++ {
		pk := netfilter.Packet{Direction: netfilter.Outbound, Mark: pr.mark, CtState: "new",
			Protocol: all[rng.Intn(len(all))], Src: src, Dst: dflt[0]}
		if len(protos) > 0 && (i == 0 || own()) {
			pk.Protocol = protos[rng.Intn(len(protos))]
		}
		if len(srcs) > 0 && (i == 0 || own()) {
			pk.Src = srcs[rng.Intn(len(srcs))]
		}
		switch {
		case len(dsts) > 0 && (i == 0 || own()):
			pk.Dst = dsts[rng.Intn(len(dsts))]
		case i > 0 && rng.Intn(4) == 0:
			pk.Dst = dflt[rng.Intn(len(dflt))]
		}
		switch pk.Protocol {
		case "icmp", "icmpv6":
			k := kinds[rng.Intn(len(kinds))]
			pk.ICMPType, pk.CtState = k.name, k.ctState
		case "tcp", "udp", "sctp", "udplite", "dccp":
			pk.SrcPort, pk.DstPort = pickPort(sports, 0), pickPort(dports, 80)
			if i == 0 && len(sports) > 0 {
				pk.SrcPort = sports[0]
			}
			if i == 0 && len(dports) > 0 {
				pk.DstPort = dports[0]
			}
		}
		out = append(out, pk)
	}
	return out
}

// addrNeighbours reads an address, prefix, address/mask or range list of
// a rule, and returns for each its first address, the one after it, the
// one before, and one far outside, in the family.
func addrNeighbours(val string, six bool) []netip.Addr {
	var out []netip.Addr
	for _, f := range strings.FieldsFunc(val, func(r rune) bool { return r == ',' || r == '-' }) {
		a, _, _ := strings.Cut(f, "/")
		addr, err := netip.ParseAddr(a)
		if err != nil || addr.Is6() != six {
			continue
		}
		if addr.IsUnspecified() {
			// A raw socket sends an unspecified source as the
			// route's: probe the addresses next to it.
			addr = addr.Next()
		}
		far := addr.AsSlice()
		far[0] ^= 0x80
		o, _ := netip.AddrFromSlice(far)
		for _, n := range []netip.Addr{addr, addr.Next(), addr.Prev(), o} {
			if n.IsValid() && !n.IsUnspecified() {
				out = append(out, n)
			}
		}
	}
	return out
}

// shortReason is a verdict's reason without the rule it names.
func shortReason(s string) string {
	if _, after, ok := strings.Cut(s, "depends on: "); ok {
		s = after
	}
	s, _, _ = strings.Cut(s, " (chain ")
	return s
}

// probeSatisfies tells whether the probes meet every condition a verdict
// assumes: they carry one INIT chunk (sctp) and no IPsec, but they are no
// fresh peer to rate limits and history (they come in a burst, and the
// suite's rules share named tables and lists).
func probeSatisfies(conds []string) bool {
	for _, c := range conds {
		if !strings.HasPrefix(c, "a first sctp packet carries one INIT chunk") && !strings.HasPrefix(c, "the packet arrived without IPsec protection") {
			return false
		}
	}
	return true
}

// historyMatch names the match a condition on history is about.
func historyMatch(cond string) string {
	if i := strings.Index(cond, "-m "); i >= 0 {
		name, _, _ := strings.Cut(cond[i+3:], " ")
		return strings.TrimRight(name, ")")
	}
	return shortReason(cond)
}
