package importer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// The paths of OpenAI-compatible completion requests.
const (
	CompletionsPath     = "/v1/completions"
	ChatCompletionsPath = "/v1/chat/completions"
)

// openAIRequest makes the traffic line of one completion request body:
// streamed, with the usage object asked for, so that a replay measures
// time to first token and counts output tokens as the server does.
func openAIRequest(body map[string]json.RawMessage, path, model string) (*traffic.Request, error) {
	if path == "" {
		switch {
		case body["messages"] != nil:
			path = ChatCompletionsPath
		case body["prompt"] != nil:
			path = CompletionsPath
		default:
			return nil, &traffic.LineError{Msg: "neither messages (a chat completion) nor prompt (a completion): not an OpenAI-style request body"}
		}
	}
	if path != CompletionsPath && path != ChatCompletionsPath {
		return nil, &traffic.LineError{Field: "url", Msg: fmt.Sprintf("%q is not %s or %s", path, CompletionsPath, ChatCompletionsPath)}
	}
	if body["model"] == nil && model != "" {
		m, _ := json.Marshal(model)
		body["model"] = m
	}
	body["stream"] = json.RawMessage("true")
	body["stream_options"] = json.RawMessage(`{"include_usage":true}`)
	b, err := json.Marshal(body)
	if err != nil {
		return nil, &traffic.LineError{Msg: err.Error()}
	}
	return &traffic.Request{Method: http.MethodPost, Path: path, Header: http.Header{"Content-Type": {"application/json"}}, Body: string(b)}, nil
}

// importOpenAI reads JSON lines of OpenAI-style requests: each line a
// completion or chat completion request body, or a line of OpenAI's Batch
// API input ({"custom_id", "method", "url", "body"}).
func importOpenAI(r io.Reader, name, model string, st *Stats, out func(entry) error, bad func(int, error) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), traffic.MaxLine)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		st.Read++
		var e entry
		req, err := openAILine(b, model)
		e.req = req
		if err := deliver(line, e, err, out, bad); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return &traffic.LineError{File: name, Line: line + 1, Msg: err.Error()}
	}
	return nil
}

func openAILine(b []byte, model string) (*traffic.Request, error) {
	var body map[string]json.RawMessage
	if err := json.Unmarshal(b, &body); err != nil {
		return nil, &traffic.LineError{Msg: "malformed JSON: " + err.Error()}
	}
	path := ""
	if inner, ok := body["body"]; ok && body["url"] != nil {
		// A Batch API line: the request is its body, sent to its url.
		if err := json.Unmarshal(body["url"], &path); err != nil {
			return nil, &traffic.LineError{Field: "url", Msg: "want a string"}
		}
		if m := body["method"]; m != nil {
			var method string
			if json.Unmarshal(m, &method) != nil || !strings.EqualFold(method, http.MethodPost) {
				return nil, &traffic.LineError{Field: "method", Msg: "want POST"}
			}
		}
		body = nil
		if err := json.Unmarshal(inner, &body); err != nil || body == nil {
			return nil, &traffic.LineError{Field: "body", Msg: "want a request body object"}
		}
	}
	return openAIRequest(body, path, model)
}

// shareGPTConversation is one entry of a ShareGPT-style data set: the
// turns of a conversation, "human" and "gpt" in turn.
type shareGPTConversation struct {
	ID            string `json:"id"`
	Conversations []struct {
		From  string `json:"from"`
		Value string `json:"value"`
	} `json:"conversations"`
}

// importShareGPT reads a ShareGPT-style data set (a JSON array of
// conversations), the one serving benchmarks replay: each conversation
// with two turns or more becomes a chat completion of its first turn,
// asking for as many output tokens as its second turn holds
// (EstimateTokens), so the prompt and output lengths keep the data set's
// distribution. Shorter conversations are left out (Stats.OneTurn).
func importShareGPT(r io.Reader, name, model string, st *Stats, out func(entry) error, bad func(int, error) error) error {
	lt := &lineTracker{r: r}
	dec := json.NewDecoder(lt)
	fail := func(err error) error {
		msg := err.Error()
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			msg = "unexpected end of file"
		}
		return &traffic.LineError{File: name, Line: lt.lineAt(dec.InputOffset()), Msg: "not a ShareGPT data set (a JSON array of conversations): " + msg}
	}
	if err := expectDelim(dec, '['); err != nil {
		return fail(err)
	}
	for dec.More() {
		line := lt.lineAt(dec.InputOffset()) + 1
		var c shareGPTConversation
		if err := dec.Decode(&c); err != nil {
			var te *json.UnmarshalTypeError
			if !errors.As(err, &te) {
				return fail(err)
			}
			st.Read++
			if err := bad(line, &traffic.LineError{Field: te.Field, Msg: fmt.Sprintf("wrong type: want %s, got JSON %s", te.Type, te.Value)}); err != nil {
				return err
			}
			continue
		}
		st.Read++
		if len(c.Conversations) < 2 || strings.TrimSpace(c.Conversations[0].Value) == "" {
			st.OneTurn++
			continue
		}
		prompt, _ := json.Marshal(c.Conversations[0].Value)
		maxTokens, _ := json.Marshal(traffic.EstimateTokens(c.Conversations[1].Value))
		body := map[string]json.RawMessage{
			"messages":   json.RawMessage(`[{"role":"user","content":` + string(prompt) + `}]`),
			"max_tokens": maxTokens,
		}
		req, err := openAIRequest(body, ChatCompletionsPath, model)
		if err := deliver(line, entry{req: req}, err, out, bad); err != nil {
			return err
		}
	}
	return nil
}
