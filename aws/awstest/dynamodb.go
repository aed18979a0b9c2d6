package awstest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
)

// A provisioned table's capacity, which kumo's UpdateTable ignores (it
// applies only the table class): the real hashicorp/aws provider updates
// read_capacity and write_capacity in place with UpdateTable and reads
// them back with DescribeTable. The capacity an UpdateTable set is kept
// here and shown in UpdateTable's and DescribeTable's answers, as AWS
// shows it, until the table is deleted or created again.

// dynamoDBState is what the DynamoDB layer remembers beside kumo.
type dynamoDBState struct {
	mu sync.Mutex
	// throughput set by UpdateTable, by table name.
	throughput map[string]provisionedThroughput
}

type provisionedThroughput struct {
	ReadCapacityUnits  int64 `json:"ReadCapacityUnits"`
	WriteCapacityUnits int64 `json:"WriteCapacityUnits"`
}

const dynamoDBTargetPrefix = "DynamoDB_20120810."

// serveDynamoDB answers UpdateTable, DescribeTable, CreateTable and
// DeleteTable through kumo, keeping the capacity kumo ignores. It returns
// false for every other request (whose body it leaves readable).
func (e *Emulator) serveDynamoDB(w http.ResponseWriter, r *http.Request, kumo http.Handler) bool {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), dynamoDBTargetPrefix)
	if !ok || (op != "UpdateTable" && op != "DescribeTable" && op != "CreateTable" && op != "DeleteTable") {
		return false
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return true
	}
	var req struct {
		TableName             string
		ProvisionedThroughput *provisionedThroughput
	}
	_ = json.Unmarshal(body, &req) // kumo answers a malformed request
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	kumo.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		copyRecorded(w, rec)
		return true
	}
	e.dynamodb.mu.Lock()
	switch op {
	case "UpdateTable":
		if req.ProvisionedThroughput != nil {
			if e.dynamodb.throughput == nil {
				e.dynamodb.throughput = map[string]provisionedThroughput{}
			}
			e.dynamodb.throughput[req.TableName] = *req.ProvisionedThroughput
		}
	case "CreateTable", "DeleteTable":
		delete(e.dynamodb.throughput, req.TableName)
	}
	pt, set := e.dynamodb.throughput[req.TableName]
	e.dynamodb.mu.Unlock()
	if !set {
		copyRecorded(w, rec)
		return true
	}
	var answer map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
		copyRecorded(w, rec)
		return true
	}
	for _, key := range []string{"Table", "TableDescription"} {
		if desc, ok := answer[key].(map[string]any); ok {
			current, _ := desc["ProvisionedThroughput"].(map[string]any)
			if current == nil {
				current = map[string]any{}
			}
			current["ReadCapacityUnits"], current["WriteCapacityUnits"] = pt.ReadCapacityUnits, pt.WriteCapacityUnits
			desc["ProvisionedThroughput"] = current
		}
	}
	out, err := json.Marshal(answer)
	if err != nil {
		copyRecorded(w, rec)
		return true
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	w.Write(out)
	return true
}
