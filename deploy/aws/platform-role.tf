# tenantform's platform role, tenant ABAC policy and permissions boundary
# (account 111122223333). The JSON documents sit next to this file.
resource "aws_iam_policy" "tenant_boundary" {
  name        = "tenantform-tenant-boundary"
  description = "Bounds every role a tenantform tenant creates"
  policy      = file("${path.module}/tenant-permissions-boundary.json")
}

resource "aws_iam_role" "platform" {
  name                 = "tenantform-platform"
  description          = "Assumed by tenantform with the external id and session tags UserId/ProjectId"
  max_session_duration = 3600
  assume_role_policy   = file("${path.module}/platform-role-trust.json")
  tags                 = { ManagedBy = "chart-app-platform" }
}

resource "aws_iam_role_policy" "tenant_abac" {
  name   = "tenant-abac"
  role   = aws_iam_role.platform.id
  policy = file("${path.module}/tenant-abac-policy.json")
}

output "AWS_ROLE_ARN" {
  value = aws_iam_role.platform.arn
}

output "AWS_PERMISSIONS_BOUNDARY_ARN" {
  value = aws_iam_policy.tenant_boundary.arn
}
