package report

// css is the whole style sheet of report.html: system fonts, a light and a
// dark theme, and a layout that reflows from a phone to a wide screen.
const css = `
:root{--fg:#111827;--muted:#6b7280;--bg:#fff;--card:#f3f4f6;--line:#e5e7eb;--good:#15803d;--bad:#b91c1c}
@media (prefers-color-scheme:dark){:root{--fg:#e5e7eb;--muted:#9ca3af;--bg:#111827;--card:#1f2937;--line:#374151;--good:#4ade80;--bad:#f87171}}
*{box-sizing:border-box}
body{margin:0;padding:1rem;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);max-width:1400px;margin-inline:auto}
h1{font-size:1.5rem;margin:.2rem 0 .6rem}h2{font-size:1.2rem;margin:1.6rem 0 .6rem;border-bottom:1px solid var(--line);padding-bottom:.2rem}
.headline{font-size:1.05rem;margin:.3rem 0 1rem}.headline.none{color:var(--bad);font-weight:600}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:.6rem}
.card{background:var(--card);border-radius:8px;padding:.6rem .8rem;display:flex;flex-direction:column}
.card span{font-size:.8rem;color:var(--muted)}.card strong{font-size:1.15rem;overflow-wrap:anywhere}
.card.good strong{color:var(--good)}.card.bad strong{color:var(--bad)}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,560px),1fr));gap:1rem}
figure.chart{margin:0;background:var(--card);border-radius:8px;padding:.5rem}
figure.chart figcaption{font-weight:600;font-size:.95rem;margin:.2rem .3rem}
figure.chart svg{width:100%;height:auto;display:block;color:var(--fg)}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:.88rem;font-variant-numeric:tabular-nums}
th,td{padding:.3rem .55rem;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
td.n{text-align:right}
table.steps{font-size:.8rem}table.steps th{white-space:normal;vertical-align:bottom}table.steps th,table.steps td{padding:.25rem .3rem}
td.sample{white-space:normal;overflow-wrap:anywhere;min-width:12rem}
table.steps td.wrap{white-space:normal;min-width:4.5rem}
table.objectives th{white-space:normal;vertical-align:bottom}table.objectives td:first-child{white-space:normal;min-width:9rem}
tr.fail td{color:var(--bad)}tr.best td{font-weight:700;background:var(--card)}
td.pass{color:var(--good)}td.fail{color:var(--bad)}
.note,footer{color:var(--muted);font-size:.85rem}
details{margin-top:1.6rem}summary{cursor:pointer;font-weight:600}
pre{background:var(--card);padding:.6rem;border-radius:6px;overflow-x:auto}
`
