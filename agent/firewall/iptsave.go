package firewall

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// SaveResult is what an iptables-save dump holds.
type SaveResult struct {
	Tables   []snapshot.Table
	Unparsed []snapshot.UnparsedRule
	// Incompatible lists tables the tool refused to print ("use 'nft' tool"):
	// they hold native nftables rules and must be read over netlink.
	Incompatible []string
}

// builtin describes an iptables built-in chain as a base chain.
type builtin struct {
	hook string
	prio int
}

var builtins = map[string]map[string]builtin{
	"raw":      {"PREROUTING": {"prerouting", -300}, "OUTPUT": {"output", -300}},
	"mangle":   {"PREROUTING": {"prerouting", -150}, "INPUT": {"input", -150}, "FORWARD": {"forward", -150}, "OUTPUT": {"output", -150}, "POSTROUTING": {"postrouting", -150}},
	"nat":      {"PREROUTING": {"prerouting", -100}, "INPUT": {"input", 100}, "OUTPUT": {"output", -100}, "POSTROUTING": {"postrouting", 100}},
	"filter":   {"INPUT": {"input", 0}, "FORWARD": {"forward", 0}, "OUTPUT": {"output", 0}},
	"security": {"INPUT": {"input", 50}, "FORWARD": {"forward", 50}, "OUTPUT": {"output", 50}},
}

// MaxRules bounds the rules one dump may hold. A rule costs about 1 KB in
// the model, so this caps a hostile or runaway ruleset near 500 MB instead
// of letting it take the host's memory; real hosts (large kube-proxy nodes)
// hold well under it.
var MaxRules = 500000

// ParseSave reads the output of iptables-save or ip6tables-save into tables
// of the given backend; family is ip or ip6. It reads as a stream and stops
// with an error past MaxRules.
func ParseSave(r io.Reader, backend, family string) (*SaveResult, error) {
	res := &SaveResult{}
	rules := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	var cur *snapshot.Table
	chains := map[string]int{}
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "#"):
			// "# Table `filter' is incompatible, use 'nft' tool."
			if i := strings.Index(line, "Table `"); i >= 0 && strings.Contains(line, "incompatible") {
				rest := line[i+len("Table `"):]
				if j := strings.IndexByte(rest, '\''); j > 0 {
					res.Incompatible = append(res.Incompatible, rest[:j])
				}
			}
		case strings.HasPrefix(line, "*"):
			res.Tables = append(res.Tables, snapshot.Table{Backend: backend, Family: family, Name: line[1:]})
			cur = &res.Tables[len(res.Tables)-1]
			chains = map[string]int{}
		case line == "COMMIT":
			cur = nil
		case strings.HasPrefix(line, ":"):
			if cur == nil {
				return nil, fmt.Errorf("line %d: chain outside a table: %q", lineNo, line)
			}
			f := strings.Fields(line[1:])
			if len(f) < 2 {
				return nil, fmt.Errorf("line %d: bad chain line %q", lineNo, line)
			}
			c := snapshot.Chain{Name: f[0], Rules: []snapshot.Rule{}}
			if b, ok := builtins[cur.Name][f[0]]; ok && f[1] != "-" {
				c.Hook, c.Priority, c.Policy = b.hook, b.prio, strings.ToLower(f[1])
				c.Type = "filter"
				if cur.Name == "nat" {
					c.Type = "nat"
				} else if cur.Name == "mangle" && f[0] == "OUTPUT" {
					c.Type = "route"
				}
			}
			chains[f[0]] = len(cur.Chains)
			cur.Chains = append(cur.Chains, c)
		case strings.HasPrefix(line, "-A ") || strings.HasPrefix(line, "-I "):
			if rules++; rules > MaxRules {
				return nil, fmt.Errorf("the ruleset holds more than %d rules, the most hostdrift reads in one dump; it was not read", MaxRules)
			}
			if cur == nil {
				return nil, fmt.Errorf("line %d: rule outside a table: %q", lineNo, line)
			}
			args, err := splitArgs(line)
			if err != nil || len(args) < 2 {
				reason := fmt.Sprintf("cannot split into arguments: %v", err)
				chain := ""
				if f := strings.Fields(line); len(f) > 1 {
					chain = f[1]
				}
				res.Unparsed = append(res.Unparsed, snapshot.UnparsedRule{Backend: backend, Family: family, Table: cur.Name, Chain: chain, Text: line, Reason: reason})
				// Keep its place in the chain: verdicts that reach it are unknown.
				if ci, ok := chains[chain]; ok {
					c := &cur.Chains[ci]
					c.Rules = append(c.Rules, snapshot.Rule{Position: len(c.Rules) + 1, Text: line, Unsupported: []string{reason},
						Verdict: snapshot.Verdict{Kind: snapshot.VerdictUnknown, Reason: "rule not parsed: " + reason}})
				}
				continue
			}
			ci, ok := chains[args[1]]
			if !ok {
				res.Unparsed = append(res.Unparsed, snapshot.UnparsedRule{Backend: backend, Family: family, Table: cur.Name, Chain: args[1], Text: line, Reason: "rule in an undeclared chain"})
				continue
			}
			rule := ParseRule(args[2:], func(name string) bool { _, ok := chains[name]; return ok })
			rule.Text = line
			c := &cur.Chains[ci]
			rule.Position = len(c.Rules) + 1
			c.Rules = append(c.Rules, rule)
		default:
			return nil, fmt.Errorf("line %d: not iptables-save output: %q", lineNo, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	// The chains' rule lists grew by appending: trim them to their length.
	for ti := range res.Tables {
		for ci := range res.Tables[ti].Chains {
			if c := &res.Tables[ti].Chains[ci]; cap(c.Rules) > len(c.Rules) {
				c.Rules = slices.Clone(c.Rules)
			}
		}
	}
	return res, nil
}

// ParseRule turns the arguments of one iptables rule (after "-A CHAIN") into
// the normalised model; isChain says whether a target names a user chain.
func ParseRule(args []string, isChain func(string) bool) snapshot.Rule {
	p := ruleParser{args: args, isChain: isChain}
	p.parse()
	r := p.rule
	if r.Verdict.Kind == "" {
		r.Verdict.Kind = snapshot.VerdictContinue
	}
	// Matches grew by appending; a snapshot holds tens of thousands of
	// rules, so keep exactly what they need.
	if len(r.Matches) > 0 && cap(r.Matches) > len(r.Matches) {
		r.Matches = slices.Clone(r.Matches)
	}
	return r
}

type ruleParser struct {
	args    []string
	i       int
	isChain func(string) bool
	rule    snapshot.Rule
	module  string
	target  string
	// mod collects the options of the current module instance for modules
	// read as a whole (recent, limit, ...); finish turns it into a match.
	mod modState
}

// modState is what one module instance said so far.
type modState struct {
	opts map[string]string
	neg  map[string]bool
	// done is set once the instance's match is recorded.
	done bool
	// given is set once the instance has been given any option.
	given bool
}

func (p *ruleParser) next() (string, bool) {
	if p.i >= len(p.args) {
		return "", false
	}
	a := p.args[p.i]
	p.i++
	return a, true
}

func (p *ruleParser) value() string {
	v, ok := p.next()
	if !ok {
		p.unsupported("missing value for " + p.args[len(p.args)-1])
	}
	return v
}

func (p *ruleParser) unsupported(what string) {
	p.rule.Unsupported = append(p.rule.Unsupported, what)
}

func (p *ruleParser) add(field string, neg bool, values ...string) {
	p.rule.Matches = append(p.rule.Matches, snapshot.Match{Field: field, Negate: neg, Values: values})
}

func (p *ruleParser) mayMatch(neg bool, reason string) {
	p.rule.Matches = append(p.rule.Matches, snapshot.Match{Field: snapshot.FieldMayMatch, Negate: neg, Reason: reason})
}

// skipValues consumes the values of an option it does not interpret.
func (p *ruleParser) skipValues() {
	for p.i < len(p.args) {
		a := p.args[p.i]
		if a == "!" || (strings.HasPrefix(a, "-") && len(a) > 1 && !isNumber(a[1:])) {
			return
		}
		p.i++
	}
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

func (p *ruleParser) parse() {
	neg := false
	for {
		a, ok := p.next()
		if !ok {
			p.endModule()
			return
		}
		if a == "!" {
			neg = true
			continue
		}
		p.option(a, neg)
		neg = false
	}
}

func ports(s string) []string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = strings.Replace(p, ":", "-", 1)
	}
	return parts
}

func lowerList(s string) []string {
	parts := strings.Split(strings.ToLower(s), ",")
	return parts
}

func (p *ruleParser) option(a string, neg bool) {
	if p.target != "" {
		if p.targetOption(a) {
			return
		}
	}
	switch a {
	case "-p", "--protocol":
		v := snapshot.ProtocolName(p.value())
		if v != "all" && v != "0" {
			p.add("l4proto", neg, v)
		}
	case "-s", "--source", "--src":
		p.add("saddr", neg, strings.Split(p.value(), ",")...)
	case "-d", "--destination", "--dst":
		p.add("daddr", neg, strings.Split(p.value(), ",")...)
	case "-i", "--in-interface":
		p.add("iif", neg, p.value())
	case "-o", "--out-interface":
		p.add("oif", neg, p.value())
	case "-f", "--fragment":
		// -f matches second and later fragments; ! -f the others.
		p.add("header", neg, "fragment")
	case "-m", "--match":
		p.endModule()
		p.module = p.value()
		p.mod = modState{}
		if p.module == "rpfilter" {
			// A match even without options: strict, not inverted.
			p.mod.opts, p.mod.neg = map[string]string{}, map[string]bool{}
		}
	case "-j", "--jump":
		p.endModule()
		p.setTarget(p.value(), false)
	case "-g", "--goto":
		p.endModule()
		p.setTarget(p.value(), true)
	case "-c", "--set-counters":
		p.value()
		p.value()
	default:
		p.mod.given = true
		p.moduleOption(a, neg)
	}
}

func (p *ruleParser) moduleOption(a string, neg bool) {
	if p.honestOption(a, neg) {
		return
	}
	switch p.module {
	case "tcp", "udp", "sctp", "udplite", "dccp":
		switch a {
		case "--dport", "--destination-port":
			p.add("dport", neg, ports(p.value())...)
			return
		case "--sport", "--source-port":
			p.add("sport", neg, ports(p.value())...)
			return
		case "--syn":
			p.add("tcp_flags", neg, "fin,syn,rst,ack/syn")
			return
		case "--tcp-flags":
			mask, comp := p.value(), p.value()
			p.add("tcp_flags", neg, strings.ToLower(mask)+"/"+strings.ToLower(comp))
			return
		case "--chunk-types", "--dccp-types":
			p.firstChunks(a, neg)
			return
		}
	case "multiport":
		switch a {
		case "--dports", "--destination-ports":
			p.add("dport", neg, ports(p.value())...)
			return
		case "--sports", "--source-ports":
			p.add("sport", neg, ports(p.value())...)
			return
		case "--ports":
			p.add("port", neg, ports(p.value())...)
			return
		}
	case "conntrack", "state":
		switch a {
		case "--ctstate", "--state":
			p.add("ct_state", neg, lowerList(p.value())...)
			return
		case "--ctstatus":
			p.add("ct_status", neg, lowerList(p.value())...)
			return
		case "--ctdir":
			d := strings.ToLower(p.value())
			p.add("ct_direction", neg, d)
			return
		case "--ctproto":
			p.add("ct_proto", neg, snapshot.ProtocolName(p.value()))
			return
		case "--ctorigsrc":
			p.add("ct_orig_saddr", neg, p.value())
			return
		case "--ctorigdst":
			p.add("ct_orig_daddr", neg, p.value())
			return
		case "--ctorigsrcport":
			p.add("ct_orig_sport", neg, ports(p.value())...)
			return
		case "--ctorigdstport":
			p.add("ct_orig_dport", neg, ports(p.value())...)
			return
		}
	case "addrtype":
		switch a {
		case "--src-type":
			p.add("src_type", neg, lowerList(p.value())...)
			return
		case "--dst-type":
			p.add("dst_type", neg, lowerList(p.value())...)
			return
		case "--limit-iface-in", "--limit-iface-out":
			p.unsupported("match addrtype option " + a)
			p.mayMatch(neg, "addrtype limited to one interface")
			return
		}
	case "comment":
		if a == "--comment" {
			p.rule.Comment = p.value()
			return
		}
	case "mark":
		if a == "--mark" {
			p.add("mark", neg, p.value())
			return
		}
	case "connmark":
		if a == "--mark" {
			p.add("ct_mark", neg, p.value())
			return
		}
	case "icmp":
		if a == "--icmp-type" {
			p.add("icmp_type", neg, strings.ToLower(p.value()))
			return
		}
	case "icmp6", "icmpv6":
		if a == "--icmpv6-type" {
			p.add("icmp_type", neg, strings.ToLower(p.value()))
			return
		}
	case "iprange":
		switch a {
		case "--src-range":
			p.add("saddr", neg, p.value())
			return
		case "--dst-range":
			p.add("daddr", neg, p.value())
			return
		}
	case "tos", "dscp", "ecn", "length", "ttl", "hl":
		if f, v, ok := p.ipField(a); ok {
			p.rule.Matches = append(p.rule.Matches, snapshot.Match{Field: f.field, Op: f.op, Negate: neg, Values: []string{v}})
			return
		}
	case "pkttype":
		if a == "--pkt-type" {
			p.add("pkttype", neg, strings.ToLower(p.value()))
			return
		}
	case "rt", "frag", "hbh", "dst", "ah", "esp", "mh":
		// The kernel finds the header first and fails the match when the
		// packet has none, whatever the options and their "!" say.
		if strings.HasPrefix(a, "--") {
			if !p.mod.done {
				p.add("header", false, p.module)
				p.mod.done = true
			}
			p.skipValues()
			return
		}
	case "recent", "limit", "hashlimit", "connlimit", "ipv6header", "ipv4options", "rpfilter":
		if strings.HasPrefix(a, "--") {
			p.collect(a, neg)
			return
		}
	case "policy":
		if strings.HasPrefix(a, "--") {
			p.collect(a, neg)
			return
		}
	case "set":
		if p.ipsetOption(a, neg) {
			return
		}
	}
	if p.module != "" && strings.HasPrefix(a, "--") {
		p.unsupported(fmt.Sprintf("match %s option %s", p.module, a))
		p.skipValues()
		return
	}
	p.unsupported("option " + a)
	p.skipValues()
}

func (p *ruleParser) setTarget(t string, isGoto bool) {
	p.target = t
	v := &p.rule.Verdict
	switch {
	case isGoto:
		v.Kind, v.Chain = snapshot.VerdictGoto, t
	case t == "ACCEPT":
		v.Kind = snapshot.VerdictAccept
	case t == "DROP":
		v.Kind = snapshot.VerdictDrop
	case t == "REJECT":
		v.Kind = snapshot.VerdictReject
	case t == "RETURN":
		v.Kind = snapshot.VerdictReturn
	case t == "DNAT":
		v.Kind = snapshot.VerdictDNAT
	case t == "SNAT":
		v.Kind = snapshot.VerdictSNAT
	case t == "MASQUERADE":
		v.Kind = snapshot.VerdictMasquerade
	case t == "REDIRECT":
		v.Kind = snapshot.VerdictRedirect
	case t == "NFQUEUE" || t == "QUEUE":
		v.Kind = snapshot.VerdictQueue
	case t == "LOG" || t == "NFLOG" || t == "ULOG" || t == "TRACE" || t == "AUDIT":
		p.rule.Effects = append(p.rule.Effects, snapshot.Effect{Kind: "log"})
	case t == "HMARK":
		// The mark is a hash of the packet's addresses and ports with a
		// seed: later matches on it cannot be decided.
		p.rule.Effects = append(p.rule.Effects, snapshot.Effect{Kind: "mark", Value: snapshot.MarkUnknown + snapshot.MayChance + "HMARK set the mark from a seeded hash"})
	case t == "MARK" || t == "CONNMARK":
		// options set the effect
	case t == "NOTRACK":
		p.rule.Effects = append(p.rule.Effects, snapshot.Effect{Kind: "notrack"})
	case t == "SET":
		// options name the sets it adds the packet to or deletes it from
	case t == "CT" || t == "TCPMSS" || t == "CHECKSUM" || t == "TOS" || t == "DSCP" || t == "TTL" || t == "HL" ||
		t == "CLASSIFY" || t == "SECMARK" || t == "CONNSECMARK" || t == "ECN" || t == "TEE" ||
		t == "TCPOPTSTRIP" || t == "IDLETIMER" || t == "LED" || t == "RATEEST":
		// They change what the packet carries beyond the model, time or
		// count it, and let it continue.
		p.rule.Effects = append(p.rule.Effects, snapshot.Effect{Kind: strings.ToLower(t)})
	case p.isChain != nil && p.isChain(t):
		v.Kind, v.Chain = snapshot.VerdictJump, t
	default:
		v.Kind, v.Reason = snapshot.VerdictUnknown, "target "+t+" is not interpreted"
		p.unsupported("target " + t)
	}
}

// classValue is the priority CLASSIFY's "--set-class MAJOR:MINOR" (hex)
// gives a packet, as a priority effect's value.
func classValue(s string) string {
	major, minor, ok := strings.Cut(s, ":")
	a, err1 := strconv.ParseUint(major, 16, 16)
	b, err2 := strconv.ParseUint(minor, 16, 16)
	if !ok || err1 != nil || err2 != nil {
		return snapshot.MarkUnknown + "CLASSIFY --set-class " + s + " not understood"
	}
	return fmt.Sprintf("0x%x", a<<16|b)
}

// targetOption consumes an option of the rule's target; false if it is not one.
func (p *ruleParser) targetOption(a string) bool {
	v := &p.rule.Verdict
	switch p.target {
	case "DNAT", "SNAT":
		if a == "--to-destination" || a == "--to-source" {
			v.To = p.value()
			return true
		}
	case "REDIRECT", "MASQUERADE":
		if a == "--to-ports" {
			v.To = ":" + p.value()
			return true
		}
	case "MARK":
		switch a {
		case "--set-xmark", "--set-mark":
			p.rule.Effects = append(p.rule.Effects, snapshot.Effect{Kind: "mark", Value: p.value()})
			return true
		case "--or-mark":
			p.rule.Effects = append(p.rule.Effects, snapshot.Effect{Kind: "mark", Value: "or " + p.value()})
			return true
		case "--xor-mark":
			p.rule.Effects = append(p.rule.Effects, snapshot.Effect{Kind: "mark", Value: "xor " + p.value()})
			return true
		case "--and-mark":
			p.rule.Effects = append(p.rule.Effects, snapshot.Effect{Kind: "mark", Value: "and " + p.value()})
			return true
		}
	case "SET":
		if a == "--add-set" || a == "--del-set" {
			p.rule.Effects = append(p.rule.Effects, snapshot.Effect{Kind: "set_update", Value: "ipset:" + p.value()})
			p.skipValues()
			return true
		}
	case "CLASSIFY":
		if a == "--set-class" {
			p.rule.Effects = append(p.rule.Effects, snapshot.Effect{Kind: "priority", Value: classValue(p.value())})
			return true
		}
	case "CONNMARK":
		switch a {
		case "--set-xmark", "--set-mark":
			p.rule.Effects = append(p.rule.Effects, snapshot.Effect{Kind: "ct_mark", Value: p.value()})
			return true
		case "--save-mark":
			p.rule.Effects = append(p.rule.Effects, snapshot.Effect{Kind: "ct_mark", Value: "save"})
			p.skipValues()
			return true
		case "--restore-mark":
			p.rule.Effects = append(p.rule.Effects, snapshot.Effect{Kind: "mark", Value: "restore"})
			p.skipValues()
			return true
		}
	}
	if strings.HasPrefix(a, "--") && !isMatchOption(a) {
		p.skipValues()
		return true
	}
	return false
}

// isMatchOption reports options that may follow a target but belong to matches.
func isMatchOption(a string) bool {
	switch a {
	case "--match", "--jump", "--goto", "--protocol", "--source", "--destination", "--in-interface", "--out-interface":
		return true
	}
	return false
}
