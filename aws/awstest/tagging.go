package awstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/fxamacker/cbor/v2"
)

// The GetResources wire format (JSON 1.1).
type getResourcesInput struct {
	TagFilters []struct {
		Key    string
		Values []string
	}
	ResourceTypeFilters []string
	ResourcesPerPage    *int
	PaginationToken     string
}

type tagJSON struct {
	Key   string
	Value string
}

type resourceMapping struct {
	ResourceARN string
	Tags        []tagJSON
}

type getResourcesOutput struct {
	PaginationToken        string `json:",omitempty" cbor:",omitempty"`
	ResourceTagMappingList []resourceMapping
}

// maxResourcesPerPage is the API's bound (and default) on ResourcesPerPage.
const maxResourcesPerPage = 100

// taggingService is the Tagging API's service name in both protocols.
const taggingService = "ResourceGroupsTaggingAPI_20170126"

// taggingProtocol is how one request was encoded, and its answer must be:
// JSON 1.1 (X-Amz-Target: ResourceGroupsTaggingAPI_20170126.GetResources,
// older SDKs and the AWS CLI) or Smithy RPC v2 CBOR
// (POST /service/ResourceGroupsTaggingAPI_20170126/operation/GetResources,
// which aws-sdk-go-v2 uses since 2025).
type taggingProtocol struct{ cbor bool }

// taggingOperation returns the operation of a Tagging API request, or ""
// when r is not one.
func taggingOperation(r *http.Request) (string, taggingProtocol) {
	if op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), taggingService+"."); ok {
		return op, taggingProtocol{}
	}
	if op, ok := strings.CutPrefix(r.URL.Path, "/service/"+taggingService+"/operation/"); ok {
		return op, taggingProtocol{cbor: true}
	}
	return "", taggingProtocol{}
}

func (p taggingProtocol) decode(r *http.Request, v any) error {
	if p.cbor {
		body, err := io.ReadAll(r.Body)
		if err != nil || len(body) == 0 {
			return err
		}
		return cbor.Unmarshal(body, v)
	}
	return json.NewDecoder(r.Body).Decode(v)
}

func (p taggingProtocol) write(w http.ResponseWriter, status int, v any) {
	if p.cbor {
		w.Header().Set("Content-Type", "application/cbor")
		w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
		b, err := cbor.Marshal(v)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(status)
		w.Write(b)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (p taggingProtocol) fail(w http.ResponseWriter, code, message string, status int) {
	p.write(w, status, map[string]string{"__type": code, "message": message})
}

// serveTagging answers GetResources from what exists in kumo in the
// request's region: S3 buckets, DynamoDB tables, Lambda functions, log
// groups, HTTP APIs and their stages, with their tags (IAM roles are not
// listed: AWS documents that GetResources does not support them). The
// first page lists kumo; the pagination token names that listing and the
// offset of the next page into it (listingPages).
func (e *Emulator) serveTagging(w http.ResponseWriter, r *http.Request, op string, proto taggingProtocol) {
	if op != "GetResources" {
		proto.fail(w, "InvalidParameterException", "the emulator implements only GetResources, not "+op, http.StatusBadRequest)
		return
	}
	var in getResourcesInput
	if err := proto.decode(r, &in); err != nil {
		proto.fail(w, "InvalidParameterException", "malformed request: "+err.Error(), http.StatusBadRequest)
		return
	}
	perPage := maxResourcesPerPage
	if in.ResourcesPerPage != nil {
		if *in.ResourcesPerPage < 1 || *in.ResourcesPerPage > maxResourcesPerPage {
			proto.fail(w, "InvalidParameterException", "ResourcesPerPage must be between 1 and 100", http.StatusBadRequest)
			return
		}
		perPage = *in.ResourcesPerPage
	}
	region := signingRegion(r)
	e.mu.Lock()
	e.taggingCalls[region]++
	e.mu.Unlock()

	// The first page lists kumo (a request per resource); the later pages
	// of the same listing are read from what it found, so that a listing
	// of n resources costs n requests to kumo, not n²/100.
	matched, offset, ok := e.pages.next(in.PaginationToken)
	if !ok {
		proto.fail(w, "PaginationTokenExpiredException", "unknown pagination token", http.StatusBadRequest)
		return
	}
	if in.PaginationToken == "" {
		all, err := e.taggedResources(r.Context(), region)
		if err != nil {
			proto.fail(w, "InternalServiceException", err.Error(), http.StatusInternalServerError)
			return
		}
		for _, res := range all {
			if matches(res, in) {
				matched = append(matched, res)
			}
		}
	}
	out := getResourcesOutput{ResourceTagMappingList: []resourceMapping{}}
	if offset < len(matched) {
		end := min(offset+perPage, len(matched))
		out.ResourceTagMappingList = matched[offset:end]
		if end < len(matched) {
			out.PaginationToken = e.pages.keep(in.PaginationToken, matched, end)
		}
	}
	proto.write(w, http.StatusOK, out)
}

// listingPages keeps the listings whose later pages clients have yet to
// ask for: a pagination token is "listing/offset".
type listingPages struct {
	mu       sync.Mutex
	lastID   int
	listings map[int][]resourceMapping
	order    []int
}

// maxKeptListings bounds the listings kept for their later pages; the
// oldest is forgotten first (its token then answers
// PaginationTokenExpiredException, as AWS's expire).
const maxKeptListings = 16

// next returns the listing and offset a token names; for "" (a first
// page) no listing and offset 0. ok is false for a token it does not know.
func (l *listingPages) next(token string) (matched []resourceMapping, offset int, ok bool) {
	if token == "" {
		return nil, 0, true
	}
	idText, offText, found := strings.Cut(token, "/")
	id, err1 := strconv.Atoi(idText)
	offset, err2 := strconv.Atoi(offText)
	if !found || err1 != nil || err2 != nil || offset < 0 {
		return nil, 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	matched, ok = l.listings[id]
	return matched, offset, ok
}

// keep returns the token of the page at offset end of matched, keeping
// matched for it when the listing is new (token "").
func (l *listingPages) keep(token string, matched []resourceMapping, end int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	id := 0
	if token != "" {
		id, _ = strconv.Atoi(strings.SplitN(token, "/", 2)[0])
	} else {
		if l.listings == nil {
			l.listings = map[int][]resourceMapping{}
		}
		l.lastID++
		id = l.lastID
		l.listings[id] = matched
		l.order = append(l.order, id)
		if len(l.order) > maxKeptListings {
			delete(l.listings, l.order[0])
			l.order = l.order[1:]
		}
	}
	return strconv.Itoa(id) + "/" + strconv.Itoa(end)
}

// matches applies GetResources' filters: every TagFilter must match (a key
// with any of its values, or any value when none are given), and the ARN
// must be of one of ResourceTypeFilters ("s3", "dynamodb:table") if any.
func matches(res resourceMapping, in getResourcesInput) bool {
	tags := map[string]string{}
	for _, t := range res.Tags {
		tags[t.Key] = t.Value
	}
	for _, f := range in.TagFilters {
		v, ok := tags[f.Key]
		if !ok {
			return false
		}
		if len(f.Values) > 0 && !contains(f.Values, v) {
			return false
		}
	}
	if len(in.ResourceTypeFilters) == 0 {
		return true
	}
	parts := strings.SplitN(res.ResourceARN, ":", 6)
	for _, f := range in.ResourceTypeFilters {
		svc, typ, _ := strings.Cut(f, ":")
		if len(parts) == 6 && parts[2] == svc && (typ == "" || strings.HasPrefix(parts[5], typ)) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// kumoConfig is an SDK configuration that talks to kumo directly.
func (e *Emulator) kumoConfig(region string) awssdk.Config {
	cfg := e.Config()
	cfg.BaseEndpoint = awssdk.String(e.kumo.URL)
	cfg.Region = region
	return cfg
}

// taggedResources lists everything kumo holds in region that has tags,
// sorted by ARN.
func (e *Emulator) taggedResources(ctx context.Context, region string) ([]resourceMapping, error) {
	cfg := e.kumoConfig(region)
	var out []resourceMapping
	add := func(arn string, tags map[string]string) {
		if len(tags) == 0 || arnRegion(arn) != region {
			return
		}
		m := resourceMapping{ResourceARN: arn}
		for _, k := range sortedKeys(tags) {
			m.Tags = append(m.Tags, tagJSON{Key: k, Value: tags[k]})
		}
		out = append(out, m)
	}

	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	buckets, err := s3c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		return nil, fmt.Errorf("listing buckets: %w", err)
	}
	for _, b := range buckets.Buckets {
		t, err := s3c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b.Name})
		if isCode(err, "NoSuchTagSet", "NoSuchBucket") {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("tags of bucket %s: %w", awssdk.ToString(b.Name), err)
		}
		tags := map[string]string{}
		for _, tag := range t.TagSet {
			tags[awssdk.ToString(tag.Key)] = awssdk.ToString(tag.Value)
		}
		add("arn:aws:s3:::"+awssdk.ToString(b.Name), tags)
	}

	ddb := dynamodb.NewFromConfig(cfg)
	tables := dynamodb.NewListTablesPaginator(ddb, &dynamodb.ListTablesInput{})
	for tables.HasMorePages() {
		page, err := tables.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing tables: %w", err)
		}
		for _, name := range page.TableNames {
			d, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: awssdk.String(name)})
			if isCode(err, "ResourceNotFoundException") {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("describing table %s: %w", name, err)
			}
			arn := awssdk.ToString(d.Table.TableArn)
			t, err := ddb.ListTagsOfResource(ctx, &dynamodb.ListTagsOfResourceInput{ResourceArn: awssdk.String(arn)})
			if err != nil {
				return nil, fmt.Errorf("tags of table %s: %w", name, err)
			}
			tags := map[string]string{}
			for _, tag := range t.Tags {
				tags[awssdk.ToString(tag.Key)] = awssdk.ToString(tag.Value)
			}
			add(arn, tags)
		}
	}

	lc := lambda.NewFromConfig(cfg)
	fns := lambda.NewListFunctionsPaginator(lc, &lambda.ListFunctionsInput{})
	for fns.HasMorePages() {
		page, err := fns.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing functions: %w", err)
		}
		for _, f := range page.Functions {
			arn := awssdk.ToString(f.FunctionArn)
			t, err := lc.ListTags(ctx, &lambda.ListTagsInput{Resource: awssdk.String(arn)})
			if isCode(err, "ResourceNotFoundException") {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("tags of function %s: %w", arn, err)
			}
			add(arn, t.Tags)
		}
	}

	logs := cloudwatchlogs.NewFromConfig(cfg)
	groups := cloudwatchlogs.NewDescribeLogGroupsPaginator(logs, &cloudwatchlogs.DescribeLogGroupsInput{})
	for groups.HasMorePages() {
		page, err := groups.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing log groups: %w", err)
		}
		for _, g := range page.LogGroups {
			arn := strings.TrimSuffix(awssdk.ToString(g.Arn), ":*")
			t, err := logs.ListTagsForResource(ctx, &cloudwatchlogs.ListTagsForResourceInput{ResourceArn: awssdk.String(arn)})
			if isCode(err, "ResourceNotFoundException") {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("tags of log group %s: %w", arn, err)
			}
			add(arn, t.Tags)
		}
	}
	// HTTP and WebSocket APIs and their stages, as AWS names them
	// (arn:aws:apigateway:region::/apis/id[/stages/name]).
	apis := apigatewayv2.NewFromConfig(cfg)
	list, err := apis.GetApis(ctx, &apigatewayv2.GetApisInput{})
	if err != nil {
		return nil, fmt.Errorf("listing APIs: %w", err)
	}
	for _, a := range list.Items {
		// kumo has one region: its APIs are Region's.
		arn := fmt.Sprintf("arn:aws:apigateway:%s::/apis/%s", Region, awssdk.ToString(a.ApiId))
		add(arn, a.Tags)
		stages, err := apis.GetStages(ctx, &apigatewayv2.GetStagesInput{ApiId: a.ApiId})
		if isCode(err, "NotFoundException") {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("stages of API %s: %w", awssdk.ToString(a.ApiId), err)
		}
		for _, s := range stages.Items {
			add(arn+"/stages/"+awssdk.ToString(s.StageName), s.Tags)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ResourceARN < out[j].ResourceARN })
	return out, nil
}

// arnRegion is the region field of an ARN. kumo keeps S3 buckets, whose
// ARN has none, in Region.
func arnRegion(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[3] == "" {
		return Region
	}
	return parts[3]
}

func isCode(err error, codes ...string) bool {
	var api smithy.APIError
	return err != nil && errors.As(err, &api) && contains(codes, api.ErrorCode())
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
