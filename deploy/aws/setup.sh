#!/bin/sh
# Creates tenantform's platform role, the tenant permissions boundary and the
# tenant ABAC policy in account 111122223333. Run from the directory holding the
# JSON documents (deploy/aws or the output of tenantform aws-setup --write-dir).
set -eu
aws iam create-policy --policy-name tenantform-tenant-boundary \
  --description "Bounds every role a tenantform tenant creates" \
  --policy-document file://tenant-permissions-boundary.json
aws iam create-role --role-name tenantform-platform \
  --description "Assumed by tenantform with the external id and session tags UserId/ProjectId" \
  --max-session-duration 3600 \
  --assume-role-policy-document file://platform-role-trust.json \
  --tags Key=ManagedBy,Value=chart-app-platform
aws iam put-role-policy --role-name tenantform-platform --policy-name tenant-abac \
  --policy-document file://tenant-abac-policy.json
echo "AWS_ROLE_ARN=arn:aws:iam::111122223333:role/tenantform-platform"
echo "AWS_PERMISSIONS_BOUNDARY_ARN=arn:aws:iam::111122223333:policy/tenantform-tenant-boundary"
