package crash

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func signed(method, target, service, akid, body string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+akid+"/20261201/us-east-1/"+service+"/aws4_request, SignedHeaders=host, Signature=x")
	return r
}

func TestIdentifyNamesOperationsFromTheWire(t *testing.T) {
	for _, c := range []struct {
		r      *http.Request
		want   string
		bucket string
	}{
		{signed("PUT", "/b1", "s3", "K", ""), "s3:CreateBucket", "b1"},
		{signed("PUT", "/b1?tagging", "s3", "K", ""), "s3:PutBucketTagging", "b1"},
		{signed("GET", "/b1?tagging", "s3", "K", ""), "s3:GetBucketTagging", "b1"},
		{signed("DELETE", "/b1", "s3", "K", ""), "s3:DeleteBucket", "b1"},
		{signed("DELETE", "/b1/some/key?x-id=DeleteObject", "s3", "K", ""), "s3:DeleteObject", "b1"},
		{signed("GET", "/b1?list-type=2", "s3", "K", ""), "s3:ListObjects", "b1"},
		{signed("GET", "/?x-id=ListBuckets", "s3", "K", ""), "s3:ListBuckets", ""},
		{signed("POST", "/", "iam", "K", "Action=CreateRole&RoleName=r"), "iam:CreateRole", ""},
		{signed("POST", "/", "sts", "K", "Action=AssumeRole"), "sts:AssumeRole", ""},
		{signed("POST", "/service/ResourceGroupsTaggingAPI_20170126/operation/GetResources", "tagging", "K", ""), "tagging:GetResources", ""},
	} {
		body, _ := io.ReadAll(c.r.Body)
		got := Identify(c.r, body)
		if got.Name() != c.want || got.Bucket != c.bucket || got.AccessKeyID != "K" {
			t.Errorf("%s %s: %s bucket %q key %q, want %s bucket %q", c.r.Method, c.r.URL, got.Name(), got.Bucket, got.AccessKeyID, c.want, c.bucket)
		}
	}
	r := signed("POST", "/", "dynamodb", "K", "{}")
	r.Header.Set("X-Amz-Target", "DynamoDB_20120810.DeleteTable")
	if got := Identify(r, nil); got.Name() != "dynamodb:DeleteTable" {
		t.Errorf("X-Amz-Target DeleteTable: %s", got.Name())
	}
}

// A held answer is carried out upstream, kept back, then dropped: the
// client sees a broken connection, the upstream did the work; the trap is
// then disarmed. Requests are attributed to the project whose AssumeRole
// answer carried their key.
func TestProxyHoldsThenDropsAndAttributesSessions(t *testing.T) {
	var creates atomic.Int32
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if form, _ := url.ParseQuery(string(body)); form.Get("Action") == "AssumeRole" {
			io.WriteString(w, "<AssumeRoleResponse><Credentials><AccessKeyId>ASIAPROJECT</AccessKeyId></Credentials></AssumeRoleResponse>")
			return
		}
		if r.Method == "PUT" {
			creates.Add(1)
		}
		io.WriteString(w, "ok")
	}))
	defer upstream.Close()
	p, err := NewProxy(upstream.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	do := func(method, path, service, akid, body string) (*http.Response, error) {
		r, _ := http.NewRequest(method, p.URL+path, strings.NewReader(body))
		r.Header = signed(method, path, service, akid, body).Header
		return http.DefaultClient.Do(r)
	}
	resp, err := do("POST", "/", "sts", "AKIDBASE", "Action=AssumeRole&RoleSessionName=chart-app-u1-fixed&Tags.member.1.Key=UserId&Tags.member.1.Value=u1&Tags.member.2.Key=ProjectId&Tags.member.2.Value=fixed")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := p.Sessions()["ASIAPROJECT"]; got != "u1/fixed" {
		t.Fatalf("session of ASIAPROJECT: %q", got)
	}

	trap := p.Arm("create", time.Minute, func(c Call) bool { return c.Name() == "s3:CreateBucket" && c.Project == "u1/fixed" })
	errc := make(chan error, 1)
	go func() {
		resp, err := do("PUT", "/b1", "s3", "ASIAPROJECT", "")
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	var held Call
	select {
	case held = <-trap.Held:
	case <-time.After(10 * time.Second):
		t.Fatal("the CreateBucket was not held")
	}
	if held.Bucket != "b1" || creates.Load() != 1 {
		t.Fatalf("held %+v after %d creates upstream", held, creates.Load())
	}
	select {
	case err := <-errc:
		t.Fatalf("the client got its answer while it was held (err %v)", err)
	default:
	}
	trap.Drop()
	if err := <-errc; err == nil {
		t.Fatal("a dropped answer reached the client")
	}
	resp, err = do("PUT", "/b2", "s3", "ASIAPROJECT", "")
	if err != nil {
		t.Fatalf("after the trap was decided: %v", err)
	}
	resp.Body.Close()
	if n := p.Counts()["s3:CreateBucket"]; n != 2 {
		t.Fatalf("%d CreateBucket counted, want 2", n)
	}
}
