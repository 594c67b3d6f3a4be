# Probes from this host to its own listeners: a listener can stay open while
# its owner no longer takes connections, and a certificate can run out while
# every port still answers. Each listener gets one TCP connect (nothing is
# sent); only ports that speak TLS from the first byte get a TLS handshake.

listeners_respond "tcp" {
  description = "Every TCP listener on loopback or a public address accepts a connection within 3s"
  severity    = "critical"
  timeout     = "3s"
}

# TLS ports: 443, 465, 636, 853, 993, 995, 6443 and 8443 unless tls_ports
# says otherwise.
listeners_tls "certificates" {
  description   = "Every TLS listener's certificate stays valid for at least 14 days"
  cert_min_days = 14
}
