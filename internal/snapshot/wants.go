package snapshot

// Wants is what a policy asks the collectors to look at beyond what they read
// on their own: names to resolve, endpoints to probe. Rules compute it from a
// policy; collectors read it. Areas add their fields here.
type Wants struct {
	// DNS lists the names to resolve, with the type and the server to ask.
	DNS []DNSQuery
	// Probes lists the endpoints to connect to.
	Probes ProbeWants
	// Files lists the paths whose state (existence, modification time)
	// the policy judges.
	Files []string
	// FileContent lists the files whose content (digest, matching lines)
	// the policy judges.
	FileContent []FileWant
	// Sysctl lists the kernel parameters (dotted keys) the policy judges,
	// beyond those the boot configuration sets.
	Sysctl []string
}
