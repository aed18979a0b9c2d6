package awstest

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// What a new bucket answers in AWS (since 2023) and kumo answers
// differently or not at all; everything else about buckets is kumo's:
//
//   - GetBucketEncryption: SSE-S3 (AES256) is every bucket's default
//     encryption; deleting a bucket's configuration returns it to that.
//     kumo answers ServerSideEncryptionConfigurationNotFoundError.
//   - GetPublicAccessBlock: a new bucket blocks all public access until its
//     configuration is changed or deleted (then AWS answers
//     NoSuchPublicAccessBlockConfiguration). kumo has no default.
//   - Object ownership (Get/Put/DeleteBucketOwnershipControls): a new
//     bucket is BucketOwnerEnforced. kumo has none of the three; a PUT
//     ?ownershipControls would reach its CreateBucket.
//
// Only path-style requests (/bucket?sub-resource) are seen here, which is
// what tenantform renders for emulators (s3_use_path_style).

// s3State is what the S3 layer keeps beside kumo, by bucket name.
type s3State struct {
	mu sync.Mutex
	// publicAccessBlockDeleted: the bucket's configuration was deleted.
	publicAccessBlockDeleted map[string]bool
	// ownership is the bucket's ObjectOwnership rule when not the
	// default; "" means deleted.
	ownership map[string]string
}

func newS3State() s3State {
	return s3State{publicAccessBlockDeleted: map[string]bool{}, ownership: map[string]string{}}
}

// defaultOwnership is a new bucket's ObjectOwnership.
const defaultOwnership = "BucketOwnerEnforced"

// serveS3Defaults answers the bucket sub-resources above; it returns false
// for every other request.
func (e *Emulator) serveS3Defaults(w http.ResponseWriter, r *http.Request, kumo http.Handler) bool {
	if signingService(r) != "s3" {
		return false
	}
	bucket := strings.Trim(r.URL.Path, "/")
	if bucket == "" || strings.Contains(bucket, "/") {
		return false
	}
	q := r.URL.Query()
	switch {
	case len(q) == 0 && (r.Method == http.MethodPut || r.Method == http.MethodDelete):
		// CreateBucket or DeleteBucket: a bucket of that name starts
		// again from the defaults.
		rec := e.forward(w, r, kumo)
		if rec < 300 {
			e.s3.mu.Lock()
			delete(e.s3.publicAccessBlockDeleted, bucket)
			delete(e.s3.ownership, bucket)
			e.s3.mu.Unlock()
		}
		return true
	case q.Has("encryption") && r.Method == http.MethodGet:
		rec := httptest.NewRecorder()
		kumo.ServeHTTP(rec, r)
		if rec.Code == http.StatusNotFound && s3ErrorCode(rec) == "ServerSideEncryptionConfigurationNotFoundError" {
			writeS3XML(w, `<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>`)
			return true
		}
		copyRecorded(w, rec)
		return true
	case q.Has("publicAccessBlock"):
		switch r.Method {
		case http.MethodGet:
			rec := httptest.NewRecorder()
			kumo.ServeHTTP(rec, r)
			e.s3.mu.Lock()
			deleted := e.s3.publicAccessBlockDeleted[bucket]
			e.s3.mu.Unlock()
			if rec.Code == http.StatusNotFound && s3ErrorCode(rec) == "NoSuchPublicAccessBlockConfiguration" && !deleted {
				writeS3XML(w, `<PublicAccessBlockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>`)
				return true
			}
			copyRecorded(w, rec)
		case http.MethodPut, http.MethodDelete:
			if code := e.forward(w, r, kumo); code < 300 {
				e.s3.mu.Lock()
				e.s3.publicAccessBlockDeleted[bucket] = r.Method == http.MethodDelete
				e.s3.mu.Unlock()
			}
		default:
			return false
		}
		return true
	case q.Has("ownershipControls"):
		e.serveOwnershipControls(w, r, bucket, kumo)
		return true
	}
	return false
}

// serveOwnershipControls keeps a bucket's ObjectOwnership rule.
func (e *Emulator) serveOwnershipControls(w http.ResponseWriter, r *http.Request, bucket string, kumo http.Handler) {
	if !e.bucketExists(r, bucket, kumo) {
		writeS3Error(w, "NoSuchBucket", "The specified bucket does not exist", http.StatusNotFound)
		return
	}
	e.s3.mu.Lock()
	defer e.s3.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
		rule, set := e.s3.ownership[bucket]
		if !set {
			rule = defaultOwnership
		}
		if rule == "" {
			writeS3Error(w, "OwnershipControlsNotFoundError", "The bucket ownership controls were not found", http.StatusNotFound)
			return
		}
		writeS3XML(w, fmt.Sprintf(`<OwnershipControls xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ObjectOwnership>%s</ObjectOwnership></Rule></OwnershipControls>`, xmlEscape(rule)))
	case http.MethodPut:
		var in struct {
			Rules []struct {
				ObjectOwnership string `xml:"ObjectOwnership"`
			} `xml:"Rule"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := xml.Unmarshal(body, &in); err != nil || len(in.Rules) != 1 {
			writeS3Error(w, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema", http.StatusBadRequest)
			return
		}
		switch rule := in.Rules[0].ObjectOwnership; rule {
		case "BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter":
			e.s3.ownership[bucket] = rule
			w.WriteHeader(http.StatusOK)
		default:
			writeS3Error(w, "InvalidArgument", "Invalid ObjectOwnership "+rule, http.StatusBadRequest)
		}
	case http.MethodDelete:
		e.s3.ownership[bucket] = ""
		w.WriteHeader(http.StatusNoContent)
	default:
		writeS3Error(w, "MethodNotAllowed", "The specified method is not allowed against this resource.", http.StatusMethodNotAllowed)
	}
}

// bucketExists asks kumo (HeadBucket).
func (e *Emulator) bucketExists(r *http.Request, bucket string, kumo http.Handler) bool {
	head := httptest.NewRequestWithContext(r.Context(), http.MethodHead, "/"+bucket, nil)
	head.Header = r.Header.Clone()
	rec := httptest.NewRecorder()
	kumo.ServeHTTP(rec, head)
	return rec.Code == http.StatusOK
}

// forward hands r to kumo and returns the status it answered.
func (e *Emulator) forward(w http.ResponseWriter, r *http.Request, kumo http.Handler) int {
	rec := httptest.NewRecorder()
	kumo.ServeHTTP(rec, r)
	copyRecorded(w, rec)
	return rec.Code
}

func copyRecorded(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// s3ErrorCode is the Code of a recorded S3 XML error.
func s3ErrorCode(rec *httptest.ResponseRecorder) string {
	var e struct {
		Code string `xml:"Code"`
	}
	_ = xml.Unmarshal(rec.Body.Bytes(), &e)
	return e.Code
}

func writeS3XML(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, xml.Header+body)
}

// writeS3Error answers in S3's REST-XML error format.
func writeS3Error(w http.ResponseWriter, code, message string, status int) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `%s<Error><Code>%s</Code><Message>%s</Message><RequestId>emulator</RequestId></Error>`, xml.Header, xmlEscape(code), xmlEscape(message))
}
