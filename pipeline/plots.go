package pipeline

import (
	"fmt"
	"image/color"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// palette colours the methods of a plot, in order.
var palette = []color.Color{
	color.RGBA{R: 31, G: 119, B: 180, A: 255},
	color.RGBA{R: 214, G: 39, B: 40, A: 255},
	color.RGBA{R: 44, G: 160, B: 44, A: 255},
	color.RGBA{R: 148, G: 103, B: 189, A: 255},
	color.RGBA{R: 127, G: 127, B: 127, A: 255},
	color.RGBA{R: 255, G: 127, B: 14, A: 255},
}

// plots draws the report's PNGs into dir and returns their names: for
// each score, the histograms of the true and the extrapolated scores and
// the scatter of extrapolated against true on the held-out seed samples
// (of the first repetition whose directory holds them: one reported from
// its result.json alone may not); and accuracy against the kept fraction.
func (rep *Report) plots(dir string) ([]string, error) {
	var names []string
	i := slices.IndexFunc(rep.Seeds, func(s SeedReport) bool {
		return exists(filepath.Join(seedDir(dir, s.Seed), holdOutFile(s.Embedding+"_"+rep.Config.Scores[0])))
	})
	if i >= 0 {
		sdir := seedDir(dir, rep.Seeds[i].Seed)
		for _, m := range rep.Config.Scores {
			truth, pred, err := readHoldOut(filepath.Join(sdir, holdOutFile(rep.Seeds[i].Embedding+"_"+m)))
			if err != nil {
				return nil, err
			}
			hist := "scores_" + m + ".png"
			if err := histogramPlot(filepath.Join(dir, hist), m, truth, pred); err != nil {
				return nil, err
			}
			scatter := "scatter_" + m + ".png"
			if err := scatterPlot(filepath.Join(dir, scatter), m, truth, pred); err != nil {
				return nil, err
			}
			names = append(names, hist, scatter)
		}
	}
	if err := rep.accuracyPlot(filepath.Join(dir, "accuracy.png")); err != nil {
		return nil, err
	}
	return append(names, "accuracy.png"), nil
}

// histogramPlot overlays the histograms of the true and the extrapolated
// scores of the held-out samples.
func histogramPlot(path, method string, truth, pred []float32) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s scores of held-out seed samples", method)
	p.X.Label.Text = method
	p.Y.Label.Text = "density"
	lo, hi := slices.Min(truth), slices.Max(truth)
	lo, hi = min(lo, slices.Min(pred)), max(hi, slices.Max(pred))
	for i, v := range [][]float32{truth, pred} {
		h, err := plotter.NewHist(values(v), 30)
		if err != nil {
			return err
		}
		h.Normalize(1)
		h.FillColor = nil
		h.LineStyle.Color = palette[i]
		h.LineStyle.Width = vg.Points(1.5)
		p.Add(h)
		p.Legend.Add([]string{"true", "extrapolated (kNN)"}[i], h)
	}
	if hi > lo {
		p.X.Min, p.X.Max = float64(lo), float64(hi)
	}
	p.Legend.Top = true
	return p.Save(6*vg.Inch, 4*vg.Inch, path)
}

// scatterPlot draws extrapolated against true scores, with the diagonal.
func scatterPlot(path, method string, truth, pred []float32) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: extrapolated against true (held-out seed samples)", method)
	p.X.Label.Text = "true " + method
	p.Y.Label.Text = "extrapolated " + method
	pts := make(plotter.XYs, len(truth))
	for i := range truth {
		pts[i] = plotter.XY{X: float64(truth[i]), Y: float64(pred[i])}
	}
	s, err := plotter.NewScatter(pts)
	if err != nil {
		return err
	}
	s.GlyphStyle.Radius = vg.Points(1.2)
	s.GlyphStyle.Color = palette[0]
	s.GlyphStyle.Shape = draw.CircleGlyph{}
	p.Add(s)
	lo := float64(min(slices.Min(truth), slices.Min(pred)))
	hi := float64(max(slices.Max(truth), slices.Max(pred)))
	diag, err := plotter.NewLine(plotter.XYs{{X: lo, Y: lo}, {X: hi, Y: hi}})
	if err != nil {
		return err
	}
	diag.LineStyle.Color = palette[4]
	diag.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(diag)
	return p.Save(5*vg.Inch, 5*vg.Inch, path)
}

// accuracyPlot draws robust (PGD, filled) and clean (rings, dashed)
// accuracy against the kept fraction, one colour per method; the full
// pool's two accuracies are horizontal reference lines.
func (rep *Report) accuracyPlot(path string) error {
	c := rep.Config
	p := plot.New()
	p.Title.Text = fmt.Sprintf("accuracy against kept fraction (filled: PGD-%d, rings: clean)", c.EvalSteps)
	p.X.Label.Text = "kept fraction of the pool"
	p.Y.Label.Text = "accuracy (%)"
	methods := append(slices.Clone(c.Scores), "random")
	ps := slices.Clone(c.Prune)
	slices.Sort(ps)
	for i, m := range methods {
		var clean, robust plotter.XYs
		for _, pr := range ps {
			r, ok := rep.Runs[runName(m, pr)]
			if !ok || r.Clean.N == 0 {
				continue
			}
			clean = append(clean, plotter.XY{X: 1 - pr, Y: 100 * r.Clean.Mean})
			robust = append(robust, plotter.XY{X: 1 - pr, Y: 100 * r.PGD.Mean})
		}
		if len(clean) == 0 {
			continue
		}
		col := palette[i%len(palette)]
		for k, xy := range []plotter.XYs{robust, clean} {
			l, pt, err := plotter.NewLinePoints(xy)
			if err != nil {
				return err
			}
			l.Color, pt.Color, pt.Radius = col, col, vg.Points(4)
			pt.Shape = draw.CircleGlyph{}
			if k == 1 {
				l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
				pt.Shape = draw.RingGlyph{}
			}
			p.Add(l, pt)
			if k == 0 {
				p.Legend.Add(m, l, pt)
			}
		}
	}
	lo := 1 - ps[len(ps)-1]
	if r, ok := rep.Runs["full"]; ok && r.Clean.N > 0 {
		for k, y := range []float64{100 * r.PGD.Mean, 100 * r.Clean.Mean} {
			l, err := plotter.NewLine(plotter.XYs{{X: lo - 0.1, Y: y}, {X: 1.05, Y: y}})
			if err != nil {
				return err
			}
			l.Color, l.Width = color.Black, vg.Points(1)
			if k == 1 {
				l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			}
			p.Add(l)
			if k == 0 {
				p.Legend.Add("full pool (same steps)", l)
			}
		}
	}
	p.X.Min, p.X.Max = lo-0.1, 1.05
	p.Legend.Left, p.Legend.Top = false, false
	p.Add(plotter.NewGrid())
	return p.Save(6*vg.Inch, 4*vg.Inch, path)
}

// values converts v for gonum/plot.
func values(v []float32) plotter.Values {
	out := make(plotter.Values, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}
