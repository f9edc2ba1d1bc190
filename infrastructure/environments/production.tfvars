# terraform plan -var-file=environments/production.tfvars
# Deployed from the main branch after the same commit went through staging.

environment       = "production"
aws_region        = "us-east-1"
aws_account_id    = "" # set to the production account id to guard against the wrong credentials
github_repository = "usersvc/usersvc"

vpc_cidr           = "10.20.0.0/16"
single_nat_gateway = false # one NAT gateway per AZ

certificate_arn         = "arn:aws:acm:us-east-1:222222222222:certificate/CHANGE-ME"
domain_name             = "" # e.g. users.example.com
route53_zone_id         = ""
alb_deletion_protection = true

task_cpu      = 512
task_memory   = 1024
desired_count = 2
min_capacity  = 2 # one per AZ
max_capacity  = 8
bcrypt_cost   = 12

log_retention_days = 90
container_insights = "enabled"

# 10% of traffic for 5 minutes first: the 5xx alarm judges the new version
# on a slice of real traffic before it takes everything.
deployment_config_name   = "CodeDeployDefault.ECSCanary10Percent5Minutes"
termination_wait_minutes = 30

db_instance_class          = "db.t4g.medium"
db_allocated_storage       = 50
db_max_allocated_storage   = 500
db_multi_az                = true
db_backup_retention_period = 14
db_deletion_protection     = true
db_skip_final_snapshot     = false
db_performance_insights    = true
db_apply_immediately       = false

redis_enabled   = true
redis_node_type = "cache.t4g.small"
redis_replicas  = 1

# Account mail (variables.tf): the SMTP relay and the app's pages.
smtp_host             = "email-smtp.us-east-1.amazonaws.com"
smtp_username         = "CHANGE-ME"
mail_from             = "Example <no-reply@example.com>"
verify_email_url      = "https://app.example.com/verify-email?token={token}"
password_reset_url    = "https://app.example.com/reset-password?token={token}"
undo_email_change_url = "https://app.example.com/undo-email-change?token={token}"

# The first administrator (docs/deploy.md, "The first admin on ECS"): set
# both, apply and deploy, sign in and change the password, then clear both.
bootstrap_admin_email    = ""
bootstrap_admin_username = ""
