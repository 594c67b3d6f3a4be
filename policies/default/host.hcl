# The host itself: what is true on any server and cheap to read. A unit in
# the failed state is the clearest sign that something stopped; a second
# account with uid 0 is a second root; a sysctl.d value the kernel does not
# run with is a forgotten `sysctl -p` that the next reboot applies. Where
# systemd does not run, or /proc/sys is read-only (a container), the checks
# that need them are skipped.

service "no-failed-units" {
  description = "No systemd unit is in the failed state"
  unit        = "*"
  failed      = false
}

user "root-alone-at-uid-0" {
  description = "No account other than root has uid 0"
  severity    = "critical"
  name        = "root"
  uid         = 0
  unique_uid  = true
}

kernel_param "boot-config-applied" {
  description = "The running kernel has the values the boot configuration (sysctl.d) sets"
  key         = "*"
}
