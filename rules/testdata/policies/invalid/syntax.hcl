listener "x" { # ERROR: Unclosed configuration block
  port = 443
