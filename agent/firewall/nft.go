package firewall

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

var familyNames = map[nftables.TableFamily]string{
	nftables.TableFamilyIPv4:   "ip",
	nftables.TableFamilyIPv6:   "ip6",
	nftables.TableFamilyINet:   "inet",
	nftables.TableFamilyARP:    "arp",
	nftables.TableFamilyBridge: "bridge",
	nftables.TableFamilyNetdev: "netdev",
}

func hookName(family string, h nftables.ChainHook) string {
	switch family {
	case "netdev":
		return []string{"ingress", "egress"}[min(int(h), 1)]
	case "arp":
		if int(h) < 3 {
			return []string{"input", "output", "forward"}[h]
		}
	default:
		if int(h) < 6 {
			return []string{"prerouting", "input", "forward", "output", "postrouting", "ingress"}[h]
		}
	}
	return "hook" + strconv.Itoa(int(h))
}

// nftReader reads native nftables over netlink, in the namespace of fd
// (0: the caller's).
type nftReader struct {
	fd   int
	seen int // rules read so far, against MaxRules
	// xt marks the tables ("family/table") with a rule that holds an xt
	// match or target: the mark nftables itself uses to say a table is
	// managed by iptables-nft.
	xt map[string]bool
	// xtRules marks each such rule.
	xtRules map[ruleRef]bool
	// links are the namespace's interfaces, for "meta iif" and "meta
	// iiftype", which compare an index or a type; nil if unread.
	links []linkInfo
}

// read lists and decodes every table the kernel holds, whoever made it.
func (r *nftReader) read() ([]snapshot.Table, error) {
	var opts []nftables.ConnOption
	if r.fd > 0 {
		opts = append(opts, nftables.WithNetNSFd(r.fd))
	}
	conn, err := nftables.New(opts...)
	if err != nil {
		return nil, err
	}
	r.links = readLinks(r.fd)
	tables, err := conn.ListTables()
	if err != nil {
		return nil, fmt.Errorf("list nftables tables: %w", err)
	}
	chains, err := conn.ListChains()
	if err != nil {
		return nil, fmt.Errorf("list nftables chains: %w", err)
	}
	nl, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: r.fd})
	if err != nil {
		return nil, fmt.Errorf("open netfilter netlink socket: %w", err)
	}
	defer nl.Close()

	var out []snapshot.Table
	for _, t := range tables {
		fam := familyNames[t.Family]
		if fam == "" {
			fam = strconv.Itoa(int(t.Family))
		}
		st := snapshot.Table{Backend: snapshot.BackendNftables, Family: fam, Name: t.Name, Chains: []snapshot.Chain{}}
		for _, c := range chains {
			if c.Table == nil || c.Table.Name != t.Name || c.Table.Family != t.Family {
				continue
			}
			sc := snapshot.Chain{Name: c.Name, Rules: []snapshot.Rule{}}
			if c.Hooknum != nil {
				sc.Hook = hookName(fam, *c.Hooknum)
				sc.Type = string(c.Type)
				if c.Priority != nil {
					sc.Priority = int(*c.Priority)
				}
				sc.Policy = "accept"
				if c.Policy != nil && *c.Policy == nftables.ChainPolicyDrop {
					sc.Policy = "drop"
				}
			}
			st.Chains = append(st.Chains, sc)
		}
		sets, err := conn.GetSets(t)
		if err != nil {
			return nil, fmt.Errorf("list sets of table %s %s: %w", fam, t.Name, err)
		}
		keyTypes, err := r.setKeyTypes(nl, t)
		if err != nil {
			return nil, err
		}
		for _, s := range sets {
			if kt, ok := keyTypes[s.Name]; ok {
				// google/nftables overwrites the key type of verdict maps
				// with "verdict": use the kernel's own.
				s.KeyType = kt
				s.Concatenation = s.Concatenation || len(nftables.ConcatSetTypeElements(kt)) > 1
			}
			elems, err := conn.GetSetElements(s)
			if err != nil {
				return nil, fmt.Errorf("list elements of set %s in table %s %s: %w", s.Name, fam, t.Name, err)
			}
			st.Sets = append(st.Sets, convertSet(s, elems))
		}
		if err := r.rules(nl, t, &st); err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// dumpTries is how often a dump the kernel marks interrupted (the ruleset
// changed while it was read: NLM_F_DUMP_INTR) is tried before giving up.
const dumpTries = 3

// dump runs a netlink dump, again when the kernel says the ruleset changed
// under it, and reports the inconsistency rather than use a torn dump.
func dump(execute func(netlink.Message) ([]netlink.Message, error), req netlink.Message) ([]netlink.Message, error) {
	for range dumpTries {
		msgs, err := execute(req)
		if err != nil {
			return nil, err
		}
		torn := false
		for _, m := range msgs {
			if m.Header.Flags&netlink.DumpInterrupted != 0 {
				torn = true
				break
			}
		}
		if !torn {
			return msgs, nil
		}
	}
	return nil, fmt.Errorf("the ruleset changed during each of %d dumps (NLM_F_DUMP_INTR); it is being rewritten, try again later", dumpTries)
}

// rules dumps the rules of one table and decodes every expression itself, so
// that none is silently dropped.
func (r *nftReader) rules(nl *netlink.Conn, t *nftables.Table, st *snapshot.Table) error {
	attrs, err := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.NFTA_RULE_TABLE, Data: []byte(t.Name + "\x00")}})
	if err != nil {
		return err
	}
	req := netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType((unix.NFNL_SUBSYS_NFTABLES << 8) | unix.NFT_MSG_GETRULE),
			Flags: netlink.Request | netlink.Dump,
		},
		Data: append([]byte{byte(t.Family), unix.NFNETLINK_V0, 0, 0}, attrs...),
	}
	msgs, err := dump(nl.Execute, req)
	if err != nil {
		return fmt.Errorf("dump rules of table %s %s: %w", st.Family, t.Name, err)
	}
	if r.seen += len(msgs); r.seen > MaxRules {
		return fmt.Errorf("the nftables ruleset holds more than %d rules, the most hostdrift reads; it was not read", MaxRules)
	}
	chainIdx := map[string]int{}
	for i, c := range st.Chains {
		chainIdx[c.Name] = i
	}
	setOf := func(name string) *snapshot.Set { return st.Set(name) }
	for _, m := range msgs {
		if len(m.Data) < 4 {
			continue
		}
		raw, err := parseRuleMsg(byte(t.Family), m.Data[4:])
		if err != nil {
			return fmt.Errorf("decode rule in table %s %s: %w", st.Family, t.Name, err)
		}
		ci, ok := chainIdx[raw.chain]
		if !ok {
			continue
		}
		rule := decodeRuleIn(st.Family, raw.exprs, setOf, r.links)
		rule.Handle = raw.handle
		rule.Comment = raw.comment
		c := &st.Chains[ci]
		rule.Position = len(c.Rules) + 1
		for _, x := range raw.exprs {
			if x.Name == "match" || x.Name == "target" {
				if r.xt == nil {
					r.xt, r.xtRules = map[string]bool{}, map[ruleRef]bool{}
				}
				r.xt[st.Family+"/"+st.Name] = true
				r.xtRules[ruleRef{st.Family, st.Name, c.Name, rule.Position}] = true
			}
		}
		rule.Text = nftText(&rule, st)
		c.Rules = append(c.Rules, rule)
	}
	return nil
}

// setKeyTypes dumps the sets of a table and returns each set's key type.
func (r *nftReader) setKeyTypes(nl *netlink.Conn, t *nftables.Table) (map[string]nftables.SetDatatype, error) {
	attrs, err := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.NFTA_SET_TABLE, Data: []byte(t.Name + "\x00")}})
	if err != nil {
		return nil, err
	}
	req := netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType((unix.NFNL_SUBSYS_NFTABLES << 8) | unix.NFT_MSG_GETSET),
			Flags: netlink.Request | netlink.Dump,
		},
		Data: append([]byte{byte(t.Family), unix.NFNETLINK_V0, 0, 0}, attrs...),
	}
	msgs, err := dump(nl.Execute, req)
	if err != nil {
		return nil, fmt.Errorf("dump sets of table %s: %w", t.Name, err)
	}
	out := map[string]nftables.SetDatatype{}
	for _, m := range msgs {
		if len(m.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[4:])
		if err != nil {
			return nil, err
		}
		ad.ByteOrder = binary.BigEndian
		var name string
		var magic, klen uint32
		for ad.Next() {
			switch ad.Type() {
			case unix.NFTA_SET_NAME:
				name = ad.String()
			case unix.NFTA_SET_KEY_TYPE:
				magic = ad.Uint32()
			case unix.NFTA_SET_KEY_LEN:
				klen = ad.Uint32()
			}
		}
		if ad.Err() != nil || name == "" {
			continue
		}
		if dt, ok := datatypeOf(magic, klen); ok {
			out[name] = dt
		}
	}
	return out, nil
}

// datatypes are nft's datatype magic numbers for the key types hostdrift reads.
var datatypes = map[uint32]nftables.SetDatatype{
	2: nftables.TypeNFProto, 4: nftables.TypeInteger, 5: nftables.TypeString, 7: nftables.TypeIPAddr, 8: nftables.TypeIP6Addr,
	9: nftables.TypeEtherAddr, 10: nftables.TypeEtherType, 12: nftables.TypeInetProto, 13: nftables.TypeInetService,
	14: nftables.TypeICMPType, 15: nftables.TypeTCPFlag, 19: nftables.TypeMark, 20: nftables.TypeIFIndex,
	26: nftables.TypeCTState, 28: nftables.TypeCTStatus, 29: nftables.TypeICMP6Type, 31: nftables.TypePktType,
	38: nftables.TypeFIBAddr, 41: nftables.TypeIFName,
}

func datatypeOf(magic, keyLen uint32) (nftables.SetDatatype, bool) {
	var types []nftables.SetDatatype
	for magic != 0 {
		dt, ok := datatypes[magic&0x3f]
		if !ok {
			return nftables.SetDatatype{}, false
		}
		types = append([]nftables.SetDatatype{dt}, types...)
		magic >>= 6
	}
	if len(types) == 1 {
		dt := types[0]
		if dt.Bytes == 0 {
			dt.Bytes = keyLen
		}
		return dt, true
	}
	dt, err := nftables.ConcatSetType(types...)
	if err != nil {
		return nftables.SetDatatype{}, false
	}
	return dt, true
}

type rawRule struct {
	chain   string
	handle  uint64
	comment string
	exprs   []Expr
}

func parseRuleMsg(fam byte, b []byte) (*rawRule, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return nil, err
	}
	ad.ByteOrder = binary.BigEndian
	r := &rawRule{}
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_RULE_CHAIN:
			r.chain = ad.String()
		case unix.NFTA_RULE_HANDLE:
			r.handle = ad.Uint64()
		case unix.NFTA_RULE_USERDATA:
			if c, ok := ruleComment(ad.Bytes()); ok {
				r.comment = c
			}
		case unix.NFTA_RULE_EXPRESSIONS:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					x, err := parseExpr(fam, nad.Bytes())
					if err != nil {
						return err
					}
					r.exprs = append(r.exprs, x)
				}
				return nil
			})
		}
	}
	return r, ad.Err()
}

// ruleComment returns the comment in a rule's user data, a list of
// type-length-value records. Any tool may write user data, and
// google/nftables' userdata.Get slices past the end of a truncated record,
// so the records are read here, bounds checked.
func ruleComment(udata []byte) (string, bool) {
	for len(udata) >= 2 {
		typ, n := userdata.Type(udata[0]), int(udata[1])
		if len(udata) < 2+n {
			return "", false
		}
		if typ == userdata.TypeComment {
			return strings.TrimSuffix(string(udata[2:2+n]), "\x00"), true
		}
		udata = udata[2+n:]
	}
	return "", false
}

func parseExpr(fam byte, b []byte) (Expr, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return Expr{}, err
	}
	ad.ByteOrder = binary.BigEndian
	var x Expr
	var data []byte
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_EXPR_NAME:
			x.Name = ad.String()
		case unix.NFTA_EXPR_DATA:
			data = ad.Bytes()
		}
	}
	if err := ad.Err(); err != nil {
		return Expr{}, err
	}
	e := newExpr(x.Name)
	if e == nil {
		x.Raw = data
		return x, nil
	}
	if x.Name == "notrack" {
		x.E = e
		return x, nil
	}
	if err := unmarshalExpr(fam, data, e); err != nil {
		// Keep the name and the attributes: the decoder reads what it
		// can (ct's direction) or marks the rule as not understood.
		x.Raw = data
		return x, nil
	}
	if imm, ok := e.(*expr.Immediate); ok && imm.Register == unix.NFT_REG_VERDICT && len(imm.Data) == 0 {
		v := &expr.Verdict{}
		if err := unmarshalExpr(fam, data, v); err != nil {
			return x, nil
		}
		e = v
	}
	x.E = e
	return x, nil
}

// unmarshalExpr decodes an expression with google/nftables, whose decoders
// index attribute data without checking its length (connlimit's count, for
// one): a malformed attribute marks the rule as not understood instead of
// crashing the collector.
func unmarshalExpr(fam byte, data []byte, e expr.Any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("google/nftables failed to decode %T: %v", e, r)
		}
	}()
	return expr.Unmarshal(fam, data, e)
}

// newExpr returns an empty expression of a type google/nftables decodes
// completely enough for the simulator; nil for everything else.
func newExpr(name string) expr.Any {
	switch name {
	case "ct":
		return &expr.Ct{}
	case "range":
		return &expr.Range{}
	case "meta":
		return &expr.Meta{}
	case "cmp":
		return &expr.Cmp{}
	case "counter":
		return &expr.Counter{}
	case "objref":
		return &expr.Objref{}
	case "payload":
		return &expr.Payload{}
	case "lookup":
		return &expr.Lookup{}
	case "immediate":
		return &expr.Immediate{}
	case "bitwise":
		return &expr.Bitwise{}
	case "redir":
		return &expr.Redir{}
	case "nat":
		return &expr.NAT{}
	case "limit":
		return &expr.Limit{}
	case "quota":
		return &expr.Quota{}
	case "dynset":
		return &expr.Dynset{}
	case "log":
		return &expr.Log{}
	case "exthdr":
		return &expr.Exthdr{}
	case "match":
		return &expr.Match{}
	case "target":
		return &expr.Target{}
	case "connlimit":
		return &expr.Connlimit{}
	case "queue":
		return &expr.Queue{}
	case "reject":
		return &expr.Reject{}
	case "masq":
		return &expr.Masq{}
	case "hash":
		return &expr.Hash{}
	case "fib":
		return &expr.Fib{}
	case "numgen":
		return &expr.Numgen{}
	case "notrack":
		return &expr.Notrack{}
	}
	return nil
}
