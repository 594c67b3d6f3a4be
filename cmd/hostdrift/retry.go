package main

import (
	"flag"
	"fmt"
)

// checkRetry validates --retry-timeout and --sleep against the other flags
// of fs. Without an explicit --timeout, the run's own deadline is raised by
// the retry time, so the default one does not cut the retries short.
func (c *checkCmd) checkRetry(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case c.retry.Timeout > 0 && c.snapPath != "":
		return fmt.Errorf("--retry-timeout re-reads the live host; a saved --snapshot does not change")
	case c.retry.Timeout == 0 && set["sleep"]:
		return fmt.Errorf("--sleep is the wait between attempts of --retry-timeout, which is not given")
	case c.retry.Timeout > 0 && set["timeout"] && c.live.timeout > 0 && c.live.timeout <= c.retry.Timeout:
		return fmt.Errorf("--timeout %s ends the run before --retry-timeout %s is up: make --timeout longer, or leave it out", c.live.timeout, c.retry.Timeout)
	}
	if c.retry.Timeout > 0 && !set["timeout"] {
		c.live.timeout += c.retry.Timeout
	}
	return nil
}
