# terraform plan -var-file=environments/staging.tfvars
# Production-like, smaller and cheaper; deployed from the develop branch.

environment       = "staging"
aws_region        = "us-east-1"
aws_account_id    = "" # set to the staging account id to guard against the wrong credentials
github_repository = "usersvc/usersvc"

vpc_cidr           = "10.10.0.0/16"
single_nat_gateway = true

certificate_arn         = "arn:aws:acm:us-east-1:111111111111:certificate/CHANGE-ME"
domain_name             = "" # e.g. users.staging.example.com
route53_zone_id         = ""
alb_deletion_protection = false

task_cpu      = 256
task_memory   = 512
desired_count = 1
min_capacity  = 1
max_capacity  = 3
bcrypt_cost   = 10 # the production minimum: keeps load tests cheap

log_retention_days = 14
container_insights = "disabled"

deployment_config_name   = "CodeDeployDefault.ECSAllAtOnce"
termination_wait_minutes = 5

db_instance_class          = "db.t4g.micro"
db_multi_az                = false
db_backup_retention_period = 3
db_deletion_protection     = false
db_skip_final_snapshot     = true
db_performance_insights    = false
db_apply_immediately       = true

redis_enabled  = false
redis_replicas = 0

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
