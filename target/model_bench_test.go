package target_test

import (
	"testing"

	"github.com/bestbefore/bestbefore/target"
	"github.com/bestbefore/bestbefore/target/catalog"
)

func BenchmarkRank(b *testing.B) {
	m := target.NewModel(catalog.Generate(target.DefaultItems, 0))
	for _, v := range []string{target.VariantBaseline, target.VariantNewRanker} {
		for _, q := range []string{"mouse", "wireless ergonomic mouse pro", "acme black usb c fast charger kit for travel"} {
			b.Run(v+"/"+q, func(b *testing.B) {
				toks := target.Tokenize(q)
				b.ReportAllocs()
				for b.Loop() {
					m.Rank(toks, v)
				}
			})
		}
	}
}

func BenchmarkNewModel(b *testing.B) {
	items := catalog.Generate(target.DefaultItems, 0)
	for b.Loop() {
		target.NewModel(items)
	}
}
