package target

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/bestbefore/bestbefore/target/oip"
)

// The scorer model the node serves over the Open Inference Protocol
// (REST: /v2/..., gRPC: inference.GRPCInferenceService), behind the
// dynamic batcher.
const (
	ScorerModel    = "scorer"
	ScorerVersion  = "1"
	ScorerFeatures = 16
	scorerInput    = "features"
	scorerOutput   = "score"
	// MaxInferRows bounds the rows of one request.
	MaxInferRows = 1024
)

// ServerName is the name the service gives in its OIP server metadata.
const ServerName = "bestbefore-target"

// scorer is a logistic model of ScorerFeatures features with fixed
// weights: its own cost is nothing, the batcher's cost model is the
// service time.
type scorer struct{ w [ScorerFeatures]float32 }

func newScorer() *scorer {
	s := &scorer{}
	for i := range s.w {
		s.w[i] = float32(math.Sin(float64(i + 1)))
	}
	return s
}

// score returns one score per row of x (rows × ScorerFeatures).
func (s *scorer) score(rows int, x []float32) []float32 {
	out := make([]float32, rows)
	for r := 0; r < rows; r++ {
		var z float32
		for i, w := range s.w {
			z += w * x[r*ScorerFeatures+i]
		}
		out[r] = float32(1 / (1 + math.Exp(-float64(z))))
	}
	return out
}

// inferInput checks one request's input against the model: one FP32
// tensor named features of shape [rows, 16] with rows × 16 values.
func inferInput(name, datatype string, shape []int64, n int) (int, error) {
	switch {
	case name != scorerInput:
		return 0, fmt.Errorf("unexpected input %q: %s takes one input, %q", name, ScorerModel, scorerInput)
	case datatype != "FP32":
		return 0, fmt.Errorf("input %q: datatype %s, want FP32", name, datatype)
	case len(shape) != 2 || shape[1] != ScorerFeatures || shape[0] < 1:
		return 0, fmt.Errorf("input %q: shape %v, want [rows, %d]", name, shape, ScorerFeatures)
	case shape[0] > MaxInferRows:
		return 0, fmt.Errorf("input %q: %d rows, more than the %d a request may hold", name, shape[0], MaxInferRows)
	case int64(n) != shape[0]*ScorerFeatures:
		return 0, fmt.Errorf("input %q: %d values for shape %v (want %d)", name, n, shape, shape[0]*ScorerFeatures)
	}
	return int(shape[0]), nil
}

// infer runs rows through the batcher; a request larger than a batch is
// refused, as a server with a max_batch_size refuses it.
func (n *Node) infer(rows int, x []float32) ([]float32, error) {
	if rows > n.batch.cfg.MaxBatch {
		return nil, fmt.Errorf("%w: %d rows, more than the batch size %d", errTooManyRows, rows, n.batch.cfg.MaxBatch)
	}
	return n.batch.submit(rows, x)
}

var errTooManyRows = errors.New("too many rows")

// REST: the Open Inference Protocol's HTTP/JSON endpoints.

type restTensor struct {
	Name     string          `json:"name"`
	Shape    []int64         `json:"shape"`
	Datatype string          `json:"datatype"`
	Data     json.RawMessage `json:"data,omitempty"`
}

type restInferRequest struct {
	ID     string       `json:"id,omitempty"`
	Inputs []restTensor `json:"inputs"`
}

type restOutput struct {
	Name     string    `json:"name"`
	Shape    []int64   `json:"shape"`
	Datatype string    `json:"datatype"`
	Data     []float32 `json:"data"`
}

type restInferResponse struct {
	ModelName    string         `json:"model_name"`
	ModelVersion string         `json:"model_version"`
	ID           string         `json:"id,omitempty"`
	Parameters   map[string]any `json:"parameters"`
	Outputs      []restOutput   `json:"outputs"`
}

type tensorMeta struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

type modelMeta struct {
	Name     string       `json:"name"`
	Versions []string     `json:"versions"`
	Platform string       `json:"platform"`
	Inputs   []tensorMeta `json:"inputs"`
	Outputs  []tensorMeta `json:"outputs"`
}

var scorerMeta = modelMeta{
	Name: ScorerModel, Versions: []string{ScorerVersion}, Platform: "bestbefore_batcher",
	Inputs:  []tensorMeta{{scorerInput, "FP32", []int64{-1, ScorerFeatures}}},
	Outputs: []tensorMeta{{scorerOutput, "FP32", []int64{-1, 1}}},
}

// flatFloats reads a tensor's data: a flat or nested JSON array of
// numbers, flattened row-major.
func flatFloats(raw json.RawMessage, out []float32) ([]float32, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	var walk func(v any, depth int) error
	walk = func(v any, depth int) error {
		switch t := v.(type) {
		case float64:
			if len(out) >= MaxInferRows*ScorerFeatures {
				return errors.New("too many values")
			}
			out = append(out, float32(t))
		case []any:
			if depth > 4 {
				return errors.New("nested too deep")
			}
			for _, e := range t {
				if err := walk(e, depth+1); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("%v is not a number", v)
		}
		return nil
	}
	if err := walk(v, 0); err != nil {
		return nil, err
	}
	return out, nil
}

func (n *Node) registerOIP() {
	ready := func(w http.ResponseWriter, ok bool, key string) {
		code := http.StatusOK
		if !ok {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, map[string]bool{key: ok})
	}
	n.mux.HandleFunc("GET /v2/health/live", func(w http.ResponseWriter, r *http.Request) { ready(w, true, "live") })
	n.mux.HandleFunc("GET /v2/health/ready", func(w http.ResponseWriter, r *http.Request) { ready(w, n.ready.Load(), "ready") })
	n.mux.HandleFunc("GET /v2", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"name": ServerName, "version": ScorerVersion, "extensions": []string{}})
	})
	model := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if m := r.PathValue("model"); m != ScorerModel {
				writeError(w, http.StatusNotFound, fmt.Sprintf("no model %q (this service serves %q)", m, ScorerModel))
				return
			}
			if v := r.PathValue("version"); v != "" && v != ScorerVersion {
				writeError(w, http.StatusNotFound, fmt.Sprintf("no version %q of %s (it has %s)", v, ScorerModel, ScorerVersion))
				return
			}
			h(w, r)
		}
	}
	n.mux.HandleFunc("GET /v2/models/{model}", model(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, scorerMeta) }))
	n.mux.HandleFunc("GET /v2/models/{model}/ready", model(func(w http.ResponseWriter, r *http.Request) { ready(w, n.ready.Load(), "ready") }))
	n.mux.HandleFunc("POST /v2/models/{model}/infer", model(n.handleInfer))
	n.mux.HandleFunc("POST /v2/models/{model}/versions/{version}/infer", model(n.handleInfer))
}

func (n *Node) handleInfer(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
	defer func() {
		n.duration.WithLabelValues("/v2/models/infer", strconv.Itoa(rec.code)).Observe(time.Since(start).Seconds())
	}()
	body, err := io.ReadAll(http.MaxBytesReader(rec, r.Body, MaxInferBodyBytes))
	if err != nil {
		writeError(rec, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", MaxInferBodyBytes))
		return
	}
	var req restInferRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(rec, http.StatusBadRequest, "malformed JSON: "+err.Error())
		return
	}
	if len(req.Inputs) != 1 {
		writeError(rec, http.StatusBadRequest, fmt.Sprintf("%d inputs: %s takes one, %q", len(req.Inputs), ScorerModel, scorerInput))
		return
	}
	in := req.Inputs[0]
	x, err := flatFloats(in.Data, make([]float32, 0, ScorerFeatures))
	if err != nil {
		writeError(rec, http.StatusBadRequest, fmt.Sprintf("input %q: data: %v", in.Name, err))
		return
	}
	rows, err := inferInput(in.Name, in.Datatype, in.Shape, len(x))
	if err != nil {
		writeError(rec, http.StatusBadRequest, err.Error())
		return
	}
	scores, err := n.infer(rows, x)
	switch {
	case errors.Is(err, errTooManyRows):
		writeError(rec, http.StatusBadRequest, err.Error())
		return
	case err != nil:
		rec.Header().Set("Retry-After", "1")
		writeError(rec, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(rec, http.StatusOK, restInferResponse{ModelName: ScorerModel, ModelVersion: ScorerVersion, ID: req.ID,
		Parameters: map[string]any{"node": n.cfg.Index},
		Outputs:    []restOutput{{Name: scorerOutput, Shape: []int64{int64(rows), 1}, Datatype: "FP32", Data: scores}}})
}

// MaxInferBodyBytes bounds an OIP REST request body.
const MaxInferBodyBytes = 1 << 20

// gRPC: inference.GRPCInferenceService.

type oipServer struct {
	oip.UnimplementedGRPCInferenceServiceServer
	n *Node
}

func (s oipServer) ServerLive(context.Context, *oip.ServerLiveRequest) (*oip.ServerLiveResponse, error) {
	return &oip.ServerLiveResponse{Live: true}, nil
}

func (s oipServer) ServerReady(context.Context, *oip.ServerReadyRequest) (*oip.ServerReadyResponse, error) {
	return &oip.ServerReadyResponse{Ready: s.n.ready.Load()}, nil
}

func (s oipServer) checkModel(name, version string) error {
	if name != ScorerModel {
		return status.Errorf(codes.NotFound, "no model %q (this service serves %q)", name, ScorerModel)
	}
	if version != "" && version != ScorerVersion {
		return status.Errorf(codes.NotFound, "no version %q of %s (it has %s)", version, ScorerModel, ScorerVersion)
	}
	return nil
}

func (s oipServer) ModelReady(_ context.Context, r *oip.ModelReadyRequest) (*oip.ModelReadyResponse, error) {
	if err := s.checkModel(r.GetName(), r.GetVersion()); err != nil {
		return nil, err
	}
	return &oip.ModelReadyResponse{Ready: s.n.ready.Load()}, nil
}

func (s oipServer) ServerMetadata(context.Context, *oip.ServerMetadataRequest) (*oip.ServerMetadataResponse, error) {
	return &oip.ServerMetadataResponse{Name: ServerName, Version: ScorerVersion}, nil
}

func (s oipServer) ModelMetadata(_ context.Context, r *oip.ModelMetadataRequest) (*oip.ModelMetadataResponse, error) {
	if err := s.checkModel(r.GetName(), r.GetVersion()); err != nil {
		return nil, err
	}
	meta := func(ts []tensorMeta) []*oip.ModelMetadataResponse_TensorMetadata {
		var out []*oip.ModelMetadataResponse_TensorMetadata
		for _, t := range ts {
			out = append(out, &oip.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape})
		}
		return out
	}
	return &oip.ModelMetadataResponse{Name: ScorerModel, Versions: scorerMeta.Versions, Platform: scorerMeta.Platform,
		Inputs: meta(scorerMeta.Inputs), Outputs: meta(scorerMeta.Outputs)}, nil
}

func (s oipServer) ModelInfer(_ context.Context, r *oip.ModelInferRequest) (*oip.ModelInferResponse, error) {
	start := time.Now()
	code := codes.OK
	defer func() {
		s.n.duration.WithLabelValues("inference.GRPCInferenceService/ModelInfer", code.String()).Observe(time.Since(start).Seconds())
	}()
	fail := func(c codes.Code, format string, args ...any) (*oip.ModelInferResponse, error) {
		code = c
		return nil, status.Errorf(c, format, args...)
	}
	if err := s.checkModel(r.GetModelName(), r.GetModelVersion()); err != nil {
		code = codes.NotFound
		return nil, err
	}
	if len(r.GetInputs()) != 1 {
		return fail(codes.InvalidArgument, "%d inputs: %s takes one, %q", len(r.GetInputs()), ScorerModel, scorerInput)
	}
	in := r.GetInputs()[0]
	x := in.GetContents().GetFp32Contents()
	if raw := r.GetRawInputContents(); len(raw) > 0 {
		if len(raw) != 1 || len(x) > 0 {
			return fail(codes.InvalidArgument, "raw_input_contents: one entry for the one input, and no contents beside it")
		}
		if len(raw[0])%4 != 0 || len(raw[0]) > 4*MaxInferRows*ScorerFeatures {
			return fail(codes.InvalidArgument, "raw_input_contents: %d bytes is not a whole number of FP32 values (or too many)", len(raw[0]))
		}
		x = make([]float32, len(raw[0])/4)
		for i := range x {
			x[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[0][4*i:]))
		}
	}
	rows, err := inferInput(in.GetName(), in.GetDatatype(), in.GetShape(), len(x))
	if err != nil {
		return fail(codes.InvalidArgument, "%v", err)
	}
	scores, err := s.n.infer(rows, x)
	switch {
	case errors.Is(err, errTooManyRows):
		return fail(codes.InvalidArgument, "%v", err)
	case err != nil:
		return fail(codes.Unavailable, "%v", err)
	}
	return &oip.ModelInferResponse{ModelName: ScorerModel, ModelVersion: ScorerVersion, Id: r.GetId(),
		Parameters: map[string]*oip.InferParameter{"node": {ParameterChoice: &oip.InferParameter_Int64Param{Int64Param: int64(s.n.cfg.Index)}}},
		Outputs: []*oip.ModelInferResponse_InferOutputTensor{{Name: scorerOutput, Datatype: "FP32", Shape: []int64{int64(rows), 1},
			Contents: &oip.InferTensorContents{Fp32Contents: scores}}}}, nil
}

// newGRPCServer serves the OIP service and server reflection, for the
// node's HTTP/2 requests of content type application/grpc.
func (n *Node) newGRPCServer() *grpc.Server {
	s := grpc.NewServer(grpc.MaxRecvMsgSize(MaxInferBodyBytes))
	oip.RegisterGRPCInferenceServiceServer(s, oipServer{n: n})
	reflection.Register(s)
	return s
}
