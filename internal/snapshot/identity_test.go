package snapshot

import "testing"

// TestIPSetObjects: an ipset is followed by name, its members by a digest
// that does not depend on the kernel's listing order; sets whose members
// expire are not compared by content.
func TestIPSetObjects(t *testing.T) {
	objs := func(sets ...IPSet) map[string]Object {
		out := map[string]Object{}
		for _, o := range (&Firewall{IPSets: sets}).Objects() {
			out[o.ID] = o
		}
		return out
	}
	a := objs(IPSet{Name: "nets", Type: "hash:net", Family: "inet", Members: []IPSetMember{{Key: []string{"10.0.0.0/8"}}, {Key: []string{"10.1.0.0/16"}, NoMatch: true}}})
	b := objs(IPSet{Name: "nets", Type: "hash:net", Family: "inet", Members: []IPSetMember{{Key: []string{"10.1.0.0/16"}, NoMatch: true}, {Key: []string{"10.0.0.0/8"}}}})
	c := objs(IPSet{Name: "nets", Type: "hash:net", Family: "inet", Members: []IPSetMember{{Key: []string{"10.1.0.0/16"}}, {Key: []string{"10.0.0.0/8"}}}})
	oa, ok := a["ipset nets"]
	if !ok || oa.Kind != "ipset" || oa.Fields["elements"] != "2" || oa.Fields["type"] != "hash:net" {
		t.Fatalf("objects = %+v", a)
	}
	if oa.Fields["content"] != b["ipset nets"].Fields["content"] {
		t.Errorf("the listing order changed the digest")
	}
	if oa.Fields["content"] == c["ipset nets"].Fields["content"] {
		t.Errorf("dropping nomatch did not change the digest")
	}
	d := objs(IPSet{Name: "banned", Type: "hash:ip", Timeout: 600, Members: []IPSetMember{{Key: []string{"192.0.2.1"}}}})
	e := objs(IPSet{Name: "banned", Type: "hash:ip", Timeout: 600})
	if d["ipset banned"].Fields["content"] != e["ipset banned"].Fields["content"] || d["ipset banned"].Fields["timeout"] != "600" {
		t.Errorf("expiring members compared: %+v / %+v", d, e)
	}
}
