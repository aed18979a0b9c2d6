package awstest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// Lambda versions, which kumo does not keep: the real hashicorp/aws
// provider publishes a version on every update of a function with
// `publish = true` (PublishVersion), waits for it
// (GetFunctionConfiguration with its number as Qualifier) and reads the
// latest back (ListVersionsByFunction). Answered as AWS answers: a
// version is a snapshot of the function's configuration, numbered from 1
// per function, with the qualified ARN; the versions go with the
// function. (A CreateFunction with Publish is left to kumo, which answers
// $LATEST: the provider takes its version from ListVersionsByFunction.)

// lambdaState is what the Lambda layer remembers beside kumo.
type lambdaState struct {
	mu sync.Mutex
	// versions of each function (by name): the configurations published,
	// version i+1 at index i.
	versions map[string][]map[string]any
}

const lambdaFunctionsPath = "/2015-03-31/functions/"

// serveLambda answers the Lambda version operations kumo lacks and adds
// the published versions to its answers. It returns false when r is not
// one of them.
func (e *Emulator) serveLambda(w http.ResponseWriter, r *http.Request, kumo http.Handler) bool {
	if signingService(r) != "lambda" {
		return false
	}
	rest, ok := strings.CutPrefix(r.URL.Path, lambdaFunctionsPath)
	if !ok || rest == "" {
		return false
	}
	fn, sub, _ := strings.Cut(rest, "/")
	name := lambdaFunctionName(fn)
	qualifier := r.URL.Query().Get("Qualifier")
	switch {
	case sub == "versions" && r.Method == http.MethodPost:
		e.publishVersion(w, r, kumo, fn, name)
	case sub == "versions" && r.Method == http.MethodGet:
		e.listVersions(w, r, kumo, name)
	case (sub == "" || sub == "configuration") && r.Method == http.MethodGet && isVersionNumber(qualifier):
		e.getVersion(w, r, kumo, name, qualifier, sub == "")
	case sub == "" && r.Method == http.MethodDelete && qualifier == "":
		rec := httptest.NewRecorder()
		kumo.ServeHTTP(rec, r)
		if rec.Code/100 == 2 {
			e.lambda.mu.Lock()
			delete(e.lambda.versions, name)
			e.lambda.mu.Unlock()
		}
		copyRecorded(w, rec)
	default:
		return false
	}
	return true
}

// publishVersion snapshots the function's configuration as its next
// version.
func (e *Emulator) publishVersion(w http.ResponseWriter, r *http.Request, kumo http.Handler, fn, name string) {
	conf, rec := e.kumoJSON(r, kumo, lambdaFunctionsPath+fn+"/configuration")
	if conf == nil {
		copyRecorded(w, rec)
		return
	}
	e.lambda.mu.Lock()
	if e.lambda.versions == nil {
		e.lambda.versions = map[string][]map[string]any{}
	}
	version := strconv.Itoa(len(e.lambda.versions[name]) + 1)
	conf["Version"] = version
	if arn, ok := conf["FunctionArn"].(string); ok {
		conf["FunctionArn"] = arn + ":" + version
	}
	e.lambda.versions[name] = append(e.lambda.versions[name], conf)
	e.lambda.mu.Unlock()
	writeJSON(w, http.StatusCreated, conf)
}

// listVersions is kumo's $LATEST followed by the published versions.
func (e *Emulator) listVersions(w http.ResponseWriter, r *http.Request, kumo http.Handler, name string) {
	list, rec := e.kumoJSON(r, kumo, r.URL.Path)
	if list == nil {
		copyRecorded(w, rec)
		return
	}
	versions, _ := list["Versions"].([]any)
	e.lambda.mu.Lock()
	for _, v := range e.lambda.versions[name] {
		versions = append(versions, v)
	}
	e.lambda.mu.Unlock()
	list["Versions"] = versions
	writeJSON(w, http.StatusOK, list)
}

// getVersion answers GetFunctionConfiguration (or GetFunction, whole)
// of a published version.
func (e *Emulator) getVersion(w http.ResponseWriter, r *http.Request, kumo http.Handler, name, qualifier string, whole bool) {
	e.lambda.mu.Lock()
	var conf map[string]any
	if n, _ := strconv.Atoi(qualifier); n >= 1 && n <= len(e.lambda.versions[name]) {
		conf = e.lambda.versions[name][n-1]
	}
	e.lambda.mu.Unlock()
	if conf == nil {
		writeJSONError(w, http.StatusNotFound, "ResourceNotFoundException",
			"Function not found: "+name+":"+qualifier)
		return
	}
	if !whole {
		writeJSON(w, http.StatusOK, conf)
		return
	}
	// GetFunction: kumo's answer for $LATEST (code location, tags) with
	// the version's configuration.
	fn, rec := e.kumoJSON(r, kumo, r.URL.Path)
	if fn == nil {
		copyRecorded(w, rec)
		return
	}
	fn["Configuration"] = conf
	writeJSON(w, http.StatusOK, fn)
}

// kumoJSON asks kumo for GET path (without query) with r's headers and
// decodes its JSON answer; nil with the recording when kumo refused.
func (e *Emulator) kumoJSON(r *http.Request, kumo http.Handler, path string) (map[string]any, *httptest.ResponseRecorder) {
	get := r.Clone(r.Context())
	get.Method = http.MethodGet
	get.URL = &url.URL{Path: path}
	get.RequestURI = ""
	get.Body = http.NoBody
	get.ContentLength = 0
	rec := httptest.NewRecorder()
	kumo.ServeHTTP(rec, get)
	if rec.Code != http.StatusOK {
		return nil, rec
	}
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		rec = httptest.NewRecorder()
		writeJSONError(rec, http.StatusInternalServerError, "ServiceException", "kumo's answer is not JSON: "+err.Error())
		return nil, rec
	}
	return out, nil
}

// lambdaFunctionName is the function a FunctionName path element names:
// a name, or a full or partial ARN, possibly qualified.
func lambdaFunctionName(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		s = u
	}
	if _, after, ok := strings.Cut(s, "function:"); ok {
		s = after
	}
	name, _, _ := strings.Cut(s, ":")
	return name
}

func isVersionNumber(q string) bool {
	n, err := strconv.Atoi(q)
	return err == nil && n >= 1
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// writeJSONError answers a REST-JSON error as Lambda does.
func writeJSONError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("X-Amzn-Errortype", code)
	writeJSON(w, status, map[string]string{"Type": "User", "Message": message, "message": message})
}
