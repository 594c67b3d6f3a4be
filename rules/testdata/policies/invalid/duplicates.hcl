listener "web" {
  port = 80
}
listener "web" { # ERROR: listener.web is already declared
  port = 81
}
