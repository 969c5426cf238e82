package target

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Request limits.
const (
	MaxBodyBytes = 64 << 10
	MaxQueryLen  = 512
	MaxUserLen   = 128
	MaxK         = candidates
	DefaultK     = 10
)

// PredictRequest is the body of POST /v1/predict.
type PredictRequest struct {
	Query string `json:"query"`
	K     int    `json:"k,omitempty"`
	User  string `json:"user,omitempty"`
}

// PredictResponse is the answer of POST /v1/predict.
type PredictResponse struct {
	Predictions []Prediction `json:"predictions"`
	Model       string       `json:"model"`
	Cached      bool         `json:"cached"`
	Node        int          `json:"node"`
}

// Prediction is one ranked item.
type Prediction struct {
	ID       string  `json:"id"`
	Title    string  `json:"title"`
	Category string  `json:"category"`
	Score    float64 `json:"score"`
}

// ErrorResponse is the body of every non-200 answer.
type ErrorResponse struct {
	Error string `json:"error"`
}

// DecodeRequest parses and validates a predict request body. k defaults to
// 10. Unknown fields are ignored, as a production API does.
func DecodeRequest(body []byte) (PredictRequest, error) {
	var r PredictRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&r); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field == "":
			return r, fmt.Errorf(`want a JSON object such as {"query":"wireless mouse","k":5}, got JSON %s`, te.Value)
		case errors.As(err, &te):
			return r, fmt.Errorf("field %q: want %s, got JSON %s", te.Field, te.Type, te.Value)
		case errors.Is(err, io.EOF):
			return r, errors.New(`empty body: want JSON such as {"query":"wireless mouse","k":5}`)
		default:
			return r, fmt.Errorf("malformed JSON: %v", err)
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return r, errors.New("malformed JSON: data after the request object")
	}
	if !utf8.ValidString(r.Query) || !utf8.ValidString(r.User) {
		return r, errors.New("query and user must be valid UTF-8")
	}
	if strings.TrimSpace(r.Query) == "" {
		return r, errors.New(`field "query": required, a non-empty string`)
	}
	if len(r.Query) > MaxQueryLen {
		return r, fmt.Errorf(`field "query": longer than %d bytes`, MaxQueryLen)
	}
	if len(r.User) > MaxUserLen {
		return r, fmt.Errorf(`field "user": longer than %d bytes`, MaxUserLen)
	}
	if r.K == 0 {
		r.K = DefaultK
	}
	if r.K < 1 || r.K > MaxK {
		return r, fmt.Errorf(`field "k": must be between 1 and %d, got %d`, MaxK, r.K)
	}
	return r, nil
}
