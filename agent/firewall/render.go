package firewall

import (
	"strings"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// nftText renders a decoded native rule the way `nft list ruleset` prints it,
// closely enough for an operator to recognise it.
func nftText(r *snapshot.Rule, table *snapshot.Table) string {
	var parts []string
	l4 := ""
	for i, m := range r.Matches {
		op := ""
		if m.Negate {
			op = "!= "
		}
		switch m.Op {
		case "lt":
			op = "< "
		case "le":
			op = "<= "
		case "gt":
			op = "> "
		case "ge":
			op = ">= "
		}
		vals := setText(m.Values)
		switch m.Field {
		case "nfproto":
			parts = append(parts, "meta nfproto "+op+vals)
		case "l4proto":
			if !m.Negate && len(m.Values) == 1 && i+1 < len(r.Matches) {
				switch r.Matches[i+1].Field {
				case "sport", "dport", "icmp_type", "icmp_code", "tcp_flags":
					l4 = m.Values[0]
					continue
				}
			}
			parts = append(parts, "meta l4proto "+op+vals)
		case "saddr", "daddr":
			fam := "ip"
			if len(m.Values) > 0 && strings.Contains(m.Values[0], ":") {
				fam = "ip6"
			}
			parts = append(parts, fam+" "+m.Field+" "+op+vals)
		case "sport", "dport":
			p := l4
			if p == "" {
				p = "th"
			}
			parts = append(parts, p+" "+m.Field+" "+op+vals)
		case "iif", "oif":
			q := make([]string, len(m.Values))
			for i, v := range m.Values {
				q[i] = `"` + v + `"`
			}
			parts = append(parts, m.Field+"name "+op+setText(q))
		case "ct_state", "ct_status", "ct_mark", "ct_direction":
			name := strings.Replace(m.Field, "_", " ", 1)
			parts = append(parts, name+" "+op+strings.Join(m.Values, ","))
		case "mark":
			parts = append(parts, "meta mark "+op+vals)
		case "pkttype":
			parts = append(parts, "meta pkttype "+op+vals)
		case "dst_type", "src_type":
			parts = append(parts, "fib "+m.Field[:1]+"addr type "+op+vals)
		case "icmp_type":
			p := l4
			if p == "" {
				p = "icmp"
			}
			parts = append(parts, p+" type "+op+vals)
		case "icmp_code":
			p := l4
			if p == "" {
				p = "icmp"
			}
			parts = append(parts, p+" code "+op+vals)
		case "tcp_flags":
			if len(m.Values) == 1 {
				mask, cmp, _ := strings.Cut(m.Values[0], "/")
				parts = append(parts, "tcp flags & ("+strings.ReplaceAll(mask, ",", "|")+") "+map[bool]string{true: "!=", false: "=="}[m.Negate]+" "+strings.ReplaceAll(cmp, ",", "|"))
			}
		case "set":
			parts = append(parts, keysText(m.Keys, l4)+" "+op+setRef(m.Set, table))
		case snapshot.FieldMayMatch:
			if len(m.Values) > 0 {
				parts = append(parts, m.Values[0])
			} else {
				parts = append(parts, "<"+m.Reason+">")
			}
		default:
			parts = append(parts, m.Field+" "+op+vals)
		}
	}
	for _, e := range r.Effects {
		switch e.Kind {
		case "counter", "log", "notrack":
			parts = append(parts, e.Kind)
		case "mark":
			parts = append(parts, "meta mark set "+e.Value)
		case "ct_mark":
			parts = append(parts, "ct mark set "+e.Value)
		case "set_update":
			parts = append(parts, "update "+e.Value)
		}
	}
	v := r.Verdict
	switch v.Kind {
	case snapshot.VerdictContinue:
	case snapshot.VerdictJump, snapshot.VerdictGoto:
		parts = append(parts, v.Kind+" "+v.Chain)
	case snapshot.VerdictDNAT, snapshot.VerdictSNAT:
		parts = append(parts, v.Kind+" to "+v.To)
	case snapshot.VerdictRedirect:
		if v.To != "" {
			parts = append(parts, "redirect to "+v.To)
		} else {
			parts = append(parts, "redirect")
		}
	case snapshot.VerdictMap:
		parts = append(parts, keysText(v.Keys, l4)+" vmap "+setRef(v.Set, table))
	case snapshot.VerdictUnknown:
		parts = append(parts, "<"+v.Reason+">")
	default:
		parts = append(parts, v.Kind)
	}
	for _, u := range r.Unsupported {
		parts = append(parts, "<"+u+">")
	}
	if r.Comment != "" {
		parts = append(parts, `comment "`+r.Comment+`"`)
	}
	return strings.Join(parts, " ")
}

func setText(vals []string) string {
	if len(vals) == 1 {
		return vals[0]
	}
	return "{ " + strings.Join(vals, ", ") + " }"
}

func keysText(keys []string, l4 string) string {
	out := make([]string, len(keys))
	for i, k := range keys {
		switch k {
		case "saddr", "daddr":
			out[i] = "ip " + k
		case "sport", "dport":
			p := l4
			if p == "" {
				p = "th"
			}
			out[i] = p + " " + k
		case "iif", "oif":
			out[i] = k + "name"
		case "l4proto":
			out[i] = "meta l4proto"
		case "ct_state":
			out[i] = "ct state"
		default:
			out[i] = strings.ReplaceAll(k, "_", " ")
		}
	}
	return strings.Join(out, " . ")
}

// setRef renders a named set as @name and an anonymous one inline.
func setRef(name string, table *snapshot.Table) string {
	if table != nil {
		if s := table.Set(name); s != nil && s.Anonymous {
			var elems []string
			for _, e := range s.Elements {
				k := strings.Join(e.Key, " . ")
				if e.Value != "" {
					k += " : " + e.Value
				}
				elems = append(elems, k)
			}
			return "{ " + strings.Join(elems, ", ") + " }"
		}
	}
	return "@" + name
}
