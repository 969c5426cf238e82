// Package catalog generates the product catalogue the bundled prediction
// service ranks, and holds the words it is made of, so synthesized traffic
// asks for things the catalogue holds. Everything is seeded: the same seed
// gives the same catalogue on every machine.
package catalog

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// Product is a kind of thing sold, with the category it belongs to.
type Product struct {
	Noun     string
	Category string
}

// Brands, Adjectives, Products and Modifiers are the words item titles and
// queries are built from.
var (
	Brands = []string{
		"acme", "zenith", "nordlys", "kestrel", "orbit", "lumen", "vantage", "halcyon",
		"pioneer", "quartz", "ridge", "summit", "tundra", "vertex", "willow", "yarrow",
		"bolt", "cinder", "delta", "ember", "fjord", "granite", "harbor", "iris",
		"juniper", "kodiak", "lyra", "maple", "nimbus", "onyx",
	}
	Adjectives = []string{
		"wireless", "bluetooth", "ergonomic", "portable", "waterproof", "rechargeable",
		"compact", "lightweight", "heavy", "duty", "noise", "cancelling", "mechanical",
		"silent", "smart", "digital", "analog", "stainless", "steel", "wooden", "leather",
		"cotton", "organic", "vintage", "modern", "foldable", "adjustable", "magnetic",
		"usb", "fast", "slim", "large", "small", "black", "white", "red", "blue", "green",
		"gaming", "professional", "kids", "travel", "outdoor", "indoor", "led", "solar",
	}
	Products = []Product{
		{"mouse", "computers"}, {"keyboard", "computers"}, {"monitor", "computers"},
		{"laptop", "computers"}, {"webcam", "computers"}, {"hub", "computers"},
		{"charger", "electronics"}, {"cable", "electronics"}, {"headphones", "electronics"},
		{"earbuds", "electronics"}, {"speaker", "electronics"}, {"powerbank", "electronics"},
		{"tablet", "electronics"}, {"phone", "electronics"}, {"watch", "electronics"},
		{"camera", "electronics"}, {"lamp", "home"}, {"chair", "home"}, {"desk", "home"},
		{"pillow", "home"}, {"blanket", "home"}, {"mug", "kitchen"}, {"kettle", "kitchen"},
		{"blender", "kitchen"}, {"pan", "kitchen"}, {"knife", "kitchen"}, {"toaster", "kitchen"},
		{"bottle", "kitchen"}, {"backpack", "travel"}, {"suitcase", "travel"},
		{"jacket", "clothing"}, {"shoes", "clothing"}, {"socks", "clothing"},
		{"hoodie", "clothing"}, {"gloves", "clothing"}, {"tent", "outdoors"},
		{"flashlight", "outdoors"}, {"bicycle", "outdoors"}, {"helmet", "outdoors"},
		{"drill", "tools"}, {"screwdriver", "tools"}, {"hammer", "tools"}, {"saw", "tools"},
		{"ball", "toys"}, {"puzzle", "toys"}, {"robot", "toys"}, {"drone", "toys"},
		{"notebook", "office"}, {"pen", "office"}, {"stapler", "office"},
	}
	Modifiers = []string{"pro", "mini", "max", "lite", "plus", "xl", "kit", "set", "2", "3", "air", "ultra"}
)

// Item is one product in the catalogue.
type Item struct {
	ID       string
	Title    string
	Brand    string
	Category string
	// Tokens are the lower-case words of the title.
	Tokens []string
	// Popularity is a prior in (0, 1], Zipf-shaped over the catalogue.
	Popularity float64
}

// Generate returns n items made from the word lists, reproducible for a
// given seed.
func Generate(n int, seed uint64) []Item {
	rng := rand.New(rand.NewPCG(seed, 0xca7a1096))
	items := make([]Item, n)
	for i := range items {
		p := Products[rng.IntN(len(Products))]
		words := []string{Brands[rng.IntN(len(Brands))]}
		nAdj := 1 + rng.IntN(3)
		seen := map[string]bool{}
		for j := 0; j < nAdj; j++ {
			a := Adjectives[rng.IntN(len(Adjectives))]
			if !seen[a] {
				seen[a] = true
				words = append(words, a)
			}
		}
		words = append(words, p.Noun)
		if rng.IntN(3) == 0 {
			words = append(words, Modifiers[rng.IntN(len(Modifiers))])
		}
		items[i] = Item{
			ID:       fmt.Sprintf("item-%05d", i),
			Title:    strings.Join(words, " "),
			Brand:    words[0],
			Category: p.Category,
			Tokens:   words,
		}
	}
	// Popularity: a Zipf prior over a seeded permutation of the items.
	perm := rng.Perm(n)
	for rank, i := range perm {
		items[i].Popularity = 1 / math.Pow(float64(rank+1), 0.8)
	}
	return items
}
