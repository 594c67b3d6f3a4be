// Package packaging holds no code: its tests check what ships around the
// binary (the systemd units, the Ansible collection, the Debian package) by
// using each with its real tool.
package packaging
