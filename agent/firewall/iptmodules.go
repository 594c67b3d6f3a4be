package firewall

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// honestModules give the reason of the may-match of each module whose
// outcome, whatever its options, depends on chance, the clock, the traffic
// already seen, what the sender put in the packet, or the local process
// (snapshot.MayFamilies).
var honestModules = map[string]string{
	"statistic": snapshot.MayChance + "statistic: picks packets at random or every nth",
	"random":    snapshot.MayChance + "random: picks packets at random",
	"cpu":       snapshot.MayChance + "cpu: the CPU that handles the packet",
	"cluster":   snapshot.MayChance + "cluster: a seeded hash of the source picks the node",
	"nth":       snapshot.MayHistory + "nth: counts the packets already seen",
	"quota":     snapshot.MayHistory + "quota: counts the bytes already seen",
	"connbytes": snapshot.MayHistory + "connbytes: counts the connection's traffic",
	"rateest":   snapshot.MayHistory + "rateest: rates the RATEEST target measured on earlier traffic",
	"connlabel": snapshot.MayHistory + "connlabel: labels earlier packets set on the connection",
	"time":      snapshot.MayClock + "time: depends on the time of day or date",
	"string":    snapshot.MayPayload + "string: looks for bytes in the packet",
	"u32":       snapshot.MayPayload + "u32: tests packet bytes at computed offsets",
	"bpf":       snapshot.MayPayload + "bpf: a program tests the packet's bytes",
	"osf":       snapshot.MayPayload + "osf: the sender's operating system, from its SYN's options",
	"tcpmss":    snapshot.MayPayload + "tcpmss: the MSS option the sender chose",
	"mac":       snapshot.MayPayload + "mac: the sender's link-layer address",
	"eui64":     snapshot.MayPayload + "eui64: whether the source address is derived from the sender's link-layer address",
	"owner":     snapshot.MayProcess + "owner: the local socket's user, group or existence",
	"cgroup":    snapshot.MayProcess + "cgroup: the control group of the local process",
	"socket":    snapshot.MayProcess + "socket: whether a local socket takes the packet",
}

// honestOptions give the reason of the may-match of module options whose
// outcome depends on one of snapshot.MayFamilies, keyed by module and
// option.
var honestOptions = map[string]string{
	"conntrack --ctexpire":    snapshot.MayHistory + "conntrack --ctexpire: the connection's remaining lifetime",
	"tcp --tcp-option":        snapshot.MayPayload + "tcp --tcp-option: the options the sender chose",
	"dccp --dccp-option":      snapshot.MayPayload + "dccp --dccp-option: the options the sender chose",
	"ipcomp --ipcompspi":      snapshot.MayPayload + "ipcomp --ipcompspi: the CPI the sender chose",
	"ipcomp --compres":        snapshot.MayPayload + "ipcomp --compres: the reserved bits the sender set",
	"srh --srh-next-hdr":      snapshot.MayPayload + "srh: the segment routing header's fields",
	"srh --srh-hdr-len-eq":    snapshot.MayPayload + "srh: the segment routing header's fields",
	"srh --srh-hdr-len-gt":    snapshot.MayPayload + "srh: the segment routing header's fields",
	"srh --srh-hdr-len-lt":    snapshot.MayPayload + "srh: the segment routing header's fields",
	"srh --srh-segs-left-eq":  snapshot.MayPayload + "srh: the segment routing header's fields",
	"srh --srh-segs-left-gt":  snapshot.MayPayload + "srh: the segment routing header's fields",
	"srh --srh-segs-left-lt":  snapshot.MayPayload + "srh: the segment routing header's fields",
	"srh --srh-last-entry-eq": snapshot.MayPayload + "srh: the segment routing header's fields",
	"srh --srh-last-entry-gt": snapshot.MayPayload + "srh: the segment routing header's fields",
	"srh --srh-last-entry-lt": snapshot.MayPayload + "srh: the segment routing header's fields",
	"srh --srh-tag":           snapshot.MayPayload + "srh: the segment routing header's fields",
	"srh --srh-psid":          snapshot.MayPayload + "srh: the segment routing header's fields",
	"srh --srh-nsid":          snapshot.MayPayload + "srh: the segment routing header's fields",
	"srh --srh-lsid":          snapshot.MayPayload + "srh: the segment routing header's fields",
}

// srhReason is why -m srh, even without options, may match a packet with
// a routing header: the kernel also requires its type to be 4.
const srhReason = snapshot.MayPayload + "srh: the routing header's type (4, segment routing)"

// dscpClasses are the DiffServ class names of -m dscp --dscp-class and
// their code points (xtables' dscp_helper).
var dscpClasses = map[string]int{
	"cs0": 0, "cs1": 8, "cs2": 16, "cs3": 24, "cs4": 32, "cs5": 40, "cs6": 48, "cs7": 56, "be": 0, "ef": 46,
	"af11": 10, "af12": 12, "af13": 14, "af21": 18, "af22": 20, "af23": 22,
	"af31": 26, "af32": 28, "af33": 30, "af41": 34, "af42": 36, "af43": 38,
}

// noCondition are the modules whose instance given no option matches
// every packet the rule's protocol match lets through.
var noCondition = map[string]bool{
	"tcp": true, "udp": true, "udplite": true, "sctp": true, "dccp": true,
	"conntrack": true, "addrtype": true, "iprange": true, "comment": true,
}

// headerModules are ip6tables' extension-header matches: each fails on a
// packet without its header, options or none.
var headerModules = map[string]bool{"rt": true, "frag": true, "hbh": true, "dst": true, "ah": true, "esp": true, "mh": true}

// endModule closes the current module instance. A module given no option
// still imposes its condition: an extension header's presence, the limit's
// default rate; one whose condition is not modelled is unsupported, never
// dropped.
func (p *ruleParser) endModule() {
	p.finish()
	if p.module == "" || p.mod.given || p.mod.done {
		return
	}
	p.mod.done = true
	switch {
	case headerModules[p.module]:
		p.add("header", false, p.module)
	case p.module == "srh":
		p.add("header", false, "rt")
		p.mayMatch(false, srhReason)
	case honestModules[p.module] != "":
		p.mayMatch(false, honestModules[p.module])
	case p.module == "limit":
		p.assume(false, true, "packets matching -m limit stay under 3/hour (burst 5)")
	case noCondition[p.module]:
	default:
		p.unsupported("match " + p.module + " is not interpreted")
		p.mayMatch(false, "match "+p.module+" is not interpreted")
	}
}

// collect records one option of a module read as a whole, with its values.
func (p *ruleParser) collect(opt string, neg bool) {
	start := p.i
	p.skipValues()
	if p.mod.opts == nil {
		p.mod.opts, p.mod.neg = map[string]string{}, map[string]bool{}
	}
	p.mod.opts[opt] = strings.Join(p.args[start:p.i], " ")
	p.mod.neg[opt] = neg
}

// finish turns the options collected for the current module instance into
// its match.
func (p *ruleParser) finish() {
	if p.mod.opts == nil || p.mod.done {
		return
	}
	p.mod.done = true
	o, neg := p.mod.opts, p.mod.neg
	has := func(k string) bool { _, ok := o[k]; return ok }
	switch p.module {
	case "recent":
		p.recent(o, neg)
	case "limit":
		rate, burst := orDefault(o["--limit"], "3/hour"), orDefault(o["--limit-burst"], "5")
		p.assume(false, true, fmt.Sprintf("packets matching -m limit stay under %s (burst %s)", rate, burst))
	case "hashlimit":
		burst := orDefault(o["--hashlimit-burst"], "5")
		per := "all packets together"
		if m := o["--hashlimit-mode"]; m != "" {
			per = "each " + m
		}
		switch {
		case has("--hashlimit-above"):
			p.assume(neg["--hashlimit-above"], false, fmt.Sprintf("%s stay under %s (burst %s) of -m hashlimit", per, o["--hashlimit-above"], burst))
		case has("--hashlimit-upto"):
			p.assume(neg["--hashlimit-upto"], true, fmt.Sprintf("%s stay under %s (burst %s) of -m hashlimit", per, o["--hashlimit-upto"], burst))
		default:
			p.mayMatch(false, "hashlimit without a rate")
		}
	case "connlimit":
		opt, above := "--connlimit-above", true
		if !has(opt) {
			opt, above = "--connlimit-upto", false
		}
		n, err := strconv.Atoi(o[opt])
		if err != nil {
			p.unsupported("connlimit without a number")
			p.mayMatch(false, "connlimit without a number")
			return
		}
		// The first connection of a peer counts 1, itself; with 0 the
		// outcome is the same whatever came before.
		match := (1 > n) == above
		cond := ""
		if n > 0 {
			who := "source"
			if has("--connlimit-daddr") {
				who = "destination"
			}
			cond = fmt.Sprintf("the %s has fewer than %d other connections open (-m connlimit %s %d)", who, n, opt, n)
		}
		p.assume(neg[opt], match, cond)
	case "ipv6header":
		m := snapshot.Match{Field: "ipv6header", Negate: neg["--header"], Values: lowerList(o["--header"])}
		if has("--soft") {
			m.Op = "soft"
		}
		p.rule.Matches = append(p.rule.Matches, m)
	case "rpfilter":
		// The reverse path filter (xt_rpfilter): the route back to the
		// source leaves by the interface the packet came in by, or with
		// --loose exists at all; --invert matches when it fails. The
		// packet's mark (--validmark) is 0 on a first packet hostdrift
		// asks about, as the main table's lookup assumes.
		if has("--accept-local") {
			p.unsupported("match rpfilter option --accept-local")
			p.mayMatch(false, "rpfilter --accept-local: sources that are local addresses pass")
			return
		}
		mode := "strict"
		if has("--loose") {
			mode = "loose"
		}
		p.rule.Matches = append(p.rule.Matches, snapshot.Match{Field: "rpf", Negate: has("--invert"), Values: []string{mode}})
	case "policy":
		// xt_policy: a packet with no IPsec state (in) or transform (out)
		// matches --pol none and never --pol ipsec, whatever the other
		// options say.
		pol := o["--pol"]
		if pol != "none" && pol != "ipsec" {
			p.unsupported("match policy without --pol none or ipsec")
			p.mayMatch(false, "policy without --pol")
			return
		}
		cond := "the packet arrived without IPsec protection"
		if o["--dir"] == "out" {
			cond = "no IPsec policy of the host applies to the packet"
		}
		p.assume(false, pol == "none", cond+" (-m policy --pol "+pol+")")
	case "ipv4options":
		m := snapshot.Match{Field: "ipv4options"}
		if f := o["--flags"]; f != "" {
			m.Values = lowerList(f)
		}
		if has("--any") {
			m.Op = "any"
		}
		p.rule.Matches = append(p.rule.Matches, m)
	}
}

// recent records -m recent: its action, list, side, hit count and window.
func (p *ruleParser) recent(o map[string]string, neg map[string]bool) {
	action := ""
	for _, a := range []string{"set", "rcheck", "update", "remove"} {
		if _, ok := o["--"+a]; ok {
			action = a
		}
	}
	if action == "" {
		p.unsupported("recent without --set, --rcheck, --update or --remove")
		p.mayMatch(false, "recent without an action")
		return
	}
	side := "src"
	if _, ok := o["--rdest"]; ok {
		side = "dst"
	}
	p.rule.Matches = append(p.rule.Matches, snapshot.Match{Field: "recent", Op: action, Negate: neg["--"+action],
		Values: []string{orDefault(o["--name"], "DEFAULT"), side, orDefault(o["--hitcount"], "0"), orDefault(o["--seconds"], "0")}})
}

// assume records a match on rate or history with its outcome for a fresh
// peer under normal load.
func (p *ruleParser) assume(neg, match bool, cond string) {
	v := snapshot.AssumeNoMatch
	if match {
		v = snapshot.AssumeMatch
	}
	p.rule.Matches = append(p.rule.Matches, snapshot.Match{Field: snapshot.FieldAssume, Negate: neg, Values: []string{v}, Reason: cond})
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ipsetOption reads an option of -m set; false if it is not one.
func (p *ruleParser) ipsetOption(opt string, neg bool) bool {
	var last *snapshot.Match
	if n := len(p.rule.Matches); n > 0 && p.rule.Matches[n-1].Field == "ipset" {
		last = &p.rule.Matches[n-1]
	}
	switch {
	case opt == "--match-set" || opt == "--set":
		name := p.value()
		p.rule.Matches = append(p.rule.Matches, snapshot.Match{Field: "ipset", Set: name, Negate: neg, Keys: lowerList(p.value())})
		return true
	case opt == "--update-counters" || opt == "--update-subcounters":
		return true // counting only
	case last == nil:
		return false
	case opt == "--return-nomatch" || strings.HasPrefix(opt, "--packets-") || strings.HasPrefix(opt, "--bytes-"):
		last.Reason = "ipset " + last.Set + " with " + opt
		p.unsupported("match set option " + opt)
		p.skipValues()
		return true
	}
	return false
}

// ipFieldOpts are the options of the tos, dscp, ecn, length, ttl and hl
// modules that compare one IP header field: the model's field and order.
var ipFieldOpts = map[string]struct{ field, op string }{
	"--tos": {"tos", ""}, "--dscp": {"dscp", ""}, "--ecn-ip-ect": {"ecn", ""}, "--length": {"length", ""},
	"--ttl-eq": {"ttl", ""}, "--ttl-lt": {"ttl", "lt"}, "--ttl-gt": {"ttl", "gt"},
	"--hl-eq": {"ttl", ""}, "--hl-lt": {"ttl", "lt"}, "--hl-gt": {"ttl", "gt"},
}

// ipField reads one option of an IP header field match and its value:
// numbers, ranges as "a-b", the tos as value/mask.
func (p *ruleParser) ipField(opt string) (struct{ field, op string }, string, bool) {
	f, ok := ipFieldOpts[opt]
	if !ok {
		return f, "", false
	}
	v := strings.Replace(p.value(), ":", "-", 1)
	if f.field == "tos" && !strings.Contains(v, "/") {
		v += "/0xff"
	}
	return f, v, true
}

// honestOption reads an option whose outcome is one of snapshot.MayFamilies
// (honestModules, honestOptions) or that is decoded into another option
// (dscp classes, the ecn module's tcp flags); false if it is none of these.
func (p *ruleParser) honestOption(a string, neg bool) bool {
	if !strings.HasPrefix(a, "--") {
		return false
	}
	reason := honestModules[p.module]
	switch {
	case p.module == "socket" && a == "--restore-skmark":
		// The matching socket's mark becomes the packet's.
		p.rule.Effects = append(p.rule.Effects, snapshot.Effect{Kind: "mark", Value: snapshot.MarkUnknown + snapshot.MayProcess + "socket --restore-skmark set the mark of the local socket"})
		if !p.mod.done {
			p.mayMatch(neg, reason)
			p.mod.done = true
		}
		return true
	case p.module == "dscp" && a == "--dscp-class":
		v := p.value()
		n, ok := dscpClasses[strings.ToLower(v)]
		if !ok {
			p.unsupported("match dscp class " + v)
			p.mayMatch(neg, "dscp class "+v+" is not known")
			return true
		}
		p.rule.Matches = append(p.rule.Matches, snapshot.Match{Field: "dscp", Negate: neg, Values: []string{strconv.Itoa(n)}})
		return true
	case p.module == "ecn" && (a == "--ecn-tcp-ece" || a == "--ecn-tcp-cwr"):
		// xt_ecn tests the TCP header's ECE or CWR flag.
		f := map[string]string{"--ecn-tcp-ece": "ecn", "--ecn-tcp-cwr": "cwr"}[a]
		p.add("tcp_flags", neg, f+"/"+f)
		return true
	case p.module == "srh":
		reason = honestOptions[p.module+" "+a]
		if reason != "" && !p.mod.done {
			p.add("header", false, "rt")
		}
	case reason == "":
		reason = honestOptions[p.module+" "+a]
	}
	if reason == "" {
		return false
	}
	if !p.mod.done {
		p.mayMatch(neg, reason)
		p.mod.done = true
	}
	p.skipValues()
	return true
}

// firstChunks reads sctp's --chunk-types MODE LIST and dccp's --dccp-types
// LIST into a first_chunks match: Values are the protocol and the chunk or
// packet type names, Op the mode (any for dccp).
func (p *ruleParser) firstChunks(opt string, neg bool) {
	m := snapshot.Match{Field: "first_chunks", Negate: neg, Op: "any", Values: []string{p.module}}
	if opt == "--chunk-types" {
		m.Op = strings.ToLower(p.value())
	}
	for _, c := range lowerList(p.value()) {
		name, flags, _ := strings.Cut(c, ":")
		if name == "init" && flags != "" {
			p.unsupported("match sctp chunk flags on INIT")
			p.mayMatch(neg, "sctp chunk flags on INIT")
			return
		}
		m.Values = append(m.Values, name)
	}
	p.rule.Matches = append(p.rule.Matches, m)
}
