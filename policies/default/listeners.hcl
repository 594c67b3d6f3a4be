# The built-in default policy: worth running on any host with no configuration.
# hostdrift uses it when no --policy is given and /etc/hostdrift/policies/ holds
# no *.hcl. Copy it there to adapt it.

# A listener whose owner stopped calling accept keeps its port open, so every
# "is it listening" check passes while clients hang: the accept queue is what
# shows it, full or holding a connection longer than stalled_after (10s).
accepting "tcp-listeners" {
  description = "Every TCP listener takes its connections (none has a full accept queue, none keeps one waiting over 10s)"
  severity    = "critical"
}

# Internal-only services: reachable from another machine, they are usually an
# accident (a bind to 0.0.0.0 that was meant to be 127.0.0.1). "public" means
# any address other than loopback. Waive one with a reason and an expiry:
#
#   waiver "listener.redis-not-public" {
#     reason  = "replica sync over the private network, OPS-142"
#     expires = "2026-12-31"
#   }

listener "redis-not-public" {
  description = "Redis is an internal service and should not listen on a public address"
  port        = 6379
  protocol    = "tcp"
  address     = "public"
  expect      = "absent"
  tags        = ["internal-service"]
}

listener "postgresql-not-public" {
  description = "PostgreSQL is an internal service and should not listen on a public address"
  port        = 5432
  protocol    = "tcp"
  address     = "public"
  expect      = "absent"
  tags        = ["internal-service"]
}

listener "mysql-not-public" {
  description = "MySQL or MariaDB is an internal service and should not listen on a public address"
  port        = 3306
  protocol    = "tcp"
  address     = "public"
  expect      = "absent"
  tags        = ["internal-service"]
}

listener "mongodb-not-public" {
  description = "MongoDB is an internal service and should not listen on a public address"
  port        = 27017
  protocol    = "tcp"
  address     = "public"
  expect      = "absent"
  tags        = ["internal-service"]
}

listener "elasticsearch-not-public" {
  description = "Elasticsearch (HTTP) is an internal service and should not listen on a public address"
  port        = 9200
  protocol    = "tcp"
  address     = "public"
  expect      = "absent"
  tags        = ["internal-service"]
}

listener "elasticsearch-transport-not-public" {
  description = "Elasticsearch (transport) is an internal service and should not listen on a public address"
  port        = 9300
  protocol    = "tcp"
  address     = "public"
  expect      = "absent"
  tags        = ["internal-service"]
}

listener "memcached-not-public" {
  description = "memcached is an internal service and should not listen on a public address"
  port        = 11211
  protocol    = "tcp"
  address     = "public"
  expect      = "absent"
  tags        = ["internal-service"]
}

listener "memcached-udp-not-public" {
  description = "memcached over UDP (an amplification vector) is an internal service and should not listen on a public address"
  port        = 11211
  protocol    = "udp"
  address     = "public"
  expect      = "absent"
  tags        = ["internal-service"]
}

listener "rabbitmq-not-public" {
  description = "RabbitMQ (AMQP) is an internal service and should not listen on a public address"
  port        = 5672
  protocol    = "tcp"
  address     = "public"
  expect      = "absent"
  tags        = ["internal-service"]
}

listener "etcd-not-public" {
  description = "etcd is an internal service and should not listen on a public address"
  port        = 2379
  protocol    = "tcp"
  address     = "public"
  expect      = "absent"
  tags        = ["internal-service"]
}

listener "zookeeper-not-public" {
  description = "ZooKeeper is an internal service and should not listen on a public address"
  port        = 2181
  protocol    = "tcp"
  address     = "public"
  expect      = "absent"
  tags        = ["internal-service"]
}

listener "kafka-not-public" {
  description = "Kafka is an internal service and should not listen on a public address"
  port        = 9092
  protocol    = "tcp"
  address     = "public"
  expect      = "absent"
  tags        = ["internal-service"]
}
