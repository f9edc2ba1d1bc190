# ---- Identity -------------------------------------------------------------

variable "project" {
  description = "Name prefix for every resource."
  type        = string
  default     = "usersvc"
}

variable "environment" {
  description = "staging or production: names, sizes and protections follow it."
  type        = string

  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment must be \"staging\" or \"production\"."
  }
}

variable "aws_region" {
  description = "Region to deploy into."
  type        = string
  default     = "us-east-1"
}

variable "aws_account_id" {
  description = "When set, the provider refuses credentials of any other account."
  type        = string
  default     = ""
}

variable "github_repository" {
  description = "owner/name of the GitHub repository whose deploy workflow may assume the deploy role."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like \"owner/name\"."
  }
}

variable "github_oidc_provider_arn" {
  description = "ARN of an existing token.actions.githubusercontent.com OIDC provider. There can be one per account: leave empty to create it here, set it when another stack (e.g. the other environment in the same account) already has."
  type        = string
  default     = ""
}

# ---- Network --------------------------------------------------------------

variable "vpc_cidr" {
  description = "VPC address range; a /16 gives /24 subnets (public 0-1, private 10-11)."
  type        = string
  default     = "10.0.0.0/16"
}

variable "single_nat_gateway" {
  description = "One NAT gateway for both AZs (cheaper; an AZ outage cuts the other AZ's egress) instead of one per AZ."
  type        = bool
  default     = false
}

# ---- Load balancer and DNS -----------------------------------------------

variable "certificate_arn" {
  description = "ACM certificate (same region) for the HTTPS listeners."
  type        = string
}

variable "domain_name" {
  description = "Optional DNS name for the service (e.g. users.example.com); with route53_zone_id an alias record is made."
  type        = string
  default     = ""
}

variable "route53_zone_id" {
  description = "Optional hosted zone for domain_name."
  type        = string
  default     = ""
}

variable "alb_deletion_protection" {
  description = "Protect the load balancer from deletion."
  type        = bool
  default     = true
}

variable "test_listener_port" {
  description = "Port of the HTTPS test listener that reaches the replacement (green) tasks during a blue/green deployment."
  type        = number
  default     = 8443
}

variable "test_listener_cidrs" {
  description = "Who may reach the test listener (e.g. the office or VPN range). Empty: nobody from outside."
  type        = list(string)
  default     = []
}

# ---- Service --------------------------------------------------------------

variable "container_port" {
  description = "Port usersvc listens on (USERSVC_ADDR)."
  type        = number
  default     = 8080
}

variable "ops_port" {
  description = "Port of usersvc's operations listener (USERSVC_OPS_ADDR: /metrics, /version). It is never behind the load balancer."
  type        = number
  default     = 9090
}

variable "metrics_scrape_cidrs" {
  description = "Private IPv4 ranges (inside the VPC, e.g. a Prometheus in another subnet) that may scrape ops_port on the tasks. Empty: the operations listener stays on the task's loopback, for a sidecar collector only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.metrics_scrape_cidrs : can(cidrnetmask(c)) && c != "0.0.0.0/0"])
    error_message = "metrics_scrape_cidrs must be IPv4 CIDR ranges of your private network, never 0.0.0.0/0."
  }
}

variable "api_docs" {
  description = "USERSVC_DOCS: on serves /docs and /openapi.* on the public port; off (the default here) leaves them out."
  type        = string
  default     = "off"

  validation {
    condition     = contains(["on", "off"], var.api_docs)
    error_message = "api_docs must be on or off."
  }
}

variable "image_tag" {
  description = "Image tag of the task definition Terraform registers. Deployments register their own revisions (see docs/deploy.md); this only matters for the first apply."
  type        = string
  default     = "bootstrap"
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64 (Graviton; the image must then be built for linux/arm64 too)."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "task_cpu" {
  description = "Fargate CPU units per task (256 = 0.25 vCPU)."
  type        = number
  default     = 512
}

variable "task_memory" {
  description = "Fargate memory per task, MiB."
  type        = number
  default     = 1024
}

variable "desired_count" {
  description = "Tasks at creation; afterwards auto scaling owns the count."
  type        = number
  default     = 2
}

variable "min_capacity" {
  description = "Fewest tasks auto scaling keeps (at least 2 for one per AZ)."
  type        = number
  default     = 2
}

variable "max_capacity" {
  description = "Most tasks auto scaling starts. Mind the database connection budget (docs/deploy.md, Scaling)."
  type        = number
  default     = 6
}

variable "cpu_target_percent" {
  description = "Average service CPU that auto scaling aims for. bcrypt makes logins CPU-bound, so CPU is the main signal."
  type        = number
  default     = 60
}

variable "requests_per_target" {
  description = "ALB requests per task per minute that auto scaling aims for."
  type        = number
  default     = 1000
}

variable "log_level" {
  description = "USERSVC_LOG_LEVEL."
  type        = string
  default     = "info"
}

variable "cors_origins" {
  description = "USERSVC_CORS_ORIGINS: comma-separated browser origins allowed by CORS, each https:// and in full (production refuses http:// and wildcard hosts such as https://*.example.com)."
  type        = string
  default     = ""
}

variable "bcrypt_cost" {
  description = "USERSVC_BCRYPT_COST (at least 10 in production mode). Each step doubles login CPU."
  type        = number
  default     = 12
}

variable "container_insights" {
  description = "ECS Container Insights: enabled, enhanced or disabled (costs CloudWatch metrics)."
  type        = string
  default     = "enabled"
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention for the service and migration logs."
  type        = number
  default     = 30
}

# ---- Deployment -----------------------------------------------------------

variable "deployment_config_name" {
  description = "CodeDeploy traffic shift: CodeDeployDefault.ECSAllAtOnce, ...ECSCanary10Percent5Minutes, ...ECSLinear10PercentEvery1Minutes, ..."
  type        = string
  default     = "CodeDeployDefault.ECSAllAtOnce"
}

variable "termination_wait_minutes" {
  description = "How long the old (blue) tasks stay up after the switch, during which an alarm or an operator re-routes back instantly."
  type        = number
  default     = 15
}

variable "error_rate_threshold_percent" {
  description = "Roll back when the share of 5xx responses exceeds this (the design: 1%)."
  type        = number
  default     = 1
}

variable "error_rate_min_requests" {
  description = "Requests per minute below which the 5xx alarm does not judge (one error in 20 requests is not a 5% outage)."
  type        = number
  default     = 50
}

# ---- Database -------------------------------------------------------------

variable "db_engine_version" {
  description = "PostgreSQL version; a major version (\"16\") takes the newest minor and lets RDS upgrade minors."
  type        = string
  default     = "16"
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.micro"
}

variable "db_allocated_storage" {
  description = "Initial storage, GiB."
  type        = number
  default     = 20
}

variable "db_max_allocated_storage" {
  description = "Storage autoscaling ceiling, GiB (0 disables)."
  type        = number
  default     = 100
}

variable "db_multi_az" {
  description = "Standby in the second AZ with automatic failover."
  type        = bool
  default     = false
}

variable "db_backup_retention_period" {
  description = "Days of automated backups and point-in-time recovery (0-35)."
  type        = number
  default     = 7
}

variable "db_deletion_protection" {
  description = "Refuse to delete the database (turn off deliberately before destroying)."
  type        = bool
  default     = true
}

variable "db_skip_final_snapshot" {
  description = "Delete without a final snapshot (staging teardown only)."
  type        = bool
  default     = false
}

variable "db_performance_insights" {
  description = "Enable Performance Insights (7 days free retention)."
  type        = bool
  default     = false
}

variable "db_pool_max_conns" {
  description = "Database connections per task (pool_max_conns in DATABASE_URL). Budget: 2 x max_capacity x this (both task sets run during a blue/green switch) + a few for migrations and people must stay under the instance's max_connections."
  type        = number
  default     = 10
}

variable "db_apply_immediately" {
  description = "Apply modifications now instead of in the maintenance window."
  type        = bool
  default     = false
}

# ---- Redis ----------------------------------------------------------------

variable "redis_enabled" {
  description = "Create an ElastiCache Redis for rate limits shared by all tasks (REDIS_URL); without it each task counts alone."
  type        = bool
  default     = false
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.micro"
}

variable "redis_replicas" {
  description = "Read replicas beside the primary; 1 or more enables automatic failover and Multi-AZ."
  type        = number
  default     = 0
}

# Account mail (README: "Account mail"). Production refuses to start without
# a mailer, so these are required: the SMTP relay (e.g. Amazon SES's SMTP
# endpoint) and the sender. The SMTP password is a secret (secrets.tf).
variable "smtp_host" {
  description = "USERSVC_SMTP_HOST: the SMTP relay account mail is sent through, e.g. email-smtp.us-east-1.amazonaws.com."
  type        = string
}

variable "smtp_port" {
  description = "USERSVC_SMTP_PORT (587 for starttls)."
  type        = number
  default     = 587
}

variable "smtp_username" {
  description = "USERSVC_SMTP_USERNAME: the relay login (its password goes into the smtp-password secret)."
  type        = string
}

variable "mail_from" {
  description = "USERSVC_MAIL_FROM: the sender of account mail, e.g. \"Example <no-reply@example.com>\"."
  type        = string
}

variable "verify_email_url" {
  description = "USERSVC_VERIFY_EMAIL_URL: the app's page that verifies an email, with {token}."
  type        = string
}

variable "password_reset_url" {
  description = "USERSVC_PASSWORD_RESET_URL: the app's page that sets a new password, with {token}."
  type        = string
}

variable "undo_email_change_url" {
  description = "USERSVC_UNDO_EMAIL_CHANGE_URL: the app's page that undoes an email change, with {token} (production refuses the localhost default)."
  type        = string
}

# ---- The first administrator ------------------------------------------------
# docs/deploy.md, "The first admin on ECS". With both set, secrets.tf stores
# them and a generated password in Secrets Manager and the task definition
# hands them to the tasks (USERSVC_BOOTSTRAP_ADMIN_*). Clear both once the
# administrator has signed in and changed the password.
variable "bootstrap_admin_email" {
  description = "USERSVC_BOOTSTRAP_ADMIN_EMAIL: the first administrator's email; empty (the default) for none."
  type        = string
  default     = ""
}

variable "bootstrap_admin_username" {
  description = "USERSVC_BOOTSTRAP_ADMIN_USERNAME: the first administrator's username (with bootstrap_admin_email)."
  type        = string
  default     = ""
}
