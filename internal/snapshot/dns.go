package snapshot

// DNS is what the resolvers answered for the names the policies ask about.
type DNS struct{}

// Attach puts the DNS answers into the snapshot.
func (d *DNS) Attach(s *Snapshot) { s.DNS = d }
