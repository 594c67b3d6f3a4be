package netfilter

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// maxPaths bounds how many combinations of undecidable matches are explored.
const maxPaths = 1024

// Simulate walks a packet through every hook, table and backend of the
// firewall, in kernel order, and says whether it is delivered. Matches whose
// outcome cannot be known (rates, randomness, rules not understood) are
// explored both ways: the verdict is unknown only if it depends on them.
func Simulate(fw *snapshot.Firewall, p Packet) Result {
	return ProgramFor(fw).Simulate(p)
}

type walker struct {
	prog    *Program
	p       Packet
	prefix  []bool
	choices []bool
	reasons []string
	// defaults and assumed say, per choice, the outcome taken first and
	// whether it is an assumption about the peer's history (or a match
	// that cannot be decided at all).
	defaults []bool
	assumed  []bool
	trace    []Step
	hook     string

	ctStatus map[string]bool
	ctMark   uint32
	// markWhy and ctMarkWhy, when set, say why the packet's or the
	// connection's mark is unknown (a rule set it from a hash or a socket).
	markWhy, ctMarkWhy string
	// priority is the packet's priority (skb->priority), 0 as it arrives
	// from a network device; priorityWhy, when set, says why it is
	// unknown (the sending socket's, or ip_forward's from the tos).
	priority    uint32
	priorityWhy string
	// orig is the packet as it entered the first hook: a new connection's
	// original tuple.
	orig     Packet
	dnatDone bool
	snatDone bool
	noNAT    bool

	verdict  Verdict
	deciding *RuleRef
	reason   string
	budget   int

	// cond is set by a match whose outcome assumes something of the
	// peer's history or the load.
	cond string
	// recent counts this packet's own hits per recent list; setsUpdated
	// names the sets it added itself to.
	recent      map[string]int
	setsUpdated map[string]bool
}

func newWalker(prog *Program, p Packet, prefix []bool) *walker {
	return &walker{prog: prog, p: p, prefix: prefix, ctStatus: map[string]bool{}, budget: 100000}
}

type outKind int

const (
	oNone outKind = iota
	oAccept
	oDeny
	oUnknown
)

type outcome struct {
	kind   outKind
	ref    *RuleRef
	reason string
}

func (w *walker) family() string {
	if w.p.Dst.Unmap().Is4() {
		return "ipv4"
	}
	return "ipv6"
}

// run walks the hooks in kernel order and sets the walker's verdict.
func (w *walker) run() {
	if !w.p.Dst.IsValid() {
		w.verdict, w.reason = Unknown, "packet without a destination address"
		return
	}
	origDst := w.p.Dst
	switch w.p.Direction {
	case Outbound:
		// The socket's priority: SO_PRIORITY, or IP_TOS's.
		w.priorityWhy = snapshot.MayProcess + "meta priority: the sending socket's priority (SO_PRIORITY, IP_TOS)"
		if w.p.OutIface == "" {
			w.p.OutIface = w.prog.route(w.p.Dst)
		}
		if !w.p.Src.IsValid() {
			if a, ok := w.prog.addrOf(w.p.OutIface, w.family()); ok {
				w.p.Src = a
			}
		}
		w.orig = w.p
		if !w.hookPass("output") {
			return
		}
		if w.p.Dst != origDst {
			w.p.OutIface = w.prog.route(w.p.Dst)
		}
		if !w.hookPass("postrouting") {
			return
		}
		if w.prog.isLocal(w.p.Dst) {
			// Looped back to the host itself: in again through lo.
			w.p.InIface, w.p.OutIface = "lo", ""
			w.noNAT = true
			if !w.hookPass("prerouting") || !w.hookPass("input") {
				return
			}
		}
	default:
		if w.p.Direction == Forward && w.p.InIface == "" {
			w.p.InIface = w.prog.route(w.p.Src)
		}
		if w.p.Direction == Inbound && w.p.InIface == "" {
			w.p.InIface = w.prog.route(w.p.Src)
		}
		w.orig = w.p
		if !w.hookPass("prerouting") {
			return
		}
		local := w.prog.isLocal(w.p.Dst)
		if w.p.Dst == origDst && w.p.Direction == Inbound {
			local = true
		}
		if local {
			w.p.OutIface = ""
			if !w.hookPass("input") {
				return
			}
		} else {
			if w.p.OutIface == "" || w.p.Dst != origDst {
				w.p.OutIface = w.prog.route(w.p.Dst)
			}
			if w.family() == "ipv4" {
				// ip_forward sets it from the tos before the forward hook.
				w.priorityWhy = snapshot.MayPayload + "meta priority: ip_forward sets it from the tos the sender chose"
			}
			if !w.hookPass("forward") || !w.hookPass("postrouting") {
				return
			}
		}
	}
	w.verdict = Allow
}

func tableApplies(family, pktFamily string) bool {
	switch family {
	case "inet":
		return true
	case "ip":
		return pktFamily == "ipv4"
	case "ip6":
		return pktFamily == "ipv6"
	}
	return false
}

func (w *walker) ref(cc *cChain, r *snapshot.Rule) *RuleRef {
	t := cc.table.t
	ref := &RuleRef{Backend: t.Backend, Family: t.Family, Table: t.Name, Chain: cc.c.Name, Origin: cc.c.Origin}
	if r != nil {
		ref.Position, ref.Handle, ref.Text, ref.Comment = r.Position, r.Handle, r.Text, r.Comment
		if r.Origin != "" {
			ref.Origin = r.Origin
		}
	}
	return ref
}

func policyText(cc *cChain) string {
	if cc.table.t.Backend == snapshot.BackendNftables {
		return "policy " + cc.c.Policy
	}
	return "policy " + strings.ToUpper(cc.c.Policy)
}

// hookPass runs the base chains of one hook; false when the walk ended.
func (w *walker) hookPass(hook string) bool {
	w.hook = hook
	fam := w.family()
	for _, cc := range w.prog.hooks[hook] {
		if !tableApplies(cc.table.t.Family, fam) {
			continue
		}
		if cc.c.Type == "nat" {
			if w.noNAT || (w.p.CtState != "new") {
				continue
			}
			if (hook == "prerouting" || hook == "output") && w.dnatDone {
				continue
			}
			if (hook == "postrouting" || hook == "input") && w.snatDone {
				continue
			}
		}
		out := w.runChain(cc, 0)
		if out.kind == oNone {
			pol := w.ref(cc, nil)
			pol.Policy = cc.c.Policy
			pol.Text = policyText(cc)
			if cc.c.Policy == "drop" {
				w.step("policy", pol, "")
				w.verdict, w.deciding = Deny, pol
				return false
			}
			out = outcome{kind: oAccept, ref: pol}
		}
		switch out.kind {
		case oAccept:
			if cc.c.Type != "nat" {
				w.deciding = out.ref
			}
		case oDeny:
			w.verdict, w.deciding = Deny, out.ref
			return false
		case oUnknown:
			w.verdict, w.deciding, w.reason = Unknown, out.ref, out.reason
			return false
		}
	}
	return true
}

func (w *walker) step(event string, where *RuleRef, note string) {
	w.trace = append(w.trace, Step{Hook: w.hook, Event: event, Where: *where, Note: note})
}

// runChain evaluates a chain; oNone means it ended (or returned) without a
// verdict.
func (w *walker) runChain(cc *cChain, depth int) outcome {
	if depth > 64 {
		return outcome{kind: oUnknown, ref: w.ref(cc, nil), reason: "jumps nested deeper than 64 chains (a loop?)"}
	}
	w.step("enter", w.ref(cc, nil), "")
	for i := range cc.rules {
		cr := &cc.rules[i]
		w.budget--
		if w.budget < 0 {
			return outcome{kind: oUnknown, ref: w.ref(cc, cr.r), reason: "walk too long"}
		}
		if cr.inert {
			continue // log or count only: matching or not changes nothing
		}
		if !w.matches(cc, cr) {
			continue
		}
		w.effects(cr.r)
		v := cr.r.Verdict
		out, done := w.verdict1(cc, cr, v.Kind, v.Chain, v, depth)
		if done {
			return out
		}
	}
	w.step("end", w.ref(cc, nil), "no rule matched")
	return outcome{}
}

// verdict1 applies one verdict; done is false when evaluation goes on with
// the next rule.
func (w *walker) verdict1(cc *cChain, cr *cRule, kind, chain string, v snapshot.Verdict, depth int) (outcome, bool) {
	ref := w.ref(cc, cr.r)
	switch kind {
	case snapshot.VerdictContinue, "":
		return outcome{}, false
	case snapshot.VerdictAccept:
		w.step("rule", ref, "accept")
		return outcome{kind: oAccept, ref: ref}, true
	case snapshot.VerdictDrop, snapshot.VerdictReject:
		w.step("rule", ref, kind)
		return outcome{kind: oDeny, ref: ref}, true
	case snapshot.VerdictReturn:
		w.step("rule", ref, "return")
		return outcome{}, true
	case snapshot.VerdictJump, snapshot.VerdictGoto:
		target := cc.table.chains[chain]
		if target == nil {
			return outcome{kind: oUnknown, ref: ref, reason: "jump to chain " + chain + " that is not in the snapshot"}, true
		}
		w.step("rule", ref, kind+" "+chain)
		sub := w.runChain(target, depth+1)
		if kind == snapshot.VerdictGoto || sub.kind != oNone {
			return sub, true
		}
		return outcome{}, false
	case snapshot.VerdictDNAT, snapshot.VerdictRedirect, snapshot.VerdictSNAT:
		if v.Set != "" {
			// The new address is the map's value for the packet's key;
			// without one the rule breaks.
			val, res := w.vmap(cc, v)
			switch res {
			case no:
				return outcome{}, false
			case may:
				return outcome{kind: oUnknown, ref: ref, reason: val}, true
			}
			a, err := netip.ParseAddr(val)
			if err != nil {
				return outcome{kind: oUnknown, ref: ref, reason: "nat address " + val + " from @" + v.Set + " not understood"}, true
			}
			v.Set, v.To = "", a.String()
			if a.Is6() {
				v.To = "[" + v.To + "]"
			}
			return w.verdict1(cc, cr, kind, chain, v, depth)
		}
		if kind == snapshot.VerdictSNAT {
			w.snatDone = true
			w.ctStatus["snat"] = true
			w.step("nat", ref, kind)
			return outcome{kind: oAccept, ref: ref}, true
		}
		if err := w.dnat(kind, v.To); err != nil {
			return outcome{kind: oUnknown, ref: ref, reason: err.Error()}, true
		}
		w.step("nat", ref, fmt.Sprintf("%s to %s", kind, netip.AddrPortFrom(w.p.Dst, w.p.DstPort)))
		return outcome{kind: oAccept, ref: ref}, true
	case snapshot.VerdictMasquerade:
		w.snatDone = true
		w.ctStatus["snat"] = true
		w.step("nat", ref, kind)
		return outcome{kind: oAccept, ref: ref}, true
	case snapshot.VerdictQueue:
		w.step("rule", ref, "queue")
		return outcome{kind: oUnknown, ref: ref, reason: "packet handed to a userspace program (queue)"}, true
	case snapshot.VerdictMap:
		val, res := w.vmap(cc, v)
		switch res {
		case no:
			return outcome{}, false
		case may:
			return outcome{kind: oUnknown, ref: ref, reason: val}, true
		}
		k, c, _ := strings.Cut(val, " ")
		if k == snapshot.VerdictMap || k == snapshot.VerdictUnknown || (k != snapshot.VerdictAccept && k != snapshot.VerdictDrop &&
			k != snapshot.VerdictReturn && k != snapshot.VerdictJump && k != snapshot.VerdictGoto && k != snapshot.VerdictContinue) {
			return outcome{kind: oUnknown, ref: ref, reason: "verdict map value " + val}, true
		}
		return w.verdict1(cc, cr, k, c, snapshot.Verdict{}, depth)
	}
	reason := v.Reason
	if reason == "" {
		reason = "verdict " + kind + " not interpreted"
	}
	return outcome{kind: oUnknown, ref: ref, reason: reason}, true
}

// dnat rewrites the destination: "addr", "addr:port", ":port", ranges.
func (w *walker) dnat(kind, to string) error {
	addr, port := to, ""
	if strings.HasPrefix(to, "[") {
		i := strings.Index(to, "]")
		if i < 0 {
			return fmt.Errorf("nat target %q not understood", to)
		}
		addr, port = to[1:i], strings.TrimPrefix(to[i+1:], ":")
	} else if strings.Count(to, ":") == 1 {
		addr, port, _ = strings.Cut(to, ":")
	}
	if a, _, ok := strings.Cut(addr, "-"); ok {
		addr = a
	}
	if p, _, ok := strings.Cut(port, "-"); ok {
		port = p
	}
	if kind == snapshot.VerdictRedirect {
		addr = ""
		if w.hook == "output" {
			if w.family() == "ipv4" {
				w.p.Dst = netip.MustParseAddr("127.0.0.1")
			} else {
				w.p.Dst = netip.IPv6Loopback()
			}
		} else if a, ok := w.prog.addrOf(w.p.InIface, w.family()); ok {
			w.p.Dst = a
		} else {
			return fmt.Errorf("redirect: no address on %s in the snapshot", w.p.InIface)
		}
	}
	if addr != "" {
		a, err := netip.ParseAddr(addr)
		if err != nil {
			return fmt.Errorf("nat target %q not understood", to)
		}
		w.p.Dst = a
	}
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return fmt.Errorf("nat target %q not understood", to)
		}
		w.p.DstPort = uint16(n)
	}
	w.dnatDone = true
	w.ctStatus["dnat"] = true
	return nil
}

func (w *walker) effects(r *snapshot.Rule) {
	for _, e := range r.Effects {
		switch e.Kind {
		case "mark":
			switch {
			case strings.HasPrefix(e.Value, snapshot.MarkUnknown):
				w.markWhy = strings.TrimPrefix(e.Value, snapshot.MarkUnknown)
			case e.Value == "restore":
				w.markWhy = w.ctMarkWhy
			case wholeSet(e.Value):
				w.markWhy = ""
			}
			w.p.Mark = applyMark(w.p.Mark, e.Value, w.ctMark)
		case "ct_mark":
			switch {
			case e.Value == "save":
				w.ctMark, w.ctMarkWhy = w.p.Mark, w.markWhy
			case wholeSet(e.Value):
				w.ctMarkWhy = ""
				w.ctMark = applyMark(w.ctMark, e.Value, w.p.Mark)
			default:
				w.ctMark = applyMark(w.ctMark, e.Value, w.p.Mark)
			}
		case "priority":
			if why, unknown := strings.CutPrefix(e.Value, snapshot.MarkUnknown); unknown {
				w.priorityWhy = why
				break
			}
			n, err := strconv.ParseUint(e.Value, 0, 32)
			if err != nil {
				w.priorityWhy = fmt.Sprintf("priority set to %q, not understood", e.Value)
				break
			}
			w.priority, w.priorityWhy = uint32(n), ""
		case "notrack":
			w.p.CtState = "untracked"
		case "set_update":
			if w.setsUpdated == nil {
				w.setsUpdated = map[string]bool{}
			}
			w.setsUpdated[strings.TrimPrefix(e.Value, "@")] = true
		}
	}
}

// wholeSet reports whether a mark effect sets every bit to a known value.
func wholeSet(spec string) bool {
	return !strings.Contains(spec, " ") && !strings.Contains(spec, "/") && !strings.HasPrefix(spec, "unknown")
}

// applyMark computes a new mark: "V", "V/M" (xset), "or V", "xor V", "and V",
// "restore" (from other).
func applyMark(cur uint32, spec string, other uint32) uint32 {
	op, val, ok := strings.Cut(spec, " ")
	if !ok {
		op, val = "set", spec
	}
	if op == "restore" {
		return other
	}
	v, m, hasMask := strings.Cut(val, "/")
	n, err := strconv.ParseUint(v, 0, 32)
	if err != nil {
		return cur
	}
	mask := uint64(0xffffffff)
	if hasMask {
		mask, _ = strconv.ParseUint(m, 0, 32)
	}
	switch op {
	case "or":
		return cur | uint32(n)
	case "xor":
		return cur ^ uint32(n)
	case "and":
		return cur & uint32(n)
	}
	return (cur &^ uint32(mask)) ^ uint32(n)
}
