package target_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/bestbefore/bestbefore/internal/testserver"
	"github.com/bestbefore/bestbefore/target"
	"github.com/bestbefore/bestbefore/target/oip"
)

// h2cNode serves a node on loopback with HTTP/1.1 and h2c, as a cluster
// node does.
func h2cNode(t *testing.T, cfg target.Config) (*target.Node, *httptest.Server) {
	t.Helper()
	n, err := target.NewNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(n)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(func() { srv.Close(); n.Close() })
	return n, srv
}

func oipClient(t *testing.T, addr string) oip.GRPCInferenceServiceClient {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return oip.NewGRPCInferenceServiceClient(cc)
}

func row(v float32) []float32 {
	x := make([]float32, target.ScorerFeatures)
	for i := range x {
		x[i] = v
	}
	return x
}

func inferReq(rows int, v float32) *oip.ModelInferRequest {
	var x []float32
	for r := 0; r < rows; r++ {
		x = append(x, row(v)...)
	}
	return &oip.ModelInferRequest{ModelName: "scorer", Id: "r1", Inputs: []*oip.ModelInferRequest_InferInputTensor{{
		Name: "features", Datatype: "FP32", Shape: []int64{int64(rows), target.ScorerFeatures},
		Contents: &oip.InferTensorContents{Fp32Contents: x}}}}
}

// The node answers the Open Inference Protocol over gRPC and REST with
// the same model and the same scores; what is wrong in a request is
// answered with the protocol's own codes.
func TestOIPOverGRPCAndREST(t *testing.T) {
	_, srv := h2cNode(t, target.Config{Workers: 2, Lookup: time.Millisecond, Batch: target.BatchConfig{BatchCost: time.Millisecond, RowCost: 10 * time.Microsecond}})
	c := oipClient(t, strings.TrimPrefix(srv.URL, "http://"))
	ctx := context.Background()
	if r, err := c.ServerLive(ctx, &oip.ServerLiveRequest{}); err != nil || !r.Live {
		t.Fatalf("ServerLive: %v %v", r, err)
	}
	if r, err := c.ModelReady(ctx, &oip.ModelReadyRequest{Name: "scorer"}); err != nil || !r.Ready {
		t.Fatalf("ModelReady: %v %v", r, err)
	}
	meta, err := c.ModelMetadata(ctx, &oip.ModelMetadataRequest{Name: "scorer"})
	if err != nil || meta.Inputs[0].Name != "features" || meta.Inputs[0].Shape[1] != target.ScorerFeatures {
		t.Fatalf("ModelMetadata: %v %v", meta, err)
	}
	resp, err := c.ModelInfer(ctx, inferReq(2, 0.5))
	if err != nil {
		t.Fatal(err)
	}
	scores := resp.Outputs[0].Contents.Fp32Contents
	if resp.Id != "r1" || len(scores) != 2 || scores[0] <= 0 || scores[0] >= 1 || scores[0] != scores[1] {
		t.Fatalf("ModelInfer: %v", resp)
	}
	// Raw contents, little-endian FP32, are the same tensor.
	raw := inferReq(1, 0.5)
	b := make([]byte, 4*target.ScorerFeatures)
	for i := range target.ScorerFeatures {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(0.5))
	}
	raw.Inputs[0].Contents, raw.RawInputContents = nil, [][]byte{b}
	if r, err := c.ModelInfer(ctx, raw); err != nil || r.Outputs[0].Contents.Fp32Contents[0] != scores[0] {
		t.Fatalf("raw contents: %v %v", r, err)
	}
	for name, tc := range map[string]struct {
		req  *oip.ModelInferRequest
		code codes.Code
	}{
		"unknown model": {&oip.ModelInferRequest{ModelName: "ranker"}, codes.NotFound},
		"wrong shape":   {func() *oip.ModelInferRequest { r := inferReq(1, 1); r.Inputs[0].Shape = []int64{1, 3}; return r }(), codes.InvalidArgument},
		"over a batch":  {inferReq(9, 1), codes.InvalidArgument},
	} {
		if _, err := c.ModelInfer(ctx, tc.req); status.Code(err) != tc.code {
			t.Errorf("%s: %v, want %v", name, err, tc.code)
		}
	}

	// REST: the same score for the same row, nested or flat data.
	for _, data := range []string{`[[` + floats(0.5) + `],[` + floats(0.5) + `]]`, `[` + floats(0.5) + `,` + floats(0.5) + `]`} {
		body := `{"id":"x","inputs":[{"name":"features","shape":[2,16],"datatype":"FP32","data":` + data + `}]}`
		res, err := http.Post(srv.URL+"/v2/models/scorer/infer", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			ModelName string `json:"model_name"`
			Outputs   []struct {
				Shape []int64   `json:"shape"`
				Data  []float32 `json:"data"`
			} `json:"outputs"`
		}
		err = json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 || out.ModelName != "scorer" || len(out.Outputs[0].Data) != 2 || out.Outputs[0].Data[0] != scores[0] {
			t.Fatalf("REST infer: %d %+v %v", res.StatusCode, out, err)
		}
	}
	for path, want := range map[string]int{"/v2/health/live": 200, "/v2/health/ready": 200, "/v2": 200, "/v2/models/scorer": 200, "/v2/models/scorer/ready": 200, "/v2/models/ranker": 404} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, res.StatusCode, want)
		}
	}
	res, err := http.Post(srv.URL+"/v2/models/scorer/infer", "application/json", strings.NewReader(`{"inputs":[{"name":"features","shape":[1,16],"datatype":"INT8","data":[1]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 400 {
		t.Errorf("a wrong datatype: %d, want 400", res.StatusCode)
	}
}

func floats(v float64) string {
	s := make([]string, target.ScorerFeatures)
	for i := range s {
		s[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strings.Join(s, ",")
}

// The batcher's capacity is analytic: max batch / (batch cost + row cost
// × max batch). A closed loop of more callers than a batch serves it, in
// full batches; one caller at a time gets batches of one, each after the
// queue delay.
func TestBatcherServesItsAnalyticCapacity(t *testing.T) {
	testserver.Serialize(t) // a capacity measured while other load tests run is theirs too
	bc := target.BatchConfig{MaxBatch: 8, MaxQueueDelay: 2 * time.Millisecond, BatchCost: 4 * time.Millisecond, RowCost: 500 * time.Microsecond}
	want := bc.CapacityQPS() // 8 / 8 ms = 1000
	_, srv := h2cNode(t, target.Config{Batch: bc})
	c := oipClient(t, strings.TrimPrefix(srv.URL, "http://"))
	closed := func(callers int, d time.Duration) (qps float64, p50 time.Duration) {
		var n atomic.Int64
		var mu sync.Mutex
		var lat []time.Duration
		end := time.Now().Add(d)
		var wg sync.WaitGroup
		for range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := inferReq(1, 0.25)
				for time.Now().Before(end) {
					t0 := time.Now()
					if _, err := c.ModelInfer(context.Background(), req); err != nil {
						t.Error(err)
						return
					}
					n.Add(1)
					mu.Lock()
					lat = append(lat, time.Since(t0))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		slices.Sort(lat)
		return float64(n.Load()) / d.Seconds(), lat[len(lat)/2]
	}
	qps, _ := closed(64, 2*time.Second)
	t.Logf("64 callers: %.0f calls/s (analytic %.0f)", qps, want)
	if qps > 1.02*want || qps < 0.85*want {
		t.Errorf("64 callers: %.0f calls/s, want within 85-102%% of %.0f", qps, want)
	}
	_, p50 := closed(1, time.Second)
	// A lone call waits out the queue delay, then a batch of one: 2 + 4.5 ms.
	if lo, hi := 6*time.Millisecond, 12*time.Millisecond; p50 < lo || p50 > hi {
		t.Errorf("one caller: p50 %v, want about 6.5 ms (queue delay + a batch of one)", p50)
	}
	res, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(res.Body)
	res.Body.Close()
	promtool(t, "node with batcher", text)
	for _, m := range []string{"bestbefore_target_batch_size_bucket", "bestbefore_target_batch_queue_seconds_bucket", "bestbefore_target_batch_capacity_qps 1000"} {
		if !strings.Contains(string(text), m) {
			t.Errorf("/metrics has no %s", m)
		}
	}
}

// Through the cluster's balancer, gRPC calls go round robin over the
// nodes, one call at a time, and node loss acts on them as on HTTP
// requests: a killed node leaves the rotation and the calls go on.
func TestClusterServesOIPOverGRPC(t *testing.T) {
	c := startCluster(t, target.ClusterOptions{Nodes: 2, Node: target.Config{Workers: 1, Items: 200, Batch: target.BatchConfig{BatchCost: time.Millisecond, MaxQueueDelay: time.Microsecond}}})
	cl := oipClient(t, strings.TrimPrefix(c.URL(), "http://"))
	nodeOf := func() (int64, error) {
		r, err := cl.ModelInfer(context.Background(), inferReq(1, 0.1))
		if err != nil {
			return -1, err
		}
		return r.Parameters["node"].GetInt64Param(), nil
	}
	seen := map[int64]int{}
	for range 20 {
		n, err := nodeOf()
		if err != nil {
			t.Fatal(err)
		}
		seen[n]++
	}
	if seen[0] != 10 || seen[1] != 10 {
		t.Errorf("20 calls through the balancer: %v, want 10 a node", seen)
	}
	if err := c.Kill(1); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	ok := 0
	for ok < 20 && time.Now().Before(deadline) {
		n, err := nodeOf()
		switch {
		case err != nil:
			ok = 0 // a call may fail while the node leaves the rotation
		case n != 0:
			t.Fatalf("a call answered by the killed node %d", n)
		default:
			ok++
		}
	}
	if ok < 20 {
		t.Fatalf("after the kill, calls did not settle on the surviving node")
	}
	if err := c.Revive(1); err != nil {
		t.Fatal(err)
	}
}
