# Optional ElastiCache Redis (redis_enabled) so that rate limits are counted
# across all tasks instead of per task. TLS in transit and encryption at
# rest; reachable only from the tasks' security group. The tasks get
# REDIS_URL=rediss://<primary endpoint>:6379/0 as a plain variable: it holds
# no credential.

resource "aws_elasticache_subnet_group" "redis" {
  count = var.redis_enabled ? 1 : 0

  name       = "${local.name}-redis"
  subnet_ids = aws_subnet.private[*].id
}

resource "aws_elasticache_replication_group" "redis" {
  count = var.redis_enabled ? 1 : 0

  replication_group_id = "${local.name}-redis"
  description          = "usersvc shared rate limits"
  engine               = "redis"
  engine_version       = "7.1"
  node_type            = var.redis_node_type
  port                 = 6379
  parameter_group_name = "default.redis7"

  num_cache_clusters         = 1 + var.redis_replicas
  automatic_failover_enabled = var.redis_replicas > 0
  multi_az_enabled           = var.redis_replicas > 0

  subnet_group_name  = aws_elasticache_subnet_group.redis[0].name
  security_group_ids = [aws_security_group.redis[0].id]

  at_rest_encryption_enabled = true
  transit_encryption_enabled = true

  snapshot_retention_limit = 0 # counters only: nothing worth restoring
  maintenance_window       = "sun:05:30-sun:06:30"
  apply_immediately        = var.db_apply_immediately

  tags = { Name = "${local.name}-redis" }
}

locals {
  redis_url = var.redis_enabled ? "rediss://${aws_elasticache_replication_group.redis[0].primary_endpoint_address}:6379/0" : ""
}
