# Disks: a file system that fills up stops a database, a log, a package
# upgrade, and often the whole service, long after anyone looked. Only local
# disk file systems count: pseudo file systems, tmpfs, overlay (its space is
# the backing disk's), read-only and network file systems are left out.

mount "space" {
  description      = "No local disk file system is over 95% full"
  path             = "*"
  min_free_percent = 5
}
