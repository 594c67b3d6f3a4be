package firewall

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path"
	"sort"
	"strings"

	"github.com/hostdrift/hostdrift/agent"
	"github.com/hostdrift/hostdrift/internal/snapshot"
	"github.com/hostdrift/hostdrift/internal/sys/hostfs"
)

// firewalld writes its nftables ruleset into one table, inet firewalld,
// with a chain per zone and direction (filter_IN_public) that jumps to
// five chains (_pre, _log, _deny, _allow, _post) holding the rules made
// from the zone's services, ports and rich rules. The kernel keeps no trace
// of which item made a rule, so it is told from firewalld's configuration:
// the rules each item of a zone makes are predicted, and a chain's rules
// are named after the items only when the chain holds exactly the predicted
// rules. Otherwise (the running firewalld was changed without --permanent,
// or the zone uses something not predicted here) its rules are only said
// to be the zone's, from the chain's name.

// The files firewalld's configuration is read from: /etc/firewalld
// overrides the package's defaults in /usr/lib/firewalld, file by file.
const (
	firewalldConf     = "/etc/firewalld/firewalld.conf"
	firewalldEtc      = "/etc/firewalld"
	firewalldLib      = "/usr/lib/firewalld"
	firewalldTable    = "firewalld"
	firewalldMaxBytes = 1 << 20
)

// firewalldReads are the files and folders of firewalld's configuration.
func firewalldReads() []agent.Path {
	paths := []agent.Path{agent.File(firewalldConf)}
	for _, kind := range []string{"zones", "services"} {
		paths = append(paths, agent.Folder(path.Join(firewalldEtc, kind)), agent.Folder(path.Join(firewalldLib, kind)))
	}
	return paths
}

// Reads declares firewalld's configuration, which names the zone, service,
// port or rich rule behind each rule of firewalld's table.
func (*Collector) Reads() []agent.Path { return firewalldReads() }

// zoneSuffixes are the chains a zone's chain jumps to, in firewalld's words.
var zoneSuffixes = []string{"pre", "log", "deny", "allow", "post"}

// fwdPort is a <port> element: a port or range and its protocol.
type fwdPort struct {
	Port     string `xml:"port,attr"`
	Protocol string `xml:"protocol,attr"`
}

// fwdValue is an element whose one attribute is its value.
type fwdValue struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// fwdAddr is a rich rule's <source> or <destination>.
type fwdAddr struct {
	Address string `xml:"address,attr"`
	Mac     string `xml:"mac,attr"`
	Ipset   string `xml:"ipset,attr"`
	Invert  string `xml:"invert,attr"`
}

// fwdAction is a rich rule's <accept>, <reject> or <drop>.
type fwdAction struct {
	Type  string    `xml:"type,attr"`
	Limit *fwdValue `xml:"limit"`
}

// fwdRich is a zone's <rule>, a rich rule.
type fwdRich struct {
	Family      string     `xml:"family,attr"`
	Priority    int        `xml:"priority,attr"`
	Source      *fwdAddr   `xml:"source"`
	Destination *fwdAddr   `xml:"destination"`
	Service     *fwdValue  `xml:"service"`
	Port        *fwdPort   `xml:"port"`
	Protocol    *fwdValue  `xml:"protocol"`
	Log         *struct{}  `xml:"log"`
	Audit       *struct{}  `xml:"audit"`
	Accept      *fwdAction `xml:"accept"`
	Reject      *fwdAction `xml:"reject"`
	Drop        *fwdAction `xml:"drop"`
	// Elements and actions not predicted here: a zone holding one is
	// attributed by its chains' names only.
	Other []xml.Name `xml:",any"`
}

// fwdZone is a zone file.
type fwdZone struct {
	Target    string     `xml:"target,attr"`
	Services  []fwdValue `xml:"service"`
	Ports     []fwdPort  `xml:"port"`
	Protocols []fwdValue `xml:"protocol"`
	Rules     []fwdRich  `xml:"rule"`
}

// fwdService is a service file.
type fwdService struct {
	Ports       []fwdPort  `xml:"port"`
	Protocols   []fwdValue `xml:"protocol"`
	SourcePorts []fwdPort  `xml:"source-port"`
	Includes    []struct {
		Service string `xml:"service,attr"`
	} `xml:"include"`
	Destination *struct {
		IPv4 string `xml:"ipv4,attr"`
		IPv6 string `xml:"ipv6,attr"`
	} `xml:"destination"`
}

// firewalldConfig is what was read of firewalld's configuration.
type firewalldConfig struct {
	defaultZone, backend string
	zones                map[string]*fwdZone
	services             map[string]*fwdService
	problems             []string
}

// readFirewalldConfig reads firewalld.conf, the zones and the services
// through fsys; what cannot be read or parsed is a problem, not an error:
// the rules are then attributed to their zones only.
func readFirewalldConfig(fsys *hostfs.FS) *firewalldConfig {
	cfg := &firewalldConfig{zones: map[string]*fwdZone{}, services: map[string]*fwdService{}}
	if data, err := fsys.ReadFile(firewalldConf, firewalldMaxBytes); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
			switch {
			case !ok || strings.HasPrefix(k, "#"):
			case k == "DefaultZone":
				cfg.defaultZone = strings.TrimSpace(v)
			case k == "FirewallBackend":
				cfg.backend = strings.TrimSpace(v)
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		cfg.problems = append(cfg.problems, fmt.Sprintf("read %s: %v", firewalldConf, err))
	}
	readFirewalldDir(fsys, cfg, "zones", func(name string, data []byte) error {
		z := &fwdZone{}
		if err := xml.Unmarshal(data, z); err != nil {
			return err
		}
		cfg.zones[name] = z
		return nil
	})
	readFirewalldDir(fsys, cfg, "services", func(name string, data []byte) error {
		s := &fwdService{}
		if err := xml.Unmarshal(data, s); err != nil {
			return err
		}
		cfg.services[name] = s
		return nil
	})
	return cfg
}

// readFirewalldDir parses each NAME.xml of kind, /etc/firewalld's copy
// winning over /usr/lib/firewalld's.
func readFirewalldDir(fsys *hostfs.FS, cfg *firewalldConfig, kind string, parse func(name string, data []byte) error) {
	files := map[string]string{}
	for _, dir := range []string{path.Join(firewalldLib, kind), path.Join(firewalldEtc, kind)} {
		entries, err := fsys.ReadDir(dir)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				cfg.problems = append(cfg.problems, fmt.Sprintf("read %s: %v", dir, err))
			}
			continue
		}
		for _, e := range entries {
			if name, ok := strings.CutSuffix(e.Name(), ".xml"); ok && !e.IsDir() {
				files[name] = path.Join(dir, e.Name())
			}
		}
	}
	for name, file := range files {
		data, err := fsys.ReadFile(file, firewalldMaxBytes)
		if err == nil {
			err = parse(name, data)
		}
		if err != nil {
			cfg.problems = append(cfg.problems, fmt.Sprintf("%s: %v", file, err))
		}
	}
}

// zoneOfChain names the zone or policy a chain of firewalld's table
// belongs to, from its name, and the sub-chain suffix ("" for the zone's
// own chain): filter_IN_public_allow is zone public's "allow".
func zoneOfChain(chain string, zones []string) (origin, zone, suffix string) {
	for _, dir := range []string{"filter_IN_", "filter_FWD_", "filter_OUT_"} {
		rest, ok := strings.CutPrefix(chain, dir)
		if !ok {
			continue
		}
		for _, s := range zoneSuffixes {
			if base, ok := strings.CutSuffix(rest, "_"+s); ok && !contains(zones, rest) {
				rest, suffix = base, s
				break
			}
		}
		if p, ok := strings.CutPrefix(rest, "policy_"); ok {
			return "firewalld policy " + p, "", suffix
		}
		if dir == "filter_OUT_" {
			return "", "", ""
		}
		return "firewalld zone " + rest, rest, suffix
	}
	return "", "", ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// attributeFirewalld names the origin of firewalld's chains and rules in
// fw's native table inet firewalld, from the configuration below fsys.
func attributeFirewalld(fw *snapshot.Firewall, fsys *hostfs.FS) {
	var t *snapshot.Table
	for i := range fw.Tables {
		if tb := &fw.Tables[i]; tb.Backend == snapshot.BackendNftables && tb.Family == "inet" && tb.Name == firewalldTable {
			t = tb
		}
	}
	if t == nil {
		return
	}
	cfg := readFirewalldConfig(fsys)
	info := &snapshot.Firewalld{DefaultZone: cfg.defaultZone, Backend: cfg.backend, Notes: cfg.problems}
	fw.Firewalld = info
	known := make([]string, 0, len(cfg.zones))
	for z := range cfg.zones {
		known = append(known, z)
	}
	active := map[string]bool{}
	for i := range t.Chains {
		c := &t.Chains[i]
		origin, zone, _ := zoneOfChain(c.Name, known)
		c.Origin = origin
		for j := range c.Rules {
			if origin != "" && c.Rules[j].Verdict.Kind != snapshot.VerdictJump && c.Rules[j].Verdict.Kind != snapshot.VerdictGoto {
				c.Rules[j].Origin = origin // the zone's, until told better
			}
		}
		if zone != "" && strings.HasPrefix(c.Name, "filter_IN_") {
			active[zone] = true
		}
	}
	for z := range active {
		info.Zones = append(info.Zones, z)
	}
	sort.Strings(info.Zones)
	if cfg.backend != "" && cfg.backend != "nftables" {
		info.Notes = append(info.Notes, fmt.Sprintf("firewalld.conf says FirewallBackend=%s, yet table inet firewalld is in the kernel: its rules are named by zone only", cfg.backend))
		return
	}
	for _, zone := range info.Zones {
		z, ok := cfg.zones[zone]
		if !ok {
			info.Notes = append(info.Notes, fmt.Sprintf("zone %s has chains in the kernel but its configuration was not read (no readable file in %s/zones or %s/zones): its rules are named by zone only", zone, firewalldEtc, firewalldLib))
			continue
		}
		attributeZone(t, zone, z, cfg, info)
	}
}

// attributeZone names each rule of zone's input chains after the items
// that made it, in the chains that hold exactly the predicted rules.
func attributeZone(t *snapshot.Table, zone string, z *fwdZone, cfg *firewalldConfig, info *snapshot.Firewalld) {
	if c := t.Chain("filter_IN_" + zone); c != nil && len(c.Rules) > 0 {
		if last := &c.Rules[len(c.Rules)-1]; len(last.Matches) == 0 && last.Verdict.Kind == targetVerdict(z.Target) {
			last.Origin = fmt.Sprintf("firewalld zone %s, target %s (what no service, port or rich rule of the zone accepts)", zone, targetName(z.Target))
		}
	}
	pred, unknown := predictZone(z, cfg)
	for _, s := range zoneSuffixes {
		c := t.Chain("filter_IN_" + zone + "_" + s)
		if c == nil {
			continue
		}
		zoneOnly := "firewalld zone " + zone
		if unknown != "" {
			if len(c.Rules) > 0 {
				info.Notes = append(info.Notes, fmt.Sprintf("chain %s: named by zone only: %s", c.Name, unknown))
			}
			continue
		}
		if why := matchPredicted(c, zone, pred[s]); why != "" {
			info.Notes = append(info.Notes, fmt.Sprintf("chain %s: named by zone only: %s (the running firewalld may differ from its permanent configuration)", c.Name, why))
			for i := range c.Rules {
				c.Rules[i].Origin = zoneOnly
			}
		}
	}
}

// targetVerdict is the verdict of the rule that ends a zone's input chain
// for its target: default rejects, like %%REJECT%%.
func targetVerdict(target string) string {
	switch target {
	case "", "default", "%%REJECT%%", "REJECT":
		return snapshot.VerdictReject
	case "DROP":
		return snapshot.VerdictDrop
	case "ACCEPT":
		return snapshot.VerdictAccept
	}
	return ""
}

// targetName is a zone's target as firewall-cmd --list-all prints it.
func targetName(target string) string {
	if target == "" {
		return "default"
	}
	return target
}

// predicted is one rule an item of a zone makes: its conditions, as
// ruleKey spells a rule's, its verdict, and the item in words.
type predicted struct {
	key, verdict, item string
}

// predictZone lists the rules the zone's services, ports, protocols and
// rich rules make, by sub-chain; unknown says what in the zone is not
// predicted here, and then nothing is.
func predictZone(z *fwdZone, cfg *firewalldConfig) (map[string][]predicted, string) {
	pred := map[string][]predicted{}
	for _, sv := range z.Services {
		rules, why := predictService(sv.Name, cfg, nil)
		if why != "" {
			return nil, why
		}
		for _, k := range rules {
			pred["allow"] = append(pred["allow"], predicted{k, snapshot.VerdictAccept, "service " + sv.Name})
		}
	}
	for _, p := range z.Ports {
		pred["allow"] = append(pred["allow"], predicted{portKey(p, ""), snapshot.VerdictAccept, "port " + p.Port + "/" + p.Protocol})
	}
	for _, p := range z.Protocols {
		pred["allow"] = append(pred["allow"], predicted{keyOf("l4proto=" + p.Value), snapshot.VerdictAccept, "protocol " + p.Value})
	}
	for i := range z.Rules {
		r := &z.Rules[i]
		suffix, keys, verdict, why := predictRich(r, cfg)
		if why != "" {
			return nil, fmt.Sprintf("rich rule '%s' %s", richText(r), why)
		}
		for _, k := range keys {
			pred[suffix] = append(pred[suffix], predicted{k, verdict, "rich rule '" + richText(r) + "'"})
		}
	}
	return pred, ""
}

// predictService returns the condition keys of the rules a service makes
// (one per port and protocol, and per destination family), following its
// includes.
func predictService(name string, cfg *firewalldConfig, seen []string) ([]string, string) {
	s, ok := cfg.services[name]
	if !ok {
		return nil, fmt.Sprintf("service %s has no file in %s/services or %s/services", name, firewalldEtc, firewalldLib)
	}
	if len(s.SourcePorts) > 0 {
		return nil, fmt.Sprintf("service %s has source ports, which are not predicted here", name)
	}
	var dests []string
	if d := s.Destination; d != nil {
		for _, a := range []string{d.IPv4, d.IPv6} {
			if a != "" {
				dests = append(dests, a)
			}
		}
	}
	if len(dests) == 0 {
		dests = []string{""}
	}
	var keys []string
	for _, dst := range dests {
		for _, p := range s.Ports {
			keys = append(keys, portKey(p, dst))
		}
		for _, p := range s.Protocols {
			keys = append(keys, keyOf(append(addrConds("daddr", dst, false), "l4proto="+p.Value)...))
		}
	}
	for _, inc := range s.Includes {
		if contains(seen, inc.Service) || inc.Service == name {
			continue
		}
		more, why := predictService(inc.Service, cfg, append(seen, name))
		if why != "" {
			return nil, why
		}
		keys = append(keys, more...)
	}
	return keys, ""
}

// predictRich returns the sub-chain, condition keys and verdict of the
// rules a rich rule makes, or why it is not predicted here.
func predictRich(r *fwdRich, cfg *firewalldConfig) (suffix string, keys []string, verdict, why string) {
	if len(r.Other) > 0 {
		return "", nil, "", fmt.Sprintf("holds <%s>, which is not predicted here", r.Other[0].Local)
	}
	if r.Log != nil || r.Audit != nil {
		return "", nil, "", "logs, which is not predicted here"
	}
	switch {
	case r.Accept != nil:
		verdict, suffix = snapshot.VerdictAccept, "allow"
	case r.Reject != nil:
		verdict, suffix = snapshot.VerdictReject, "deny"
	case r.Drop != nil:
		verdict, suffix = snapshot.VerdictDrop, "deny"
	default:
		return "", nil, "", "has no accept, reject or drop action"
	}
	if r.Priority < 0 {
		suffix = "pre"
	} else if r.Priority > 0 {
		suffix = "post"
	}
	var base []string
	if r.Family != "" {
		base = append(base, "nfproto="+r.Family)
	}
	for _, a := range []struct {
		field string
		addr  *fwdAddr
	}{{"daddr", r.Destination}, {"saddr", r.Source}} {
		if a.addr == nil {
			continue
		}
		if a.addr.Address == "" {
			return "", nil, "", "matches a MAC address or an ipset, which is not predicted here"
		}
		base = append(base, addrConds(a.field, a.addr.Address, a.addr.Invert == "True" || a.addr.Invert == "true")...)
	}
	switch {
	case r.Port != nil:
		keys = []string{keyOf(append(base, portConds(*r.Port)...)...)}
	case r.Protocol != nil:
		keys = []string{keyOf(append(base, "l4proto="+r.Protocol.Value)...)}
	case r.Service != nil:
		svc, why := predictService(r.Service.Name, cfg, nil)
		if why != "" {
			return "", nil, "", why
		}
		for _, k := range svc {
			keys = append(keys, keyOf(append(strings.Split(k, " "), base...)...))
		}
	default:
		keys = []string{keyOf(base...)}
	}
	return suffix, keys, verdict, ""
}

// richText spells a rich rule as firewall-cmd --list-rich-rules does, for
// the parts predicted here.
func richText(r *fwdRich) string {
	parts := []string{"rule"}
	if r.Priority != 0 {
		parts = append(parts, fmt.Sprintf("priority=%q", fmt.Sprint(r.Priority)))
	}
	if r.Family != "" {
		parts = append(parts, fmt.Sprintf("family=%q", r.Family))
	}
	addr := func(word string, a *fwdAddr) {
		if a == nil {
			return
		}
		s := word
		if a.Invert == "True" || a.Invert == "true" {
			s += " NOT"
		}
		switch {
		case a.Address != "":
			s += fmt.Sprintf(" address=%q", a.Address)
		case a.Mac != "":
			s += fmt.Sprintf(" mac=%q", a.Mac)
		case a.Ipset != "":
			s += fmt.Sprintf(" ipset=%q", a.Ipset)
		}
		parts = append(parts, s)
	}
	addr("source", r.Source)
	addr("destination", r.Destination)
	switch {
	case r.Service != nil:
		parts = append(parts, fmt.Sprintf("service name=%q", r.Service.Name))
	case r.Port != nil:
		parts = append(parts, fmt.Sprintf("port port=%q protocol=%q", r.Port.Port, r.Port.Protocol))
	case r.Protocol != nil:
		parts = append(parts, fmt.Sprintf("protocol value=%q", r.Protocol.Value))
	}
	action := func(word string, a *fwdAction) {
		if a == nil {
			return
		}
		s := word
		if a.Type != "" {
			s += fmt.Sprintf(" type=%q", a.Type)
		}
		if a.Limit != nil {
			s += fmt.Sprintf(" limit value=%q", a.Limit.Value)
		}
		parts = append(parts, s)
	}
	action("accept", r.Accept)
	action("reject", r.Reject)
	action("drop", r.Drop)
	return strings.Join(parts, " ")
}

// portKey is the key of the rule a <port> makes, to dst when set.
func portKey(p fwdPort, dst string) string {
	return keyOf(append(addrConds("daddr", dst, false), portConds(p)...)...)
}

// portConds are the conditions of a port or range: "l4proto=tcp dport=22",
// a range as the decoder reads it, two bounds.
func portConds(p fwdPort) []string {
	conds := []string{"l4proto=" + p.Protocol}
	if lo, hi, ok := strings.Cut(p.Port, "-"); ok && lo != hi {
		return append(conds, "dport>="+lo, "dport<="+hi)
	} else if ok {
		return append(conds, "dport="+lo)
	}
	return append(conds, "dport="+p.Port)
}

// addrConds are the conditions of an address match: its family and the
// address, as the decoder reads them.
func addrConds(field, addr string, invert bool) []string {
	if addr == "" {
		return nil
	}
	v, fam := normAddr(addr)
	neg := ""
	if invert {
		neg = "!"
	}
	return []string{"nfproto=" + fam, neg + field + "=" + v}
}

// normAddr spells an address or prefix one way, with its family.
func normAddr(s string) (string, string) {
	fam := "ipv4"
	if strings.Contains(s, ":") {
		fam = "ipv6"
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		p = p.Masked()
		if p.IsSingleIP() {
			return p.Addr().String(), fam
		}
		return p.String(), fam
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String(), fam
	}
	return s, fam
}

// keyOf makes a key from conditions: sorted, each once.
func keyOf(conds ...string) string {
	sort.Strings(conds)
	out := conds[:0]
	for i, c := range conds {
		if c != "" && (i == 0 || c != conds[i-1]) {
			out = append(out, c)
		}
	}
	return strings.Join(out, " ")
}

// ruleKey spells a rule's conditions as predictions are spelled, leaving
// out what firewalld adds to every rule of a kind (the connection state
// new or untracked) and rate limits; ok is false when the rule holds a
// condition no prediction spells (a set lookup, say).
func ruleKey(r *snapshot.Rule) (string, bool) {
	var conds []string
	for _, m := range r.Matches {
		switch {
		case m.Field == "ct_state" || m.Field == snapshot.FieldAssume:
			continue
		case m.Field == "set" && len(m.Keys) == 1 && m.Keys[0] == "ct_state":
			continue
		case len(m.Values) != 1 || m.Set != "":
			return "", false
		}
		neg := ""
		if m.Negate {
			neg = "!"
		}
		op := "="
		switch m.Op {
		case "ge":
			op = ">="
		case "le":
			op = "<="
		case "", "eq":
		default:
			return "", false
		}
		v := m.Values[0]
		if m.Field == "saddr" || m.Field == "daddr" {
			v, _ = normAddr(v)
		}
		conds = append(conds, neg+m.Field+op+v)
	}
	if len(r.Unsupported) > 0 {
		return "", false
	}
	return keyOf(conds...), true
}

// matchPredicted names each rule of c after the predicted items that make
// it, when c holds exactly the predicted rules (as many of each); else it
// says what differs and names nothing.
func matchPredicted(c *snapshot.Chain, zone string, pred []predicted) string {
	want := map[string][]string{} // key+verdict -> items
	for _, p := range pred {
		k := p.key + " -> " + p.verdict
		want[k] = append(want[k], p.item)
	}
	got := map[string]int{}
	keys := make([]string, len(c.Rules))
	for i := range c.Rules {
		k, ok := ruleKey(&c.Rules[i])
		if !ok {
			return fmt.Sprintf("rule %q holds conditions firewalld's items are not predicted to make", c.Rules[i].Text)
		}
		keys[i] = k + " -> " + c.Rules[i].Verdict.Kind
		if _, ok := want[keys[i]]; !ok {
			return fmt.Sprintf("no service, port or rich rule of the zone makes rule %q", c.Rules[i].Text)
		}
		got[keys[i]]++
	}
	for k, items := range want {
		if got[k] != len(items) {
			return fmt.Sprintf("the chain holds %d rules made by %s, the configuration %d", got[k], strings.Join(items, " and "), len(items))
		}
	}
	for i := range c.Rules {
		c.Rules[i].Origin = fmt.Sprintf("firewalld zone %s, %s", zone, joinItems(want[keys[i]]))
	}
	return ""
}

// joinItems joins the items that make one rule: "service http and port
// 80/tcp", each once.
func joinItems(items []string) string {
	var out []string
	for _, it := range items {
		if !contains(out, it) {
			out = append(out, it)
		}
	}
	return strings.Join(out, " and ")
}
