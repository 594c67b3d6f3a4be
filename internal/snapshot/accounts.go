package snapshot

import (
	"strconv"
	"strings"
)

// Accounts is the host's local users and groups, from /etc/passwd and
// /etc/group. Of /etc/shadow only whether each password is locked is kept:
// never a hash.
type Accounts struct {
	// Absent says why there are no accounts to read (no /etc/passwd below
	// --root); account checks then do not apply.
	Absent string  `json:"absent,omitempty"`
	Users  []User  `json:"users"`
	Groups []Group `json:"groups"`
	// ShadowError says why /etc/shadow could not be read (Locked is then
	// unknown for every user); empty when it was.
	ShadowError string `json:"shadow_error,omitempty"`
	// Errors are lines that could not be read.
	Errors []string `json:"errors"`
}

// User is one line of /etc/passwd.
type User struct {
	Name  string `json:"name"`
	UID   int    `json:"uid"`
	GID   int    `json:"gid"`
	Home  string `json:"home"`
	Shell string `json:"shell"`
	// Group is the primary group's name, empty when /etc/group lacks it.
	Group string `json:"group,omitempty"`
	// Groups are the supplementary groups /etc/group lists the user in.
	Groups []string `json:"groups"`
	// Locked says whether no password can log in ("!" or "*" in
	// /etc/shadow); nil when shadow has no line for the user or was not read.
	Locked *bool `json:"locked,omitempty"`
}

// Group is one line of /etc/group.
type Group struct {
	Name    string   `json:"name"`
	GID     int      `json:"gid"`
	Members []string `json:"members"`
}

// Attach puts the accounts into the snapshot.
func (a *Accounts) Attach(s *Snapshot) { s.Accounts = a }

// User returns the first user of that name, as the C library finds it.
func (a *Accounts) User(name string) (User, bool) {
	for _, u := range a.Users {
		if u.Name == name {
			return u, true
		}
	}
	return User{}, false
}

// Group returns the first group of that name.
func (a *Accounts) Group(name string) (Group, bool) {
	for _, g := range a.Groups {
		if g.Name == name {
			return g, true
		}
	}
	return Group{}, false
}

// Objects lists each user and group by name.
func (a *Accounts) Objects() []Object {
	out := make([]Object, 0, len(a.Users)+len(a.Groups))
	for _, u := range a.Users {
		f := map[string]string{"uid": strconv.Itoa(u.UID), "gid": strconv.Itoa(u.GID), "home": u.Home, "shell": u.Shell, "groups": strings.Join(u.Groups, ",")}
		if u.Locked != nil {
			f["locked"] = strconv.FormatBool(*u.Locked)
		}
		out = append(out, Object{Area: AreaAccounts, Kind: "user", ID: u.Name, Fields: f})
	}
	for _, g := range a.Groups {
		out = append(out, Object{Area: AreaAccounts, Kind: "group", ID: g.Name,
			Fields: map[string]string{"gid": strconv.Itoa(g.GID), "members": strings.Join(g.Members, ",")}})
	}
	return out
}
