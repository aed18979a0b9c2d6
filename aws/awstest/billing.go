package awstest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Billing is a fake of the two AWS billing APIs tenantform reads, on one
// loopback URL, in their real wire protocol (JSON 1.1, POST / with
// X-Amz-Target), so that the real SDK clients talk to it:
//
//   - the Price List API's GetProducts (AWSPriceListService.GetProducts):
//     products added with AddProduct, filtered by service code and
//     TERM_MATCH filters on their attributes, paginated by MaxResults and
//     NextToken, each PriceList element a JSON document in a string;
//   - Cost Explorer's GetCostAndUsage (AWSInsightsIndexService.
//     GetCostAndUsage): costs set with SetCost, grouped by one TAG key as
//     "Key$value" groups of one ResultByTime, paginated by NextPageToken
//     every CostPageSize groups.
//
// kumo has neither API. Every request is recorded with the service and
// region it was signed for; FailNext injects an AWS error.
type Billing struct {
	URL string
	srv *httptest.Server

	mu       sync.Mutex
	products map[string][]product // by service code
	costs    map[string]map[string]string
	pageSize int
	calls    []BillingCall
	failures map[string]billingFailure
	// byInvocation indexes calls by amz-sdk-invocation-id; answered are
	// the injected failures already answered, by invocation, so that a
	// retry of the call gets the same answer.
	byInvocation map[string]int
	answered     map[string]billingFailure
}

// BillingCall is one request the fake answered (or refused).
type BillingCall struct {
	// Operation is GetProducts or GetCostAndUsage.
	Operation string
	// Service and Region are those of the request's SigV4 scope
	// ("pricing", "ce"; the region the client was built for).
	Service, Region string
	// Body is the request's JSON.
	Body json.RawMessage
	// Attempts is how many HTTP requests the call took: more than one when
	// the SDK retried it (the same amz-sdk-invocation-id) after a broken
	// connection. A retry is not another call.
	Attempts int
}

type billingFailure struct {
	code, message string
	status        int
}

type product struct {
	attrs map[string]string
	doc   string
}

// PriceTier is one price dimension of a product's on-demand term.
type PriceTier struct {
	BeginRange, EndRange string
	// USD is pricePerUnit.USD as the price list writes it ("0.0000002000").
	USD  string
	Unit string
}

// NewBilling starts the fake; it is closed when the test ends.
func NewBilling(t testing.TB) *Billing {
	t.Helper()
	b := &Billing{products: map[string][]product{}, costs: map[string]map[string]string{}, pageSize: 100,
		failures: map[string]billingFailure{}, byInvocation: map[string]int{}, answered: map[string]billingFailure{}}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	b.URL = b.srv.URL
	t.Cleanup(b.srv.Close)
	return b
}

// Config is an SDK configuration for the fake: dummy static credentials,
// region, and no retries of what the fake answers (an injected failure is
// seen once). Only a broken connection is retried, as the SDK does by
// default: under load, reading a 200 response can fail with "use of closed
// network connection" (aws-sdk-go-v2#2737), and the SDK then sends the
// same call again. Calls counts that as one call.
func (b *Billing) Config(region string) awssdk.Config {
	return awssdk.Config{
		Region:       region,
		BaseEndpoint: awssdk.String(b.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDBILLING", "billing-secret", ""),
		Retryer: func() awssdk.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 3
				o.Retryables = []retry.IsErrorRetryable{retry.RetryableConnectionError{}}
			})
		},
		HTTPClient: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
	}
}

// AddProduct adds a product of serviceCode in region (attribute
// regionCode) with usagetype and more attributes, priced by tiers, in the
// Price List API's aws_v1 format.
func (b *Billing) AddProduct(serviceCode, region, usageType string, attrs map[string]string, tiers ...PriceTier) {
	all := map[string]string{"servicecode": serviceCode, "regionCode": region, "usagetype": usageType}
	for k, v := range attrs {
		all[k] = v
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	sku := fmt.Sprintf("SKU%04d", len(b.products[serviceCode])+1)
	dims := map[string]any{}
	for i, t := range tiers {
		end := t.EndRange
		if end == "" {
			end = "Inf"
		}
		rate := fmt.Sprintf("%s.JRTCKXETXF.%d", sku, i)
		dims[rate] = map[string]any{"rateCode": rate, "description": usageType, "unit": t.Unit, "appliesTo": []string{},
			"beginRange": t.BeginRange, "endRange": end, "pricePerUnit": map[string]string{"USD": t.USD}}
	}
	doc, _ := json.Marshal(map[string]any{
		"product":     map[string]any{"productFamily": "fake", "attributes": all, "sku": sku},
		"serviceCode": serviceCode,
		"terms": map[string]any{"OnDemand": map[string]any{sku + ".JRTCKXETXF": map[string]any{
			"priceDimensions": dims, "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z", "offerTermCode": "JRTCKXETXF",
			"termAttributes": map[string]string{}}}},
		"version":         "20261101000000",
		"publicationDate": "2026-11-01T00:00:00Z",
	})
	b.products[serviceCode] = append(b.products[serviceCode], product{attrs: all, doc: string(doc)})
}

// SetCost sets the month's cost (an amount such as "12.34") of the
// resources tagged key=value; value "" is the costs without the tag.
func (b *Billing) SetCost(key, value, usd string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.costs[key] == nil {
		b.costs[key] = map[string]string{}
	}
	b.costs[key][value] = usd
}

// SetCostPageSize makes GetCostAndUsage answer n groups per page.
func (b *Billing) SetCostPageSize(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pageSize = n
}

// FailNext makes the next call of operation fail with the AWS error code
// (such as AccessDeniedException), message and HTTP status.
func (b *Billing) FailNext(operation, code, message string, status int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures[operation] = billingFailure{code, message, status}
}

// Calls returns the calls of operation so far, oldest first: one per SDK
// operation call, however many HTTP attempts it took.
func (b *Billing) Calls(operation string) []BillingCall {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []BillingCall
	for _, c := range b.calls {
		if c.Operation == operation {
			out = append(out, c)
		}
	}
	return out
}

const (
	priceListTarget    = "AWSPriceListService."
	costExplorerTarget = "AWSInsightsIndexService."
)

func (b *Billing) serve(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, isPricing := strings.CutPrefix(target, priceListTarget)
	if !isPricing {
		op, _ = strings.CutPrefix(target, costExplorerTarget)
	}
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-1.1") {
		jsonError(w, "SerializationException", "expected a JSON 1.1 POST", http.StatusBadRequest)
		return
	}
	var body json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		jsonError(w, "SerializationException", "malformed request: "+err.Error(), http.StatusBadRequest)
		return
	}
	f, fail := b.record(r, op, body)
	if fail {
		jsonError(w, f.code, f.message, f.status)
		return
	}
	switch {
	case isPricing && op == "GetProducts":
		b.getProducts(w, body)
	case !isPricing && op == "GetCostAndUsage":
		b.getCostAndUsage(w, body)
	default:
		jsonError(w, "UnknownOperationException", "the fake implements GetProducts and GetCostAndUsage, not "+target, http.StatusBadRequest)
	}
}

// record notes a request and returns the failure to answer it with. A
// retry of a call already recorded (its amz-sdk-invocation-id) adds an
// attempt to that call and gets the answer the first attempt got.
func (b *Billing) record(r *http.Request, op string, body json.RawMessage) (billingFailure, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	id := r.Header.Get("Amz-Sdk-Invocation-Id")
	if i, seen := b.byInvocation[id]; seen && id != "" {
		b.calls[i].Attempts++
		f, fail := b.answered[id]
		return f, fail
	}
	if id != "" {
		b.byInvocation[id] = len(b.calls)
	}
	b.calls = append(b.calls, BillingCall{Operation: op, Service: signingService(r), Region: signingRegion(r), Body: body, Attempts: 1})
	f, fail := b.failures[op]
	delete(b.failures, op)
	if fail && id != "" {
		b.answered[id] = f
	}
	return f, fail
}

func jsonError(w http.ResponseWriter, code, message string, status int) {
	writeJSON11(w, status, map[string]string{"__type": code, "message": message})
}

func writeJSON11(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (b *Billing) getProducts(w http.ResponseWriter, body json.RawMessage) {
	var in struct {
		ServiceCode   string
		FormatVersion string
		Filters       []struct{ Type, Field, Value string }
		MaxResults    *int
		NextToken     string
	}
	if err := json.Unmarshal(body, &in); err != nil {
		jsonError(w, "InvalidParameterException", err.Error(), http.StatusBadRequest)
		return
	}
	if in.ServiceCode == "" {
		jsonError(w, "InvalidParameterException", "ServiceCode is required with Filters", http.StatusBadRequest)
		return
	}
	if in.FormatVersion != "" && in.FormatVersion != "aws_v1" {
		jsonError(w, "InvalidParameterException", "FormatVersion must be aws_v1", http.StatusBadRequest)
		return
	}
	limit := 100
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 100 {
			jsonError(w, "InvalidParameterException", "MaxResults must be from 1 to 100", http.StatusBadRequest)
			return
		}
		limit = *in.MaxResults
	}
	for _, f := range in.Filters {
		if f.Type != "TERM_MATCH" {
			jsonError(w, "InvalidParameterException", "the fake supports only TERM_MATCH filters, not "+f.Type, http.StatusBadRequest)
			return
		}
	}
	offset := 0
	if in.NextToken != "" {
		n, err := strconv.Atoi(in.NextToken)
		if err != nil || n < 0 {
			jsonError(w, "InvalidNextTokenException", "unknown NextToken", http.StatusBadRequest)
			return
		}
		offset = n
	}
	b.mu.Lock()
	var docs []string
	for _, p := range b.products[in.ServiceCode] {
		ok := true
		for _, f := range in.Filters {
			ok = ok && strings.EqualFold(p.attrs[f.Field], f.Value)
		}
		if ok {
			docs = append(docs, p.doc)
		}
	}
	b.mu.Unlock()
	out := struct {
		FormatVersion string
		PriceList     []string
		NextToken     string `json:",omitempty"`
	}{FormatVersion: "aws_v1", PriceList: []string{}}
	if offset < len(docs) {
		end := min(offset+limit, len(docs))
		out.PriceList = docs[offset:end]
		if end < len(docs) {
			out.NextToken = strconv.Itoa(end)
		}
	}
	writeJSON11(w, http.StatusOK, out)
}

func (b *Billing) getCostAndUsage(w http.ResponseWriter, body json.RawMessage) {
	var in struct {
		TimePeriod    *struct{ Start, End string }
		Granularity   string
		Metrics       []string
		GroupBy       []struct{ Type, Key string }
		NextPageToken string
	}
	if err := json.Unmarshal(body, &in); err != nil {
		jsonError(w, "ValidationException", err.Error(), http.StatusBadRequest)
		return
	}
	if in.TimePeriod == nil {
		jsonError(w, "ValidationException", "TimePeriod is required", http.StatusBadRequest)
		return
	}
	start, err1 := time.Parse(time.DateOnly, in.TimePeriod.Start)
	end, err2 := time.Parse(time.DateOnly, in.TimePeriod.End)
	if err1 != nil || err2 != nil || !start.Before(end) {
		jsonError(w, "ValidationException", "TimePeriod must be two yyyy-MM-dd dates, Start before End", http.StatusBadRequest)
		return
	}
	if in.Granularity != "DAILY" && in.Granularity != "MONTHLY" && in.Granularity != "HOURLY" {
		jsonError(w, "ValidationException", "Granularity must be DAILY, MONTHLY or HOURLY", http.StatusBadRequest)
		return
	}
	if len(in.Metrics) == 0 {
		jsonError(w, "ValidationException", "Metrics is required", http.StatusBadRequest)
		return
	}
	if len(in.GroupBy) != 1 || in.GroupBy[0].Type != "TAG" || in.GroupBy[0].Key == "" {
		jsonError(w, "ValidationException", "the fake supports grouping by exactly one TAG key", http.StatusBadRequest)
		return
	}
	key := in.GroupBy[0].Key
	offset := 0
	if in.NextPageToken != "" {
		n, err := strconv.Atoi(in.NextPageToken)
		if err != nil || n < 0 {
			jsonError(w, "InvalidNextTokenException", "unknown NextPageToken", http.StatusBadRequest)
			return
		}
		offset = n
	}
	type metric struct{ Amount, Unit string }
	type group struct {
		Keys    []string
		Metrics map[string]metric
	}
	b.mu.Lock()
	values := make([]string, 0, len(b.costs[key]))
	for v := range b.costs[key] {
		values = append(values, v)
	}
	sort.Strings(values)
	var groups []group
	for _, v := range values {
		m := map[string]metric{}
		for _, name := range in.Metrics {
			m[name] = metric{Amount: b.costs[key][v], Unit: "USD"}
		}
		groups = append(groups, group{Keys: []string{key + "$" + v}, Metrics: m})
	}
	pageSize := b.pageSize
	b.mu.Unlock()

	next := ""
	page := []group{}
	if offset < len(groups) {
		end := min(offset+pageSize, len(groups))
		page = groups[offset:end]
		if end < len(groups) {
			next = strconv.Itoa(end)
		}
	}
	out := map[string]any{
		"GroupDefinitions": []map[string]string{{"Type": "TAG", "Key": key}},
		"ResultsByTime": []map[string]any{{
			"TimePeriod": map[string]string{"Start": in.TimePeriod.Start, "End": in.TimePeriod.End},
			"Total":      map[string]any{},
			"Groups":     page,
			"Estimated":  true,
		}},
		"DimensionValueAttributes": []any{},
	}
	if next != "" {
		out["NextPageToken"] = next
	}
	writeJSON11(w, http.StatusOK, out)
}
