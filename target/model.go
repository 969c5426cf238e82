package target

import (
	"hash/fnv"
	"math"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/bestbefore/bestbefore/target/catalog"
)

// Model variants. The new ranker adds character-trigram features (it
// finds "wirless mouse") and a wider dense re-ranking, at a higher CPU
// cost per request.
const (
	VariantBaseline  = "ranker-v1"
	VariantNewRanker = "ranker-v2"
)

// candidates is how many ranked items the model keeps per query; it bounds
// k and is what the cache stores.
const candidates = 100

const (
	dimV1      = 32
	dimV2      = 64
	rerankV1   = 200
	rerankV2   = 400
	trigramBuk = 1 << 14
	maxTokens  = 32
)

// Model ranks catalogue items for a free-text query: a TF-IDF lexical
// score over title words (and, for the new ranker, hashed character
// trigrams), a popularity prior, then a dense re-ranking of the best
// lexical candidates by hashed word embeddings. It is trained at start-up
// from the generated catalogue, deterministically.
type Model struct {
	items    []catalog.Item
	vocab    map[string]int32
	postings [][]posting // by term id
	trigrams [][]posting // by trigram bucket
	vecV1    []float32   // len(items) * dimV1
	vecV2    []float32   // len(items) * dimV2
	popular  []int32     // items by popularity, for queries nothing matches
}

type posting struct {
	item int32
	w    float32
}

// Candidate is one ranked item before the per-user adjustment.
type Candidate struct {
	Item  int32
	Score float32
}

// NewModel trains the model over the catalogue.
func NewModel(items []catalog.Item) *Model {
	m := &Model{items: items, vocab: map[string]int32{}, trigrams: make([][]posting, trigramBuk)}
	df := map[string]int{}
	for _, it := range items {
		seen := map[string]bool{}
		for _, t := range it.Tokens {
			if !seen[t] {
				seen[t] = true
				df[t]++
			}
		}
	}
	terms := make([]string, 0, len(df))
	for t := range df {
		terms = append(terms, t)
	}
	sort.Strings(terms)
	for i, t := range terms {
		m.vocab[t] = int32(i)
	}
	m.postings = make([][]posting, len(terms))
	n := float64(len(items))
	m.vecV1 = make([]float32, len(items)*dimV1)
	m.vecV2 = make([]float32, len(items)*dimV2)
	for i, it := range items {
		tf := map[string]int{}
		for _, t := range it.Tokens {
			tf[t]++
		}
		norm := 0.0
		ws := map[string]float64{}
		for t, c := range tf {
			w := float64(c) * math.Log(1+n/float64(df[t]))
			ws[t] = w
			norm += w * w
		}
		norm = math.Sqrt(norm)
		for _, t := range sortedKeys(ws) {
			id := m.vocab[t]
			m.postings[id] = append(m.postings[id], posting{int32(i), float32(ws[t] / norm)})
		}
		tri := map[int]float32{}
		for _, t := range it.Tokens {
			for _, b := range trigramsOf(t) {
				tri[b]++
			}
		}
		tn := float32(0)
		for _, c := range tri {
			tn += c * c
		}
		tn = float32(math.Sqrt(float64(tn)))
		for _, b := range sortedIntKeys(tri) {
			m.trigrams[b] = append(m.trigrams[b], posting{int32(i), tri[b] / tn})
		}
		embed(m.vecV1[i*dimV1:(i+1)*dimV1], it.Tokens)
		embed(m.vecV2[i*dimV2:(i+1)*dimV2], it.Tokens)
	}
	m.popular = make([]int32, len(items))
	for i := range m.popular {
		m.popular[i] = int32(i)
	}
	sort.SliceStable(m.popular, func(a, b int) bool {
		return items[m.popular[a]].Popularity > items[m.popular[b]].Popularity
	})
	return m
}

// Items returns the catalogue the model ranks.
func (m *Model) Items() []catalog.Item { return m.items }

// Tokenize lower-cases a query and splits it into words (letters and
// digits), keeping at most 32.
func Tokenize(q string) []string {
	f := strings.FieldsFunc(strings.ToLower(q), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	if len(f) > maxTokens {
		f = f[:maxTokens]
	}
	return f
}

// Rank returns the best candidates for the query's tokens, best first.
// Its cost grows with the number of query words and the postings they hit.
func (m *Model) Rank(tokens []string, variant string) []Candidate {
	v2 := variant == VariantNewRanker
	scores := make([]float32, len(m.items)) // one dense array per request, on purpose
	qn := float32(1 / math.Sqrt(float64(max(1, len(tokens)))))
	for _, t := range tokens {
		id, ok := m.vocab[t]
		if !ok {
			continue
		}
		for _, p := range m.postings[id] {
			scores[p.item] += qn * p.w
		}
	}
	if v2 {
		tri := map[int]float32{}
		for _, t := range tokens {
			for _, b := range trigramsOf(t) {
				tri[b]++
			}
		}
		tn := float32(0)
		for _, c := range tri {
			tn += c * c
		}
		if tn > 0 {
			tn = float32(math.Sqrt(float64(tn)))
			for _, b := range sortedIntKeys(tri) { // fixed order: same query, same floats
				c := tri[b]
				for _, p := range m.trigrams[b] {
					scores[p.item] += 0.5 * c / tn * p.w
				}
			}
		}
	}
	cands := make([]Candidate, 0, 256)
	for i, s := range scores {
		if s > 0 {
			cands = append(cands, Candidate{int32(i), s + 0.05*float32(m.items[i].Popularity)})
		}
	}
	if len(cands) == 0 {
		for _, i := range m.popular[:min(candidates, len(m.popular))] {
			cands = append(cands, Candidate{i, 0.05 * float32(m.items[i].Popularity)})
		}
	}
	sortCandidates(cands)
	// Dense re-ranking of the lexical head.
	dim, vecs, head := dimV1, m.vecV1, rerankV1
	if v2 {
		dim, vecs, head = dimV2, m.vecV2, rerankV2
	}
	q := make([]float32, dim)
	embed(q, tokens)
	if len(cands) > head {
		cands = cands[:head]
	}
	for j := range cands {
		v := vecs[int(cands[j].Item)*dim : (int(cands[j].Item)+1)*dim]
		dot := float32(0)
		for d := range q {
			dot += q[d] * v[d]
		}
		cands[j].Score += 0.3 * dot
	}
	sortCandidates(cands)
	if len(cands) > candidates {
		cands = cands[:candidates]
	}
	return append([]Candidate(nil), cands...)
}

func sortCandidates(c []Candidate) {
	sort.Slice(c, func(a, b int) bool {
		if c[a].Score != c[b].Score {
			return c[a].Score > c[b].Score
		}
		return c[a].Item < c[b].Item
	})
}

// embed writes the normalized sum of the words' hashed vectors into v.
func embed(v []float32, tokens []string) {
	for i := range v {
		v[i] = 0
	}
	for _, t := range tokens {
		h := hash64(t)
		for d := range v {
			h = splitmix(h)
			v[d] += float32(int64(h>>11))/float32(1<<52) - 1
		}
	}
	n := float32(0)
	for _, x := range v {
		n += x * x
	}
	if n > 0 {
		n = float32(1 / math.Sqrt(float64(n)))
		for d := range v {
			v[d] *= n
		}
	}
}

// trigramsOf returns the hashed character trigrams of a word padded with
// spaces, so short words still yield features.
func trigramsOf(t string) []int {
	s := " " + t + " "
	if !utf8.ValidString(s) {
		return nil
	}
	r := []rune(s)
	var out []int
	for i := 0; i+3 <= len(r); i++ {
		out = append(out, int(hash64(string(r[i:i+3]))%trigramBuk))
	}
	return out
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// affinity is a user's deterministic taste for a category, in [0, 1).
func affinity(user, category string) float32 {
	if user == "" {
		return 0
	}
	return float32(splitmix(hash64(user+"\x00"+category))>>40) / float32(1<<24)
}

func sortedKeys(m map[string]float64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedIntKeys(m map[int]float32) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}
