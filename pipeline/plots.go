package pipeline

import (
	"fmt"
	"image/color"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/bulwark-ml/bulwark/prune"
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
	color.RGBA{R: 140, G: 86, B: 75, A: 255},
	color.RGBA{R: 227, G: 119, B: 194, A: 255},
	color.RGBA{R: 188, G: 189, B: 34, A: 255},
	color.RGBA{R: 23, G: 190, B: 207, A: 255},
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
	names = append(names, "accuracy.png")
	if ok, err := rep.pairedPlot(filepath.Join(dir, "paired.png")); err != nil {
		return nil, err
	} else if ok {
		names = append(names, "paired.png")
	}
	if err := rep.curvePlot(filepath.Join(dir, "curves.png")); err != nil {
		return nil, err
	}
	return append(names, "curves.png"), nil
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

// armOf splits a run name into its arm and prune ratio.
func armOf(name string) (arm string, ratio float64, ok bool) {
	a, p, ok := strings.Cut(name, "_p")
	if !ok {
		return name, 0, false
	}
	r, err := strconv.ParseFloat(p, 64)
	return a, r, err == nil
}

// arms lists the report's arms (run names without the ratio) in order.
func (rep *Report) armNames() []string {
	var out []string
	for _, name := range rep.Config.runNames() {
		if a, _, ok := armOf(name); ok && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// robust returns the robust accuracy the plots show, with its name: the
// worst case over the evaluation's attacks when APGD ran, else PGD's.
func (rep *Report) robust() (func(RunSummary) Stat, func(Paired) Stat, string) {
	if rep.Config.APGDSteps > 0 {
		return func(r RunSummary) Stat { return r.Worst }, func(p Paired) Stat { return p.Worst },
			fmt.Sprintf("worst case of PGD-%d, APGD-CE and APGD-DLR", rep.Config.EvalSteps)
	}
	return func(r RunSummary) Stat { return r.PGD }, func(p Paired) Stat { return p.PGD }, fmt.Sprintf("PGD-%d", rep.Config.EvalSteps)
}

// translucent is col at the given opacity (0-255), for bands that must
// not hide what lies under them.
func translucent(col color.Color, alpha uint8) color.Color {
	n := color.NRGBAModel.Convert(col).(color.NRGBA)
	n.A = alpha
	return n
}

// dodge is the horizontal offset of the i-th of n series at one x, so that
// their points and error bars do not cover each other.
func dodge(i, n int, width float64) float64 {
	if n < 2 {
		return 0
	}
	return width * (float64(i)/float64(n-1) - 0.5)
}

// accuracyPlot draws robust accuracy against the kept fraction of the
// pool, one colour per arm, each with the translucent band of its 95%
// interval over the seeds (where there are several), and the full pool's
// and the base set's as horizontal reference lines.
func (rep *Report) accuracyPlot(path string) error {
	c := rep.Config
	of, _, what := rep.robust()
	p := plot.New()
	p.Title.Text = fmt.Sprintf("robust accuracy (%s) against the kept fraction\nbands: 95%% intervals over the seeds", what)
	p.X.Label.Text = "kept fraction of the pool"
	p.Y.Label.Text = "robust accuracy (%)"
	ps := slices.Clone(c.Prune)
	slices.Sort(ps)
	arms := rep.armNames()
	for i, a := range arms {
		var line, lo, hi plotter.XYs
		for _, pr := range ps {
			r, ok := rep.Runs[runName(a, pr)]
			if !ok || of(r).N == 0 {
				continue
			}
			x, st := 1-pr+dodge(i, len(arms), 0.02), of(r)
			line = append(line, plotter.XY{X: x, Y: 100 * st.Mean})
			if st.N > 1 {
				lo = append(lo, plotter.XY{X: x, Y: 100 * st.Lo})
				hi = append(hi, plotter.XY{X: x, Y: 100 * st.Hi})
			}
		}
		if len(line) == 0 {
			continue
		}
		col := palette[i%len(palette)]
		if len(lo) > 1 {
			slices.Reverse(hi)
			band, err := plotter.NewPolygon(append(lo, hi...))
			if err != nil {
				return err
			}
			band.Color, band.LineStyle.Width = translucent(col, 40), 0
			p.Add(band)
		}
		l, pt, err := plotter.NewLinePoints(line)
		if err != nil {
			return err
		}
		l.Color, l.Width, pt.Color, pt.Radius, pt.Shape = col, vg.Points(1.5), col, vg.Points(3), draw.CircleGlyph{}
		p.Add(l, pt)
		p.Legend.Add(a, l, pt)
	}
	lo := 1 - ps[len(ps)-1]
	for k, ref := range []string{fullRun, baseRun} {
		r, ok := rep.Runs[ref]
		if !ok || of(r).N == 0 {
			continue
		}
		y := 100 * of(r).Mean
		l, err := plotter.NewLine(plotter.XYs{{X: lo - 0.05, Y: y}, {X: 1.05, Y: y}})
		if err != nil {
			return err
		}
		l.Color, l.Width = color.Black, vg.Points(1)
		if k == 1 {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(l)
		p.Legend.Add(map[string]string{fullRun: "full pool", baseRun: "base set alone"}[ref]+" (same steps)", l)
	}
	p.X.Min, p.X.Max = lo-0.05, 1.05
	p.X.Tick.Marker = keptTicks(ps)
	p.Legend.Left, p.Legend.Top = false, true
	p.Add(plotter.NewGrid())
	return p.Save(7*vg.Inch, 4.5*vg.Inch, path)
}

// keptTicks marks the kept fractions of the prune ratios ps, and the
// whole pool.
func keptTicks(ps []float64) plot.ConstantTicks {
	ticks := plot.ConstantTicks{{Value: 1, Label: "1"}}
	for _, p := range ps {
		ticks = append(ticks, plot.Tick{Value: 1 - p, Label: strconv.FormatFloat(1-p, 'g', 4, 64)})
	}
	return ticks
}

// pairedPlot draws, for every arm and kept fraction, the paired
// difference in robust accuracy against random pruning at the same
// fraction, with its 95% interval as an error bar: the comparison a claim
// that a score beats random must clear. It returns false, drawing
// nothing, when no pair has two seeds.
func (rep *Report) pairedPlot(path string) (bool, error) {
	_, of, what := rep.robust()
	p := plot.New()
	p.Title.Text = fmt.Sprintf("robust accuracy minus random pruning's at the same fraction, paired by seed\n"+
		"%s; bars: 95%% intervals", what)
	p.X.Label.Text = "kept fraction of the pool"
	p.Y.Label.Text = "difference (points)"
	arms := slices.DeleteFunc(rep.armNames(), func(a string) bool { return a == string(prune.RuleRandom) })
	drawn := false
	for i, a := range arms {
		var pts plotter.XYs
		var errs plotter.YErrors
		for _, pr := range rep.Paired {
			arm, ratio, ok := armOf(pr.A)
			if !ok || arm != a || pr.B != runName(string(prune.RuleRandom), ratio) || of(pr).N < 2 {
				continue
			}
			st := of(pr)
			pts = append(pts, plotter.XY{X: 1 - ratio + dodge(i, len(arms), 0.03), Y: 100 * st.Mean})
			errs = append(errs, struct{ Low, High float64 }{100 * (st.Mean - st.Lo), 100 * (st.Hi - st.Mean)})
		}
		if len(pts) == 0 {
			continue
		}
		col := palette[i%len(palette)]
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return false, err
		}
		sc.GlyphStyle.Color, sc.GlyphStyle.Radius, sc.GlyphStyle.Shape = col, vg.Points(3), draw.CircleGlyph{}
		bars, err := plotter.NewYErrorBars(struct {
			plotter.XYs
			plotter.YErrors
		}{pts, errs})
		if err != nil {
			return false, err
		}
		bars.Color, bars.Width = col, vg.Points(1.5)
		p.Add(bars, sc)
		p.Legend.Add(a, sc)
		drawn = true
	}
	if !drawn {
		return false, nil
	}
	zero := plotter.NewFunction(func(float64) float64 { return 0 })
	zero.Color, zero.Width = color.Black, vg.Points(1)
	p.Add(zero, plotter.NewGrid())
	p.X.Min, p.X.Max = p.X.Min-0.05, p.X.Max+0.05
	p.X.Tick.Marker = keptTicks(rep.Config.Prune)
	p.Legend.Left, p.Legend.Top = false, false
	return true, p.Save(7*vg.Inch, 4.5*vg.Inch, path)
}

// curvePlot draws every run's validation robust accuracy against its
// training steps (mean over the seeds at each validated step), for the
// runs at the first prune ratio and the references.
func (rep *Report) curvePlot(path string) error {
	c := rep.Config
	p := plot.New()
	p.Title.Text = fmt.Sprintf("validation robust accuracy during training (%g%% of the pool pruned)", 100*c.Prune[0])
	p.X.Label.Text = "training steps"
	p.Y.Label.Text = "validation robust accuracy (%)"
	var names []string
	for _, name := range c.runNames() {
		if _, r, ok := armOf(name); !ok || r == c.Prune[0] {
			names = append(names, name)
		}
	}
	for i, name := range names {
		sum, cnt := map[int]float64{}, map[int]int{}
		for _, s := range rep.Seeds {
			for _, pt := range s.Runs[name].Curve {
				sum[pt.Steps] += pt.Robust
				cnt[pt.Steps]++
			}
		}
		if len(sum) == 0 {
			continue
		}
		steps := slices.Sorted(maps.Keys(sum))
		xy := make(plotter.XYs, len(steps))
		for j, st := range steps {
			xy[j] = plotter.XY{X: float64(st), Y: 100 * sum[st] / float64(cnt[st])}
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return err
		}
		l.Color = palette[i%len(palette)]
		if name == fullRun || name == baseRun {
			l.Color = color.Black
		}
		if name == baseRun || i >= len(palette) && name != fullRun {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(l)
		p.Legend.Add(name, l)
	}
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
