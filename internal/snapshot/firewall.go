package snapshot

// Firewall is every ruleset the host holds, from every backend.
type Firewall struct{}

// Attach puts the firewall into the snapshot.
func (f *Firewall) Attach(s *Snapshot) { s.Firewall = f }
