package attack

import (
	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/bestbefore/bestbefore/pkg/traffic"
)

// Groups assigns each request to an endpoint group: one of the endpoints
// named (traffic.Endpoint), or the group of all others, numbered
// len(Names). A step keeps one set of figures per group, so memory grows
// with the number of groups, never with the requests.
type Groups struct {
	Names []string
	idx   map[string]uint16
}

// NewGroups groups requests by the endpoints named, at most
// traffic.MaxEndpoints of them.
func NewGroups(names []string) *Groups {
	if len(names) > traffic.MaxEndpoints {
		names = names[:traffic.MaxEndpoints]
	}
	g := &Groups{Names: names, idx: make(map[string]uint16, len(names))}
	for i, n := range names {
		g.idx[n] = uint16(i)
	}
	return g
}

// Of returns the group of req.
func (g *Groups) Of(req *traffic.Request) uint16 {
	if i, ok := g.idx[traffic.Endpoint(req)]; ok {
		return i
	}
	return uint16(len(g.Names))
}

// name is the name of group i.
func (g *Groups) name(i int) string {
	if i < len(g.Names) {
		return g.Names[i]
	}
	return traffic.OtherEndpoint
}

// EndpointStats is what one step measured of one endpoint group, by the
// same rules as the step's own figures: requests due in the measured
// window, latency from the intended send time.
type EndpointStats struct {
	Name     string
	Requests int64
	Errors   int64
	Latency  *hdrhistogram.Histogram
}
