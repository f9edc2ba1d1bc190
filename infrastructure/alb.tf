# Application Load Balancer in the public subnets. HTTPS on 443 (HTTP on 80
# only redirects), a test listener for blue/green, and two target groups that
# CodeDeploy swaps between: "blue" serves at first, "green" receives each new
# version, and after a deployment the roles are reversed.

resource "aws_lb" "main" {
  name               = local.name
  load_balancer_type = "application"
  internal           = false
  subnets            = aws_subnet.public[*].id
  security_groups    = [aws_security_group.alb.id]

  drop_invalid_header_fields = true
  enable_deletion_protection = var.alb_deletion_protection
  idle_timeout               = 60

  tags = { Name = local.name }
}

resource "aws_lb_target_group" "app" {
  for_each = toset(["blue", "green"])

  name        = "${local.name}-${each.key}"
  port        = var.container_port
  protocol    = "HTTP"
  target_type = "ip" # Fargate tasks (awsvpc) register by IP
  vpc_id      = aws_vpc.main.id

  # Less than USERSVC_SHUTDOWN_TIMEOUT (15s) + margin: in-flight requests
  # finish before the task is told to stop.
  deregistration_delay = 30

  health_check {
    # Readiness: the process is up and the database answers.
    path                = "/readyz"
    matcher             = "200"
    protocol            = "HTTP"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = { Name = "${local.name}-${each.key}" }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.main.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      protocol    = "HTTPS"
      port        = "443"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.main.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.app["blue"].arn
  }

  # CodeDeploy points this listener at blue or green on every deployment.
  lifecycle {
    ignore_changes = [default_action]
  }
}

# Reaches the replacement tasks before production traffic does (CodeDeploy
# test traffic route); open only to test_listener_cidrs.
resource "aws_lb_listener" "test" {
  load_balancer_arn = aws_lb.main.arn
  port              = var.test_listener_port
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.app["green"].arn
  }

  lifecycle {
    ignore_changes = [default_action]
  }
}

# Optional DNS: an alias record for domain_name in route53_zone_id.
resource "aws_route53_record" "app" {
  count = var.domain_name != "" && var.route53_zone_id != "" ? 1 : 0

  zone_id = var.route53_zone_id
  name    = var.domain_name
  type    = "A"

  alias {
    name                   = aws_lb.main.dns_name
    zone_id                = aws_lb.main.zone_id
    evaluate_target_health = true
  }
}
