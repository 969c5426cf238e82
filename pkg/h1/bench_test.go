package h1_test

import (
	"net/http"
	"testing"

	"github.com/bestbefore/bestbefore/pkg/h1"
)

// benchResponse is a typical small JSON answer.
const benchResponse = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Wed, 25 Nov 2026 14:03:07 GMT\r\n" +
	"Content-Length: 27\r\n\r\n{\"items\":[1,2,3],\"ok\":true}"

func benchRequest() []byte {
	return rawRequest("GET", "127.0.0.1", "/v1/predict?q=wireless+mouse&k=5",
		http.Header{"Accept": {"application/json"}, "User-Agent": {"bestbefore"}}, nil)
}

func benchDoer(b *testing.B, d h1.Doer) {
	raw := benchRequest()
	var resp h1.Response
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := d.Do(raw, deadline(), false, &resp); err != nil {
			b.Fatal(err)
		}
	}
}

func benchDoerParallel(b *testing.B, d h1.Doer) {
	raw := benchRequest()
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var resp h1.Response
		for pb.Next() {
			if err := d.Do(raw, deadline(), false, &resp); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkDo is the lean client against the cheapest possible server,
// in this process, one request at a time.
func BenchmarkDo(b *testing.B) {
	c := h1.NewClient(newFixedServer(b, benchResponse), h1.Options{})
	defer c.CloseIdle()
	benchDoer(b, c)
}

// BenchmarkStdDo is the same through net/http.
func BenchmarkStdDo(b *testing.B) {
	s, err := h1.NewStd("http://"+newFixedServer(b, benchResponse), h1.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.CloseIdle()
	benchDoer(b, s)
}

func BenchmarkDoParallel(b *testing.B) {
	c := h1.NewClient(newFixedServer(b, benchResponse), h1.Options{})
	defer c.CloseIdle()
	benchDoerParallel(b, c)
}

func BenchmarkStdDoParallel(b *testing.B) {
	s, err := h1.NewStd("http://"+newFixedServer(b, benchResponse), h1.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.CloseIdle()
	benchDoerParallel(b, s)
}
