# CloudWatch Logs for the service and the one-off migration tasks (same task
# definition, so the same group; streams are ecs/usersvc/<task id>). usersvc
# logs JSON lines with no passwords, hashes or tokens in them.
resource "aws_cloudwatch_log_group" "app" {
  name              = "/ecs/${local.name}"
  retention_in_days = var.log_retention_days

  tags = { Name = local.name }
}

# PostgreSQL's own log (slow statements, errors), exported by RDS. Made here
# so that it has a retention instead of keeping everything forever.
resource "aws_cloudwatch_log_group" "db" {
  name              = "/aws/rds/instance/${local.name}/postgresql"
  retention_in_days = var.log_retention_days

  tags = { Name = "${local.name}-db" }
}
