package traffic_test

import (
	"fmt"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/traffic"
)

func TestEndpoint(t *testing.T) {
	for _, c := range []struct{ method, path, want string }{
		{"", "/v1/predict", "GET /v1/predict"},
		{"POST", "/v1/predict", "POST /v1/predict"},
		{"GET", "/v1/items/42", "GET /v1/items/{id}"},
		{"GET", "/v1/items/42/reviews/7", "GET /v1/items/{id}/reviews/{id}"},
		{"GET", "/v1/users/3f2504e0-4f89-11d3-9a0c-0305e82c3301", "GET /v1/users/{id}"},
		{"GET", "/blobs/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "GET /blobs/{id}"},
		{"GET", "/orders/507f1f77bcf86cd799439011", "GET /orders/{id}"},
		{"GET", "/v2/models/resnet50/infer", "GET /v2/models/resnet50/infer"},
		{"GET", "/api/v1/health", "GET /api/v1/health"},
		{"GET", "/search?q=shoes&page=2", "GET /search?page={}&q={}"},
		{"GET", "/search?page=9&q=hats", "GET /search?page={}&q={}"},
		{"GET", "/search?tag=a&tag=b", "GET /search?tag={}"},
		{"GET", "/", "GET /"},
		{"GET", "/sessions/AbCdEf0123456789XyZ0123456", "GET /sessions/{id}"},
		{"GET", "/docs/getting-started", "GET /docs/getting-started"},
		{"DELETE", "/carts/cafe", "DELETE /carts/cafe"},
	} {
		if got := traffic.Endpoint(&traffic.Request{Method: c.method, Path: c.path}); got != c.want {
			t.Errorf("Endpoint(%s %s) = %q, want %q", c.method, c.path, got, c.want)
		}
	}
}

// The counter keeps the most frequent endpoints whatever the number of
// distinct ones.
func TestEndpointCounter(t *testing.T) {
	c := traffic.NewEndpointCounter()
	for i := 0; i < 30000; i++ {
		c.Add(&traffic.Request{Path: fmt.Sprintf("/v1/items/%d", i)})    // 30,000
		c.Add(&traffic.Request{Path: fmt.Sprintf("/route%d/x", i%5000)}) // 5,000 endpoints of 6
		if i%3 == 0 {
			c.Add(&traffic.Request{Method: "POST", Path: fmt.Sprintf("/v1/users/%d/orders", i)}) // 10,000
		}
	}
	top := c.Top(2)
	if len(top) != 2 || top[0].Name != "GET /v1/items/{id}" || top[0].Count != 30000 || top[1].Name != "POST /v1/users/{id}/orders" {
		t.Errorf("top endpoints %+v", top)
	}
}
