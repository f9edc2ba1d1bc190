output "alb_dns_name" {
  description = "Load balancer DNS name: point the service's DNS record (CNAME/alias) here."
  value       = aws_lb.main.dns_name
}

output "service_url" {
  description = "Base URL of the API."
  value       = "https://${var.domain_name != "" ? var.domain_name : aws_lb.main.dns_name}/api/v1"
}

output "ecr_repository_url" {
  description = "Push images here, tagged with the commit SHA."
  value       = aws_ecr_repository.app.repository_url
}

output "ecs_cluster" {
  value = aws_ecs_cluster.main.name
}

output "ecs_service" {
  value = aws_ecs_service.app.name
}

output "task_definition_family" {
  value = aws_ecs_task_definition.app.family
}

output "codedeploy_application" {
  value = aws_codedeploy_app.app.name
}

output "codedeploy_deployment_group" {
  value = aws_codedeploy_deployment_group.app.deployment_group_name
}

output "error_rate_alarm" {
  description = "The CloudWatch alarm that stops and rolls back a deployment."
  value       = aws_cloudwatch_metric_alarm.error_rate.alarm_name
}

output "deploy_role_arn" {
  description = "Role the GitHub deploy workflow assumes through OIDC."
  value       = aws_iam_role.deploy.arn
}

output "db_endpoint" {
  description = "host:port of the PostgreSQL instance (private)."
  value       = aws_db_instance.main.endpoint
}

output "database_url_secret_arn" {
  value = aws_secretsmanager_secret.database_url.arn
}

output "jwt_secret_arn" {
  value = aws_secretsmanager_secret.jwt_secret.arn
}

output "redis_endpoint" {
  value = var.redis_enabled ? aws_elasticache_replication_group.redis[0].primary_endpoint_address : null
}

# Everything .github/workflows/deploy.yml reads, as GitHub environment
# variables of the environment named like var.environment:
#   terraform output -json github_environment_variables
# (none of it is secret: ARNs, names and subnet ids).
output "github_environment_variables" {
  value = {
    AWS_REGION                  = var.aws_region
    AWS_DEPLOY_ROLE_ARN         = aws_iam_role.deploy.arn
    ECR_REPOSITORY              = aws_ecr_repository.app.name
    ECS_CLUSTER                 = aws_ecs_cluster.main.name
    ECS_SERVICE                 = aws_ecs_service.app.name
    ECS_TASK_FAMILY             = aws_ecs_task_definition.app.family
    ECS_CONTAINER_NAME          = local.container_name
    ECS_SUBNETS                 = join(",", aws_subnet.private[*].id)
    ECS_SECURITY_GROUP          = aws_security_group.tasks.id
    ECS_LOG_GROUP               = aws_cloudwatch_log_group.app.name
    CODEDEPLOY_APPLICATION      = aws_codedeploy_app.app.name
    CODEDEPLOY_DEPLOYMENT_GROUP = aws_codedeploy_deployment_group.app.deployment_group_name
    SERVICE_URL                 = "https://${var.domain_name != "" ? var.domain_name : aws_lb.main.dns_name}"
  }
}

# Where the first administrator's generated password is (its name, not the
# value); empty without bootstrap_admin_email.
output "bootstrap_admin_password_secret" {
  value = try(aws_secretsmanager_secret.bootstrap_admin["password"].name, "")
}
