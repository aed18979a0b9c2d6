package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
)

// decodeBody reads a request body into v (a pointer to a struct) strictly:
// one JSON object, no unknown, misspelt or repeated fields, nothing after
// it. encoding/json alone would accept "Region" for "region" (it matches
// names case-insensitively) and keep the last of two "region" keys; a
// typo must be an error, not a silently ignored setting.
func decodeBody(r *http.Request, v any) error {
	return decode(r, v, false)
}

// decodeOptionalBody is decodeBody for routes whose every field is
// optional: an empty body means {} (so `curl -X POST` without -d works).
func decodeOptionalBody(r *http.Request, v any) error {
	return decode(r, v, true)
}

func decode(r *http.Request, v any, emptyOK bool) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return newError(http.StatusRequestEntityTooLarge, codePayloadTooLarge,
				"the request body is larger than %d bytes", tooBig.Limit)
		}
		return badRequest("cannot read the request body: %v", err)
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 && emptyOK {
		return nil
	}
	if len(body) == 0 {
		return badRequest("the request body is empty; send a JSON object")
	}
	if body[0] != '{' {
		return badRequest("the request body must be a JSON object")
	}
	if err := checkJSONText(body); err != nil {
		return err
	}
	if err := checkFieldNames(body, jsonFields(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("unexpected data after the JSON object in the request body")
	}
	return nil
}

// checkFieldNames walks the object's top-level keys: each must be one of
// fields, spelt exactly, and appear once.
func checkFieldNames(body []byte, fields map[string]bool) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // the opening brace
		return decodeError(err)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return decodeError(err)
		}
		name, _ := tok.(string)
		if !fields[name] {
			return unknownField(name)
		}
		if seen[name] {
			return badRequest("field %q appears more than once in the request body", name)
		}
		seen[name] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return decodeError(err)
		}
	}
	return nil
}

func unknownField(name string) *apiError {
	return badRequest("unknown field %q in the request body", name)
}

// jsonFields lists the JSON names of a struct's fields.
func jsonFields(v any) map[string]bool {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	out := map[string]bool{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}

// decodeError turns encoding/json's errors into 400s that name the field.
func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return newError(http.StatusRequestEntityTooLarge, codePayloadTooLarge,
			"the request body is larger than %d bytes", tooBig.Limit)
	case errors.As(err, &syntax):
		return badRequest("the request body is not valid JSON: %s (at byte %d)", syntax.Error(), syntax.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "the request body"
		}
		return badRequest("field %q must be %s, not %s", field, kindName(typ.Type), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return badRequest("the request body ends in the middle of a JSON value")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// DisallowUnknownFields has no typed error; its message is stable.
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return unknownField(name)
	}
	return badRequest("the request body is not valid: %v", err)
}

// kindName says in words what JSON a Go type accepts.
func kindName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return t.String()
}

// queryParams checks that a request's query uses only the named
// parameters, each at most once, and returns them. Like unknown body
// fields, a misspelt "?limt=" must not be silently ignored.
func queryParams(q url.Values, allowed ...string) (map[string]string, error) {
	out := map[string]string{}
	for name, values := range q {
		known := false
		for _, a := range allowed {
			known = known || a == name
		}
		if !known {
			return nil, badRequest("unknown query parameter %q; this route takes %s", name, strings.Join(allowed, ", "))
		}
		if len(values) > 1 {
			return nil, badRequest("query parameter %s is given %d times; give it once", name, len(values))
		}
		out[name] = values[0]
	}
	return out, nil
}
