package awstest

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// What kumo's IAM lacks and the real hashicorp/aws provider (or
// tenantform's orphan sweep) calls, answered as AWS answers:
//
//   - AWS managed policies (arn:aws:iam::aws:policy/...): kumo knows only
//     the account's own policies, so attaching AWSLambdaBasicExecutionRole
//     fails with NoSuchEntity. They are created in kumo as customer
//     policies under the path /aws-managed/ and every IAM request and
//     answer has the one ARN rewritten into the other, so kumo stays the
//     only keeper of attachments (AttachRolePolicy, ListAttachedRolePolicies,
//     DetachRolePolicy all go to kumo).
//   - GetPolicyVersion (kumo has none): the managed policies' documents are
//     built in; a customer policy's document is the one its CreatePolicy
//     carried, as long as kumo still has the policy.
//   - ListRoleTags (the orphan sweep reads a role's live tags with it): the
//     tags of kumo's GetRole.
//   - Permissions boundaries (kumo ignores them): the boundary CreateRole or
//     PutRolePermissionsBoundary set is kept here and shown in GetRole, as
//     AWS shows it, until DeleteRolePermissionsBoundary or DeleteRole.

// managedPolicy is an AWS managed policy the plan policy allows to attach.
type managedPolicy struct {
	path, name, version, document string
}

// managedPolicies are the AWS managed policies tenantform's plan policy
// admits, with their documents as AWS publishes them.
var managedPolicies = []managedPolicy{
	{path: "/service-role/", name: "AWSLambdaBasicExecutionRole", version: "v1", document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}]}`},
	{path: "/service-role/", name: "AWSLambdaDynamoDBExecutionRole", version: "v1", document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:DescribeStream","dynamodb:GetRecords","dynamodb:GetShardIterator","dynamodb:ListStreams","logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}]}`},
	{path: "/service-role/", name: "AmazonAPIGatewayPushToCloudWatchLogs", version: "v1", document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogGroup","logs:CreateLogStream","logs:DescribeLogGroups","logs:DescribeLogStreams","logs:PutLogEvents","logs:GetLogEvents","logs:FilterLogEvents"],"Resource":"*"}]}`},
}

const (
	// awsManagedPrefix is how AWS names its managed policies.
	awsManagedPrefix = "arn:aws:iam::aws:policy/"
	// kumoManagedPath is where they live in kumo.
	kumoManagedPath   = "/aws-managed"
	kumoManagedPrefix = "arn:aws:iam::" + IAMAccountID + ":policy" + kumoManagedPath + "/"
	// IAMAccountID is the account of kumo's IAM ARNs (roles, policies),
	// which is not the other services' AccountID.
	IAMAccountID = "123456789012"
)

func (p managedPolicy) arn() string {
	return awsManagedPrefix + strings.TrimPrefix(p.path, "/") + p.name
}

// iamState is what the IAM layer remembers beside kumo.
type iamState struct {
	mu sync.Mutex
	// documents of customer policies, by ARN, from their CreatePolicy.
	documents map[string]string
	// boundaries of roles, by role name.
	boundaries map[string]string
}

// seedManagedPolicies creates the AWS managed policies in kumo. kumo's
// state outlives an emulator (it is per process), so one that exists
// already is fine.
func (e *Emulator) seedManagedPolicies(ctx context.Context) error {
	c := iam.NewFromConfig(e.kumoConfig(Region))
	for _, p := range managedPolicies {
		_, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{
			PolicyName:     awssdk.String(p.name),
			Path:           awssdk.String(kumoManagedPath + p.path),
			PolicyDocument: awssdk.String(p.document),
		})
		if err != nil && !isCode(err, "EntityAlreadyExists") {
			return fmt.Errorf("creating the AWS managed policy %s: %w", p.name, err)
		}
	}
	return nil
}

// serveIAM answers the IAM operations kumo lacks and rewrites managed
// policy ARNs around the ones it has. It returns false when r is not an
// IAM request.
func (e *Emulator) serveIAM(w http.ResponseWriter, r *http.Request, kumo http.Handler) bool {
	if signingService(r) != "iam" || r.Method != http.MethodPost {
		return false
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return true
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeIAMError(w, "MalformedInput", "malformed query body: "+err.Error(), http.StatusBadRequest)
		return true
	}
	switch form.Get("Action") {
	case "GetPolicyVersion":
		e.getPolicyVersion(w, r, form, kumo)
		return true
	case "ListRoleTags":
		e.listRoleTags(w, r, form)
		return true
	case "PutRolePermissionsBoundary", "DeleteRolePermissionsBoundary":
		e.setBoundary(w, r, form)
		return true
	}
	// Managed policy ARNs in, kumo's ARNs out, and back.
	for k, vs := range form {
		for i, v := range vs {
			if rest, ok := strings.CutPrefix(v, awsManagedPrefix); ok {
				vs[i] = kumoManagedPrefix + rest
			}
		}
		form[k] = vs
	}
	encoded := form.Encode()
	r.Body = io.NopCloser(strings.NewReader(encoded))
	r.ContentLength = int64(len(encoded))
	r.Header.Set("Content-Length", strconv.Itoa(len(encoded)))
	rec := httptest.NewRecorder()
	kumo.ServeHTTP(rec, r)
	out := bytes.ReplaceAll(rec.Body.Bytes(), []byte(kumoManagedPrefix), []byte(awsManagedPrefix))
	out = bytes.ReplaceAll(out, []byte("<Path>"+kumoManagedPath+"/"), []byte("<Path>/"))
	switch action := form.Get("Action"); {
	case rec.Code != http.StatusOK:
	case action == "CreateRole":
		e.iam.mu.Lock()
		if b := form.Get("PermissionsBoundary"); b != "" {
			e.iam.boundaries[form.Get("RoleName")] = b
		} else {
			delete(e.iam.boundaries, form.Get("RoleName"))
		}
		e.iam.mu.Unlock()
	case action == "DeleteRole":
		e.iam.mu.Lock()
		delete(e.iam.boundaries, form.Get("RoleName"))
		e.iam.mu.Unlock()
	}
	if a := form.Get("Action"); (a == "CreateRole" || a == "GetRole") && rec.Code == http.StatusOK {
		e.iam.mu.Lock()
		b, ok := e.iam.boundaries[form.Get("RoleName")]
		e.iam.mu.Unlock()
		if ok {
			out = bytes.Replace(out, []byte("</Role>"), []byte("<PermissionsBoundary><PermissionsBoundaryType>Policy</PermissionsBoundaryType><PermissionsBoundaryArn>"+
				xmlEscape(b)+"</PermissionsBoundaryArn></PermissionsBoundary></Role>"), 1)
		}
	}
	if form.Get("Action") == "CreatePolicy" && rec.Code == http.StatusOK {
		var created struct {
			Arn string `xml:"CreatePolicyResult>Policy>Arn"`
		}
		if xml.Unmarshal(out, &created) == nil && created.Arn != "" {
			e.iam.mu.Lock()
			e.iam.documents[created.Arn] = form.Get("PolicyDocument")
			e.iam.mu.Unlock()
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(rec.Code)
	w.Write(out)
	return true
}

type policyVersionXML struct {
	XMLName xml.Name `xml:"GetPolicyVersionResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Version struct {
		Document         string `xml:"Document"`
		VersionID        string `xml:"VersionId"`
		IsDefaultVersion bool   `xml:"IsDefaultVersion"`
		CreateDate       string `xml:"CreateDate"`
	} `xml:"GetPolicyVersionResult>PolicyVersion"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

// getPolicyVersion answers the default version of a managed policy, or of
// a customer policy kumo holds; any other version is NoSuchEntity, as AWS
// answers for a version that does not exist.
func (e *Emulator) getPolicyVersion(w http.ResponseWriter, r *http.Request, form url.Values, kumo http.Handler) {
	arn, version := form.Get("PolicyArn"), form.Get("VersionId")
	document, ok := "", false
	for _, p := range managedPolicies {
		if p.arn() == arn && p.version == version {
			document, ok = p.document, true
		}
	}
	if !ok && version == "v1" {
		e.iam.mu.Lock()
		document, ok = e.iam.documents[arn]
		e.iam.mu.Unlock()
		if ok {
			// kumo is the keeper: a deleted policy has no versions.
			_, err := iam.NewFromConfig(e.kumoConfig(Region)).GetPolicy(r.Context(), &iam.GetPolicyInput{PolicyArn: awssdk.String(arn)})
			ok = err == nil
		}
	}
	if !ok {
		writeIAMError(w, "NoSuchEntity", fmt.Sprintf("Policy %s version %s does not exist or is not attachable.", arn, version), http.StatusNotFound)
		return
	}
	out := policyVersionXML{Xmlns: iamNamespace, RequestID: "emulator"}
	// AWS returns the document URL-encoded.
	out.Version.Document = url.QueryEscape(document)
	out.Version.VersionID = version
	out.Version.IsDefaultVersion = true
	out.Version.CreateDate = "2015-04-09T15:03:43Z"
	writeXML(w, out)
}

type roleTagsXML struct {
	XMLName xml.Name `xml:"ListRoleTagsResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Tags    []struct {
		Key   string `xml:"Key"`
		Value string `xml:"Value"`
	} `xml:"ListRoleTagsResult>Tags>member"`
	IsTruncated bool   `xml:"ListRoleTagsResult>IsTruncated"`
	RequestID   string `xml:"ResponseMetadata>RequestId"`
}

// listRoleTags answers the tags of kumo's GetRole.
func (e *Emulator) listRoleTags(w http.ResponseWriter, r *http.Request, form url.Values) {
	name := form.Get("RoleName")
	role, err := iam.NewFromConfig(e.kumoConfig(Region)).GetRole(r.Context(), &iam.GetRoleInput{RoleName: awssdk.String(name)})
	if isCode(err, "NoSuchEntity") {
		writeIAMError(w, "NoSuchEntity", fmt.Sprintf("The role with name %s cannot be found.", name), http.StatusNotFound)
		return
	}
	if err != nil {
		writeIAMError(w, "ServiceFailure", err.Error(), http.StatusInternalServerError)
		return
	}
	out := roleTagsXML{Xmlns: iamNamespace, RequestID: "emulator"}
	for _, t := range role.Role.Tags {
		out.Tags = append(out.Tags, struct {
			Key   string `xml:"Key"`
			Value string `xml:"Value"`
		}{awssdk.ToString(t.Key), awssdk.ToString(t.Value)})
	}
	writeXML(w, out)
}

// setBoundary keeps a role's boundary (kumo has neither call).
func (e *Emulator) setBoundary(w http.ResponseWriter, r *http.Request, form url.Values) {
	name := form.Get("RoleName")
	if _, err := iam.NewFromConfig(e.kumoConfig(Region)).GetRole(r.Context(), &iam.GetRoleInput{RoleName: awssdk.String(name)}); err != nil {
		writeIAMError(w, "NoSuchEntity", fmt.Sprintf("The role with name %s cannot be found.", name), http.StatusNotFound)
		return
	}
	e.iam.mu.Lock()
	if form.Get("Action") == "PutRolePermissionsBoundary" {
		e.iam.boundaries[name] = form.Get("PermissionsBoundary")
	} else {
		delete(e.iam.boundaries, name)
	}
	e.iam.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, `<%sResponse xmlns="%s"><ResponseMetadata><RequestId>emulator</RequestId></ResponseMetadata></%sResponse>`,
		form.Get("Action"), iamNamespace, form.Get("Action"))
}

const iamNamespace = "https://iam.amazonaws.com/doc/2010-05-08/"

func writeXML(w http.ResponseWriter, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	w.Write(append([]byte(xml.Header), b...))
}

// writeIAMError answers in IAM's query-protocol error format.
func writeIAMError(w http.ResponseWriter, code, message string, status int) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>emulator</RequestId></ErrorResponse>`,
		iamNamespace, xmlEscape(code), xmlEscape(message))
}
