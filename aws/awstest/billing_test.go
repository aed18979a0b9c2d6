package awstest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tenantform/tenantform/aws/awstest"
)

// TestBillingCountsARetryAsTheSameCall: two HTTP requests of one SDK
// invocation (a retry after a broken connection) are one call, and the
// retry gets the answer the first attempt got, an injected failure too.
func TestBillingCountsARetryAsTheSameCall(t *testing.T) {
	b := awstest.NewBilling(t)
	b.FailNext("GetProducts", "ThrottlingException", "slow down", http.StatusBadRequest)
	send := func(invocation string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, b.URL, strings.NewReader(`{"ServiceCode":"AmazonS3"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Amz-Target", "AWSPriceListService.GetProducts")
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("Amz-Sdk-Invocation-Id", invocation)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	codes := []int{send("a"), send("a"), send("b"), send("b")}
	if want := []int{400, 400, 200, 200}; codes[0] != want[0] || codes[1] != want[1] || codes[2] != want[2] || codes[3] != want[3] {
		t.Errorf("status codes %v; want %v (the retry of the failed call fails the same way)", codes, want)
	}
	calls := b.Calls("GetProducts")
	if len(calls) != 2 || calls[0].Attempts != 2 || calls[1].Attempts != 2 {
		t.Fatalf("calls %+v; want 2 calls of 2 attempts each", calls)
	}
}
