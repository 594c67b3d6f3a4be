listener "has space" { # ERROR: is not a valid name
  port = 1
}
port = 5 # ERROR: A policy file holds only blocks
