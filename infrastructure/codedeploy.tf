# Blue/green deployments of the ECS service through CodeDeploy.
#
# A deployment starts the new task definition as a replacement ("green") task
# set behind the idle target group and the test listener, waits for it to
# pass the /readyz health checks, then shifts production traffic to it
# (deployment_config_name: all at once, or canary/linear steps). The old
# ("blue") task set stays up for termination_wait_minutes. CodeDeploy rolls
# back - re-routes traffic to the old task set, which takes seconds - when:
#   - the deployment fails (replacement tasks never become healthy), or
#   - the 5xx alarm below goes off while the deployment is in progress,
#   - or an operator stops the deployment (see docs/deploy.md, Rollback).

resource "aws_codedeploy_app" "app" {
  name             = local.name
  compute_platform = "ECS"
}

# The design's rollback trigger: more than 1% of responses are 5xx. Counted
# over the whole load balancer (both target groups), so it sees whichever task
# set is live. Target 5xx are the application's errors; ELB 5xx (502/503/504)
# are what a crashing or hanging replacement produces. Minutes with fewer than
# error_rate_min_requests requests are not judged.
resource "aws_cloudwatch_metric_alarm" "error_rate" {
  alarm_name          = "${local.name}-5xx-rate"
  alarm_description   = "More than ${var.error_rate_threshold_percent}% of ${local.name} responses are 5xx: CodeDeploy rolls an in-progress deployment back."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.error_rate_threshold_percent
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  treat_missing_data  = "notBreaching"

  metric_query {
    id          = "error_rate"
    label       = "5xx responses, % of requests"
    expression  = "IF(requests >= ${var.error_rate_min_requests}, 100 * (FILL(target_5xx, 0) + FILL(elb_5xx, 0)) / requests, 0)"
    return_data = true
  }

  metric_query {
    id = "requests"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = { LoadBalancer = aws_lb.main.arn_suffix }
      stat        = "Sum"
      period      = 60
    }
  }

  metric_query {
    id = "target_5xx"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = { LoadBalancer = aws_lb.main.arn_suffix }
      stat        = "Sum"
      period      = 60
    }
  }

  metric_query {
    id = "elb_5xx"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      dimensions  = { LoadBalancer = aws_lb.main.arn_suffix }
      stat        = "Sum"
      period      = 60
    }
  }

  tags = { Name = "${local.name}-5xx-rate" }
}

resource "aws_codedeploy_deployment_group" "app" {
  app_name               = aws_codedeploy_app.app.name
  deployment_group_name  = local.name
  service_role_arn       = aws_iam_role.codedeploy.arn
  deployment_config_name = var.deployment_config_name

  deployment_style {
    deployment_type   = "BLUE_GREEN"
    deployment_option = "WITH_TRAFFIC_CONTROL"
  }

  blue_green_deployment_config {
    # Shift traffic as soon as the replacement tasks are healthy.
    deployment_ready_option {
      action_on_timeout = "CONTINUE_DEPLOYMENT"
    }

    # Keep the old tasks for an instant re-route, then stop them.
    terminate_blue_instances_on_deployment_success {
      action                           = "TERMINATE"
      termination_wait_time_in_minutes = var.termination_wait_minutes
    }
  }

  auto_rollback_configuration {
    enabled = true
    events  = ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]
  }

  alarm_configuration {
    enabled = true
    alarms  = [aws_cloudwatch_metric_alarm.error_rate.alarm_name]
  }

  ecs_service {
    cluster_name = aws_ecs_cluster.main.name
    service_name = aws_ecs_service.app.name
  }

  load_balancer_info {
    target_group_pair_info {
      prod_traffic_route {
        listener_arns = [aws_lb_listener.https.arn]
      }

      test_traffic_route {
        listener_arns = [aws_lb_listener.test.arn]
      }

      target_group {
        name = aws_lb_target_group.app["blue"].name
      }

      target_group {
        name = aws_lb_target_group.app["green"].name
      }
    }
  }

  tags = { Name = local.name }
}
