package debroot

import (
	"strings"
	"testing"
)

func TestParseAptSources(t *testing.T) {
	list := parseSourcesList(strings.NewReader(`# comment
deb [arch=amd64 signed-by=/k.gpg] http://mirror.invalid/debian bookworm main
deb-src http://mirror.invalid/debian bookworm main
deb http://mirror.invalid/debian-security bookworm-security main # trailing
`))
	if len(list) != 2 || list[0] != (Source{"http://mirror.invalid/debian", "bookworm", "/k.gpg"}) || list[1].Suite != "bookworm-security" {
		t.Errorf("sources.list: %+v", list)
	}
	deb822 := parseDeb822(strings.NewReader(`Types: deb deb-src
# http://snapshot.invalid/archive
URIs: http://mirror.invalid/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://other.invalid/debian
Suites: trixie
Enabled: no
`))
	if len(deb822) != 2 || deb822[0] != (Source{"http://mirror.invalid/debian", "bookworm", "/usr/share/keyrings/debian-archive-keyring.gpg"}) || deb822[1].Suite != "bookworm-updates" {
		t.Errorf("deb822: %+v", deb822)
	}
}
