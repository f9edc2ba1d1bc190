# Secrets Manager holds the secrets; ECS reads them at task start and
# hands them to the container as environment variables (task definition
# "secrets"). They are never in the image, the task definition's plain
# environment, the logs or the tfvars. Their values do pass through the
# Terraform state, which is why the state bucket is encrypted and private.

# DATABASE_URL, as usersvc reads it: one postgres:// URL. pool_max_conns caps
# each task's connections (pgxpool); see docs/deploy.md ("Scaling") for the
# budget against the instance's max_connections.
resource "aws_secretsmanager_secret" "database_url" {
  name                    = "${local.name}/database-url"
  description             = "usersvc DATABASE_URL (RDS PostgreSQL, TLS required)"
  recovery_window_in_days = var.environment == "production" ? 30 : 7
}

resource "aws_secretsmanager_secret_version" "database_url" {
  secret_id = aws_secretsmanager_secret.database_url.id
  secret_string = format(
    "postgres://%s:%s@%s/%s?sslmode=require&pool_max_conns=%d",
    aws_db_instance.main.username,
    random_password.db.result,
    aws_db_instance.main.endpoint, # host:port
    aws_db_instance.main.db_name,
    var.db_pool_max_conns,
  )
}

# USERSVC_JWT_SECRET: the HS256 signing key (64 characters; at least 32 bytes
# are required in production). Replacing it logs every user out.
resource "random_password" "jwt" {
  length  = 64
  special = false
}

resource "aws_secretsmanager_secret" "jwt_secret" {
  name                    = "${local.name}/jwt-secret"
  description             = "usersvc USERSVC_JWT_SECRET (HS256 signing key)"
  recovery_window_in_days = var.environment == "production" ? 30 : 7
}

resource "aws_secretsmanager_secret_version" "jwt_secret" {
  secret_id     = aws_secretsmanager_secret.jwt_secret.id
  secret_string = random_password.jwt.result
}

# USERSVC_KEY_ENCRYPTION_KEY: 32 random bytes, base64. The token signing keys
# (EdDSA by default) are stored in the database sealed with it (AES-256-GCM);
# production refuses to start without it. Losing it makes the stored keys
# unusable: every user must log in again after `usersvc keys rotate`.
resource "random_bytes" "key_encryption_key" {
  length = 32
}

resource "aws_secretsmanager_secret" "key_encryption_key" {
  name                    = "${local.name}/key-encryption-key"
  description             = "usersvc USERSVC_KEY_ENCRYPTION_KEY (seals the token signing keys)"
  recovery_window_in_days = var.environment == "production" ? 30 : 7
}

resource "aws_secretsmanager_secret_version" "key_encryption_key" {
  secret_id     = aws_secretsmanager_secret.key_encryption_key.id
  secret_string = random_bytes.key_encryption_key.base64
}

# USERSVC_SMTP_PASSWORD: the SMTP relay's password. Terraform creates the
# secret with a placeholder and never overwrites it; set the real value once:
#   aws secretsmanager put-secret-value --secret-id <name>/smtp-password --secret-string '...'
resource "aws_secretsmanager_secret" "smtp_password" {
  name                    = "${local.name}/smtp-password"
  description             = "usersvc USERSVC_SMTP_PASSWORD (set out of band)"
  recovery_window_in_days = var.environment == "production" ? 30 : 7
}

resource "aws_secretsmanager_secret_version" "smtp_password" {
  secret_id     = aws_secretsmanager_secret.smtp_password.id
  secret_string = "CHANGE-ME"

  lifecycle {
    ignore_changes = [secret_string]
  }
}

# USERSVC_BOOTSTRAP_ADMIN_EMAIL, _USERNAME, _PASSWORD: the first administrator
# (docs/deploy.md, "The first admin on ECS"), only while
# var.bootstrap_admin_email is set. A task that starts while no active
# administrator exists creates this one. The password is generated here:
# read it from the secret, sign in, change it, then clear the variables.
# No recovery window: the secrets are meant to go once used, and a name
# waiting for deletion could not be created again.
locals {
  bootstrap_admin = var.bootstrap_admin_email != ""
}

resource "random_password" "bootstrap_admin" {
  count   = local.bootstrap_admin ? 1 : 0
  length  = 32
  special = false

  lifecycle {
    precondition {
      condition     = var.bootstrap_admin_username != ""
      error_message = "bootstrap_admin_username must be set with bootstrap_admin_email (both or neither)."
    }
  }
}

resource "aws_secretsmanager_secret" "bootstrap_admin" {
  for_each                = local.bootstrap_admin ? toset(["email", "username", "password"]) : toset([])
  name                    = "${local.name}/bootstrap-admin-${each.key}"
  description             = "usersvc USERSVC_BOOTSTRAP_ADMIN_${upper(each.key)} (the first administrator)"
  recovery_window_in_days = 0
}

resource "aws_secretsmanager_secret_version" "bootstrap_admin" {
  for_each  = aws_secretsmanager_secret.bootstrap_admin
  secret_id = each.value.id
  secret_string = {
    email    = var.bootstrap_admin_email
    username = var.bootstrap_admin_username
    password = one(random_password.bootstrap_admin[*].result)
  }[each.key]
}
