// Package diff compares two snapshots object by object: what was added,
// removed and changed since a baseline, field by field, with noise left out
// by the objects' identities and more ignored on request.
package diff

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// Schema names the version of the diff document.
const Schema = "hostdrift/diff/v1"

// Change operations.
const (
	Added   = "added"
	Removed = "removed"
	Changed = "changed"
)

// Diff is what changed between two snapshots.
type Diff struct {
	Schema string `json:"schema"`
	Old    Side   `json:"old"`
	New    Side   `json:"new"`
	// Areas says, per area, whether it was compared and how many objects
	// each side held.
	Areas   []Area   `json:"areas"`
	Changes []Change `json:"changes"`
	// Ignored counts the changes that ignore rules dropped, per rule name.
	Ignored map[string]int `json:"ignored,omitempty"`
}

// Side describes one of the two snapshots.
type Side struct {
	Source  string    `json:"source,omitempty"`
	Host    string    `json:"host"`
	TakenAt time.Time `json:"taken_at"`
}

// Area is one area's comparison. An area whose collector was not usable on
// either side is not compared: NotCompared says why, and no change is
// reported for it (a failed collector is not an empty firewall).
type Area struct {
	Name        string `json:"name"`
	Compared    bool   `json:"compared"`
	NotCompared string `json:"not_compared,omitempty"`
	OldObjects  int    `json:"old_objects"`
	NewObjects  int    `json:"new_objects"`
}

// Change is one object added, removed or changed.
type Change struct {
	Op   string `json:"op"`
	Area string `json:"area"`
	Kind string `json:"kind"`
	ID   string `json:"id"`
	// Fields lists, for changed objects, each field that differs; for added
	// and removed objects, the object's fields (Old or New empty).
	Fields []FieldChange `json:"fields,omitempty"`
}

// FieldChange is one field's old and new value; a missing field is "".
type FieldChange struct {
	Name string `json:"name"`
	Old  string `json:"old,omitempty"`
	New  string `json:"new,omitempty"`
}

// Ignore drops changes of matching objects. Area is required; Kind and
// each Match value are globs (* any run of characters, ? one, [...] a class); Match keys
// are object field names, or "id" for the object's identity.
type Ignore struct {
	Name  string
	Area  string
	Kind  string
	Match map[string]string
}

// Matches reports whether the object falls under the ignore rule.
func (ig Ignore) Matches(o snapshot.Object) bool {
	if ig.Area != o.Area {
		return false
	}
	if ig.Kind != "" && !glob(ig.Kind, o.Kind) {
		return false
	}
	for k, pat := range ig.Match {
		v, ok := o.Fields[k]
		if k == "id" {
			v, ok = o.ID, true
		}
		if !ok || !glob(pat, v) {
			return false
		}
	}
	return true
}

// glob matches s against a shell-style pattern: * is any run of
// characters (slashes too: rules hold CIDRs), ? one character, [...] a class.
func glob(pattern, s string) bool {
	re, err := globRegexp(pattern)
	return err == nil && re.MatchString(s)
}

var globCache sync.Map // pattern -> *regexp.Regexp

func globRegexp(pattern string) (*regexp.Regexp, error) {
	if re, ok := globCache.Load(pattern); ok {
		return re.(*regexp.Regexp), nil
	}
	var b strings.Builder
	b.WriteString(`^`)
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		case '[':
			end := strings.IndexByte(pattern[i+1:], ']')
			if end < 0 {
				return nil, fmt.Errorf("unclosed [ in %q", pattern)
			}
			class := pattern[i+1 : i+1+end]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += end + 1
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`$`)
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("%q is not a valid pattern: %w", pattern, err)
	}
	globCache.Store(pattern, re)
	return re, nil
}

// ValidatePattern reports a malformed glob.
func ValidatePattern(p string) error {
	_, err := globRegexp(p)
	return err
}

// Options tune a comparison.
type Options struct {
	Ignore []Ignore
	// Areas, when set, limits the comparison to these areas.
	Areas []string
	// OldSource and NewSource name the files compared, for the report.
	OldSource, NewSource string
}

// Compare lists the changes from old to new.
func Compare(old, new *snapshot.Snapshot, o Options) *Diff {
	d := &Diff{
		Schema:  Schema,
		Old:     Side{Source: o.OldSource, Host: old.Host.Hostname, TakenAt: old.TakenAt},
		New:     Side{Source: o.NewSource, Host: new.Host.Hostname, TakenAt: new.TakenAt},
		Changes: []Change{},
	}
	oldAreas, newAreas := old.Areas(), new.Areas()
	for i := range oldAreas {
		oa, na := oldAreas[i], newAreas[i]
		if len(o.Areas) > 0 && !slices.Contains(o.Areas, oa.Area) {
			continue
		}
		if !oa.Ran && !na.Ran {
			continue // neither snapshot looked at this area
		}
		a := Area{Name: oa.Area, OldObjects: len(oa.Objects), NewObjects: len(na.Objects)}
		switch {
		case !oa.Usable && !na.Usable:
			a.NotCompared = "old: " + oa.Reason + "; new: " + na.Reason
		case !oa.Usable:
			a.NotCompared = "old: " + oa.Reason
		case !na.Usable:
			a.NotCompared = "new: " + na.Reason
		default:
			a.Compared = true
			d.Changes = append(d.Changes, compareArea(oa.Objects, na.Objects, o.Ignore, d)...)
		}
		d.Areas = append(d.Areas, a)
	}
	return d
}

func compareArea(old, new []snapshot.Object, ignores []Ignore, d *Diff) []Change {
	type key struct{ kind, id string }
	oldBy := make(map[key]snapshot.Object, len(old))
	for _, o := range old {
		oldBy[key{o.Kind, o.ID}] = o
	}
	var out []Change
	seen := make(map[key]bool, len(new))
	moved := movedRules(old, new)
	for _, n := range new {
		k := key{n.Kind, n.ID}
		seen[k] = true
		o, had := oldBy[k]
		var c Change
		switch {
		case !had && n.OnRequest:
			continue
		case !had:
			c = Change{Op: Added, Area: n.Area, Kind: n.Kind, ID: n.ID, Fields: fieldChanges(nil, n.Fields)}
		default:
			fc := fieldChanges(o.Fields, n.Fields)
			if n.Kind == "rule" && !moved[n.ID] {
				fc = slices.DeleteFunc(fc, func(f FieldChange) bool { return f.Name == "follows" })
			}
			if len(fc) == 0 {
				continue
			}
			c = Change{Op: Changed, Area: n.Area, Kind: n.Kind, ID: n.ID, Fields: fc}
		}
		if ignoredBy(ignores, n, o, had, d) {
			continue
		}
		out = append(out, c)
	}
	for _, o := range old {
		if seen[key{o.Kind, o.ID}] || o.OnRequest {
			continue
		}
		if ignoredBy(ignores, o, o, true, d) {
			continue
		}
		out = append(out, Change{Op: Removed, Area: o.Area, Kind: o.Kind, ID: o.ID, Fields: fieldChanges(o.Fields, nil)})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// movedRules lists the rules (by ID) whose order changed relative to the
// rules present on both sides: a rule inserted, appended or deleted moves
// none of the others, and a rule moved is the one change, not its
// neighbours too. In each chain the rules both sides hold keep their
// place when they are in a longest run that keeps its order (the longest
// increasing subsequence of their old positions, in new order); the
// others moved.
func movedRules(old, new []snapshot.Object) map[string]bool {
	chainOf := func(o snapshot.Object) string {
		return o.Fields["backend"] + " " + o.Fields["family"] + " " + o.Fields["table"] + " " + o.Fields["chain"]
	}
	oldPos := map[string]int{} // rule ID -> position among its chain's old rules
	oldChain := map[string]string{}
	n := map[string]int{}
	for _, o := range old {
		if o.Kind == "rule" {
			c := chainOf(o)
			oldPos[o.ID], oldChain[o.ID] = n[c], c
			n[c]++
		}
	}
	byChain := map[string][]string{} // chain -> new order of the rules both sides hold
	var chains []string
	for _, o := range new {
		if _, ok := oldPos[o.ID]; o.Kind != "rule" || !ok || oldChain[o.ID] != chainOf(o) {
			continue
		}
		c := chainOf(o)
		if _, ok := byChain[c]; !ok {
			chains = append(chains, c)
		}
		byChain[c] = append(byChain[c], o.ID)
	}
	moved := map[string]bool{}
	for _, c := range chains {
		ids := byChain[c]
		seq := make([]int, len(ids))
		for i, id := range ids {
			seq[i] = oldPos[id]
		}
		keep := longestIncreasing(seq)
		for i, id := range ids {
			if !keep[i] {
				moved[id] = true
			}
		}
	}
	return moved
}

// longestIncreasing marks the elements of one longest strictly increasing
// subsequence of seq (patience sorting, n log n: chains may hold
// thousands of rules).
func longestIncreasing(seq []int) []bool {
	tails := []int{}              // tails[k]: index in seq of the smallest tail of a run of length k+1
	prev := make([]int, len(seq)) // prev[i]: index before i in its run, -1 at the start
	for i, v := range seq {
		k := sort.Search(len(tails), func(k int) bool { return seq[tails[k]] >= v })
		prev[i] = -1
		if k > 0 {
			prev[i] = tails[k-1]
		}
		if k == len(tails) {
			tails = append(tails, i)
		} else {
			tails[k] = i
		}
	}
	keep := make([]bool, len(seq))
	if len(tails) > 0 {
		for i := tails[len(tails)-1]; i >= 0; i = prev[i] {
			keep[i] = true
		}
	}
	return keep
}

// ignoredBy applies the ignore rules to an object, old or new: a change is
// ignored when either side matches, so an ignored chain's rules are ignored
// both when they appear and when they go.
func ignoredBy(ignores []Ignore, n, o snapshot.Object, hadOld bool, d *Diff) bool {
	for _, ig := range ignores {
		if ig.Matches(n) || (hadOld && ig.Matches(o)) {
			if d.Ignored == nil {
				d.Ignored = map[string]int{}
			}
			d.Ignored[ig.Name]++
			return true
		}
	}
	return false
}

// fieldChanges lists the fields that differ, sorted by name.
func fieldChanges(old, new map[string]string) []FieldChange {
	var out []FieldChange
	for k, nv := range new {
		if ov := old[k]; ov != nv {
			out = append(out, FieldChange{Name: k, Old: ov, New: nv})
		}
	}
	for k, ov := range old {
		if _, ok := new[k]; !ok {
			out = append(out, FieldChange{Name: k, Old: ov})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Counts returns the number of added, removed and changed objects.
func (d *Diff) Counts() (added, removed, changed int) {
	for _, c := range d.Changes {
		switch c.Op {
		case Added:
			added++
		case Removed:
			removed++
		case Changed:
			changed++
		}
	}
	return
}

// Incomplete lists the areas that could not be compared.
func (d *Diff) Incomplete() []Area {
	var out []Area
	for _, a := range d.Areas {
		if !a.Compared {
			out = append(out, a)
		}
	}
	return out
}

// Summary is one line saying what changed, for the table and for findings.
func (c Change) Summary() string {
	var b strings.Builder
	b.WriteString(c.Area + " " + c.Kind + " " + c.Op + ": " + c.ID)
	if c.Op == Changed {
		parts := make([]string, 0, len(c.Fields))
		for _, f := range c.Fields {
			parts = append(parts, f.Name+" "+f.Transition())
		}
		b.WriteString(" (" + strings.Join(parts, "; ") + ")")
	}
	return b.String()
}

// Transition shows the field's old and new values, "" for an empty one.
func (f FieldChange) Transition() string {
	return quoteEmpty(f.Old) + " -> " + quoteEmpty(f.New)
}

func quoteEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}
