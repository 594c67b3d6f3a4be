// Package policies holds the policies shipped inside the binary, among them
// the default policy used when no policy is given or installed.
package policies

import (
	"embed"
	"io/fs"
	"path"
	"sort"
)

//go:embed default/*.hcl
var defaults embed.FS

// Default returns the built-in default policy's files as name and text,
// named "builtin:default/FILE" so findings cite where they came from.
func Default() ([]File, error) {
	names, err := fs.Glob(defaults, "default/*.hcl")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []File
	for _, n := range names {
		b, err := defaults.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out = append(out, File{Name: "builtin:default/" + path.Base(n), Text: b})
	}
	return out, nil
}

// File is one embedded policy file.
type File struct {
	Name string
	Text []byte
}
