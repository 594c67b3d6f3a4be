package policygen

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hostdrift/hostdrift/internal/snapshot"
)

// securityFlags are the mount options policy init writes down when a mount
// carries them.
var securityFlags = []string{"ro", "noexec", "nosuid", "nodev"}

// proposeMounts proposes, for each file system /etc/fstab mounts and that
// is mounted now, its type, its ro/noexec/nosuid/nodev flags and that fstab
// agrees; and that no local disk file system is over 95% full. Mounts that
// fstab does not name (Docker's, snaps', systemd's own) are incidental.
func proposeMounts(s *snapshot.Snapshot) []Candidate {
	if s.Mounts == nil || !s.Mounts.Live {
		return nil
	}
	out := []Candidate{{
		Area: snapshot.AreaMounts, Kind: "mount", Name: "space",
		Comment:      "No local disk file system is over 95% full.",
		Alternatives: [][]Attr{{{"path", Str("*")}, {"min_free_percent", Int(5)}}},
	}}
	for _, m := range s.Mounts.Mounts {
		e, ok := s.Mounts.FstabAt(m.MountPoint)
		if !ok {
			continue
		}
		attrs := []Attr{{"path", Str(m.MountPoint)}, {"fstype", Str(m.FSType)}}
		var flags []string
		for _, f := range securityFlags {
			if slices.Contains(m.Options, f) {
				flags = append(flags, Str(f))
			}
		}
		if len(flags) > 0 {
			attrs = append(attrs, Attr{"options", "[" + strings.Join(flags, ", ") + "]"})
		}
		attrs = append(attrs, Attr{"fstab", "true"})
		out = append(out, Candidate{Area: snapshot.AreaMounts, Kind: "mount", Name: mountLabel(m.MountPoint),
			Comment:      fmt.Sprintf("%s: %s %s, as line %d of /etc/fstab mounts it.", m.MountPoint, m.FSType, m.Source, e.Line),
			Alternatives: [][]Attr{attrs}})
	}
	return out
}

// proposeInterfaces proposes that each interface up now stays up with its
// MTU. Addresses are left out (a DHCP lease may change them), as are
// loopback and Docker's links.
func proposeInterfaces(s *snapshot.Snapshot) []Candidate {
	var out []Candidate
	ids := map[string]bool{}
	for _, o := range s.Host.Objects() {
		ids[o.ID] = true
	}
	for _, ifc := range s.Host.Interfaces {
		if ifc.Loopback || !ifc.Up || !ids[ifc.Name] || strings.HasPrefix(ifc.Name, "docker") {
			continue
		}
		out = append(out, Candidate{Area: snapshot.AreaInterfaces, Kind: "interface", Name: Label("if", ifc.Name),
			Comment:      fmt.Sprintf("Interface %s is up with MTU %d.", ifc.Name, ifc.MTU),
			Alternatives: [][]Attr{{{"name", Str(ifc.Name)}, {"mtu", Int(ifc.MTU)}}}})
	}
	return out
}

// proposePTR proposes forward-confirmed reverse DNS for each public address
// the host holds: what mail receivers check.
func proposePTR(s *snapshot.Snapshot) []Candidate {
	var out []Candidate
	for _, a := range s.Host.UnicastAddresses() {
		ip := a.IP.Unmap()
		if ip.IsPrivate() || !ip.IsGlobalUnicast() {
			continue
		}
		out = append(out, Candidate{Area: snapshot.AreaDNS, Kind: "dns_record", Name: Label("ptr", ip.String()),
			Comment:      fmt.Sprintf("The PTR of %s (%s) names a name that resolves back to it.", ip, a.Interface),
			Alternatives: [][]Attr{{{"type", Str("PTR")}, {"address", Str(ip.String())}, {"fcrdns", "true"}}}})
	}
	return out
}

// mountLabel names a mount check after its mount point: "root" for /,
// "var-log" for /var/log.
func mountLabel(p string) string {
	if p == "/" {
		return "root"
	}
	return Label(strings.ReplaceAll(strings.Trim(p, "/"), "/", "-"))
}
