# ECS on Fargate: the cluster, the task definition and the service.
#
# The service uses the CODE_DEPLOY deployment controller: a new version is
# never rolled out by Terraform but by the deploy workflow, which registers a
# new task definition revision with the new image and hands it to CodeDeploy
# (codedeploy.tf) for a blue/green switch. Terraform therefore ignores the
# service's task definition, load balancer and desired count after creation.
# Changes made here to the task definition (settings, sizes) reach the
# tasks with the next deployment, which starts from the newest revision.

resource "aws_ecs_cluster" "main" {
  name = local.name

  setting {
    name  = "containerInsights"
    value = var.container_insights
  }

  tags = { Name = local.name }
}

locals {
  # Plain settings (see .env.example). Secrets are in container "secrets".
  # Empty values are left out (ECS drops them, which Terraform would see as
  # a change on every plan); usersvc treats unset and empty alike.
  app_environment = [
    for e in [
      { name = "USERSVC_ENV", value = "production" }, # staging is production-like
      { name = "USERSVC_ADDR", value = ":${var.container_port}" },
      # /metrics and /version: on the task's loopback (a sidecar collector),
      # or on every interface for metrics_scrape_cidrs only (network.tf);
      # never a port of the load balancer.
      { name = "USERSVC_OPS_ADDR", value = length(var.metrics_scrape_cidrs) > 0 ? ":${var.ops_port}" : "127.0.0.1:${var.ops_port}" },
      { name = "USERSVC_DOCS", value = var.api_docs },
      { name = "USERSVC_MIGRATE_ON_START", value = "false" }, # the deploy runs `usersvc migrate up` first
      { name = "USERSVC_LOG_LEVEL", value = var.log_level },
      { name = "USERSVC_CORS_ORIGINS", value = var.cors_origins },
      { name = "USERSVC_BCRYPT_COST", value = tostring(var.bcrypt_cost) },
      { name = "USERSVC_SHUTDOWN_TIMEOUT", value = "15s" },
      { name = "REDIS_URL", value = local.redis_url }, # empty without Redis
      { name = "USERSVC_MAILER", value = "smtp" },
      { name = "USERSVC_SMTP_HOST", value = var.smtp_host },
      { name = "USERSVC_SMTP_PORT", value = tostring(var.smtp_port) },
      { name = "USERSVC_SMTP_USERNAME", value = var.smtp_username },
      { name = "USERSVC_SMTP_TLS", value = "starttls" },
      { name = "USERSVC_MAIL_FROM", value = var.mail_from },
      { name = "USERSVC_VERIFY_EMAIL_URL", value = var.verify_email_url },
      { name = "USERSVC_PASSWORD_RESET_URL", value = var.password_reset_url },
      { name = "USERSVC_UNDO_EMAIL_CHANGE_URL", value = var.undo_email_change_url },
    ] : e if e.value != ""
  ]
}

locals {
  # The container's secrets (secrets.tf); the bootstrap administrator's only
  # while bootstrap_admin_email is set.
  app_secrets = concat(
    [
      { name = "DATABASE_URL", valueFrom = aws_secretsmanager_secret.database_url.arn },
      { name = "USERSVC_JWT_SECRET", valueFrom = aws_secretsmanager_secret.jwt_secret.arn },
      { name = "USERSVC_KEY_ENCRYPTION_KEY", valueFrom = aws_secretsmanager_secret.key_encryption_key.arn },
      { name = "USERSVC_SMTP_PASSWORD", valueFrom = aws_secretsmanager_secret.smtp_password.arn },
    ],
    [
      for key, secret in aws_secretsmanager_secret.bootstrap_admin :
      { name = "USERSVC_BOOTSTRAP_ADMIN_${upper(key)}", valueFrom = secret.arn }
    ],
  )
}

resource "aws_ecs_task_definition" "app" {
  family                   = local.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  # Keep old revisions registered when Terraform replaces its own: a
  # rollback may need them, and deployments register their own anyway.
  skip_destroy = true

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([
    {
      name      = local.container_name
      image     = "${aws_ecr_repository.app.repository_url}:${var.image_tag}"
      essential = true

      # The operations port is mapped only for the in-VPC scrapers of
      # metrics_scrape_cidrs; no target group ever points at it.
      portMappings = concat(
        [{ containerPort = var.container_port, protocol = "tcp" }],
        length(var.metrics_scrape_cidrs) > 0 ? [{ containerPort = var.ops_port, protocol = "tcp" }] : [],
      )

      environment = local.app_environment

      # Injected by ECS at start from Secrets Manager (execution role).
      secrets = local.app_secrets

      # With PostgreSQL and a configured JWT secret nothing is written to
      # disk (the image's /data is for SQLite and development only).
      readonlyRootFilesystem = true

      # The image's own check (`usersvc healthcheck` GETs /healthz): ECS
      # replaces a task whose process hangs even if the ALB cannot tell.
      healthCheck = {
        command     = ["CMD", "/usersvc", "healthcheck"]
        interval    = 30
        timeout     = 5
        retries     = 3
        startPeriod = 15
      }

      # SIGTERM, then up to 30s (USERSVC_SHUTDOWN_TIMEOUT is 15s) before SIGKILL.
      stopTimeout = 30

      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.app.name
          awslogs-region        = var.aws_region
          awslogs-stream-prefix = "ecs"
          mode                  = "non-blocking"
          max-buffer-size       = "4m"
        }
      }
    },
  ])

  tags = { Name = local.name }
}

resource "aws_ecs_service" "app" {
  name                              = local.name
  cluster                           = aws_ecs_cluster.main.id
  task_definition                   = aws_ecs_task_definition.app.arn
  desired_count                     = var.desired_count
  launch_type                       = "FARGATE"
  platform_version                  = "LATEST"
  health_check_grace_period_seconds = 30
  propagate_tags                    = "SERVICE"
  enable_ecs_managed_tags           = true

  deployment_controller {
    type = "CODE_DEPLOY"
  }

  network_configuration {
    subnets          = aws_subnet.private[*].id
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  # The initial (blue) target group; CodeDeploy alternates it afterwards.
  load_balancer {
    target_group_arn = aws_lb_target_group.app["blue"].arn
    container_name   = local.container_name
    container_port   = var.container_port
  }

  lifecycle {
    ignore_changes = [task_definition, load_balancer, desired_count]
  }

  # The target group must be attached to a listener before the service uses it.
  depends_on = [aws_lb_listener.https, aws_lb_listener.test]

  tags = { Name = local.name }
}
